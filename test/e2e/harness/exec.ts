// Runs system commands for the e2e harness: no shell, a timeout, captured output, and one typed
// error that carries the command line and stderr so a failed `ip`/`iptables` call explains itself.

import { execFile, execFileSync } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Written to the command's stdin (e.g. an iptables-restore or nft file). */
  input?: string;
}

export const DEFAULT_EXEC_TIMEOUT_MS = 10_000;

/** A command failed (non-zero exit, timeout, or could not start). */
export class ExecError extends Error {
  readonly code = 'TABBY_ERR_E2E_EXEC';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    const why = exitCode === null ? 'did not complete' : `exited ${exitCode}`;
    super(`\`${command}\` ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`, options);
    this.name = 'ExecError';
  }
}

/** Quotes only what needs it, so error messages can be pasted into a shell. */
export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(' ');
}

export function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const line = commandLine(cmd, args);
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ stdout, stderr });
          return;
        }
        const status = typeof err.code === 'number' ? err.code : null;
        const extra = err.killed
          ? ' (killed: timeout)'
          : typeof err.code === 'string'
            ? ` (${err.code})`
            : '';
        reject(new ExecError(line, status, stdout, `${stderr}${extra}`, { cause: err }));
      },
    );
    if (opts.input !== undefined) {
      // EPIPE if the command exits without reading: its exit status tells the real story.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input);
    }
  });
}

/** `ip netns exec NS cmd args…` */
export function inNetns(
  ns: string,
  cmd: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  return exec('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/**
 * Synchronous variant for process-exit cleanup, where nothing asynchronous can run.
 * Never throws: cleanup of one thing must not stop cleanup of the rest.
 */
export function execSyncQuiet(cmd: string, args: readonly string[], timeoutMs = 5_000): string | undefined {
  try {
    return execFileSync(cmd, args, {
      timeout: timeoutMs,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch {
    return undefined;
  }
}
