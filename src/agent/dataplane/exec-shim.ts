// The one way dataplane drivers run commands: execFile without a shell, stdin fed or
// closed, stderr in the error. Tests replace the Shim; `netns` runs every command inside a
// network namespace (lab nodes in the e2e tests).

import { execFile } from 'node:child_process';

export interface ShimResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one command; rejects on a non-zero exit with an Error whose message includes stderr. */
export interface Shim {
  run(cmd: string, args: readonly string[], stdin?: string): Promise<ShimResult>;
}

export interface ExecShimOptions {
  /** Run every command as `ip netns exec <netns> ...` (tests). */
  readonly netns?: string;
  readonly timeoutMs?: number;
}

/** `cmd args` as execFile arguments, wrapped in `ip netns exec` when asked. */
export function commandLine(
  options: ExecShimOptions,
  cmd: string,
  args: readonly string[],
): [string, string[]] {
  return options.netns === undefined
    ? [cmd, [...args]]
    : ['ip', ['netns', 'exec', options.netns, cmd, ...args]];
}

/** The real shim: execFile, no shell. */
export function execShim(options: ExecShimOptions = {}): Shim {
  return {
    run(cmd, args, stdin) {
      const [file, argv] = commandLine(options, cmd, args);
      return new Promise((resolve, reject) => {
        const child = execFile(
          file,
          argv,
          { timeout: options.timeoutMs ?? 10_000, encoding: 'utf8', maxBuffer: 64 << 20 },
          (err, stdout, stderr) => {
            if (err)
              reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`, { cause: err }));
            else resolve({ stdout, stderr });
          },
        );
        // A command that exits without reading stdin gives EPIPE: its exit status tells the story.
        child.stdin?.on('error', () => undefined);
        if (stdin === undefined) child.stdin?.end();
        else child.stdin?.end(stdin);
      });
    },
  };
}
