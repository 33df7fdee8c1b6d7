// How a `tabby` process ends: the one place that turns a failure into what the user sees
// (one line and exit 2 for their errors, one line and exit 1 for an operation that could not
// be done, a stack trace only for a bug) and that exits only once stdout and stderr are
// written out: stdout to a pipe is asynchronous, and process.exit() drops what is queued.

import { CommanderError } from 'commander';
import { ConfigError } from '../config/errors.js';
import { ErrorCode } from '../errors/codes.js';
import { TabbyError } from '../errors/tabby-error.js';

/** An operation failed for a reason outside the program (server unreachable, not in sync): exit 1. */
export class CommandFailed extends TabbyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Command, message, options);
  }
}

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}

let exiting = false;

/** Exits with `code` once stdout and stderr are flushed (waits for a slow reader, as any tool would). */
export async function exitAfterFlush(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  process.exitCode = code;
  await flushed(process.stdout);
  await flushed(process.stderr);
  process.exit(code);
}

/**
 * A reader that closes its end of stdout (`tabby sync --once --dump | head -3`) has read all
 * it wants: a normal end, exit 0 without a word. Any other stdout error is a failure.
 */
export function endQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    exitOnFailure(err);
  });
}

/** What the user is told about `err` and the exit code; undefined for a bug (stack trace). */
export function describeFailure(err: unknown): { message: string; exitCode: number } | undefined {
  if (err instanceof ConfigError) return { message: err.message, exitCode: 2 };
  if (err instanceof CommandFailed) return { message: err.message, exitCode: 1 };
  return undefined;
}

export function exitOnFailure(err: unknown): void {
  // Commander has printed its own message (unknown option, missing value; help and version
  // end here too with exit code 0). A usage error is the user's: exit 2.
  if (err instanceof CommanderError) {
    void exitAfterFlush(err.exitCode === 0 ? 0 : 2);
    return;
  }
  const known = describeFailure(err);
  process.stderr.write(`tabby: ${known?.message ?? (err as Error)?.stack ?? String(err)}\n`);
  void exitAfterFlush(known?.exitCode ?? 1);
}
