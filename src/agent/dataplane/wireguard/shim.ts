// The only way the WireGuard dataplane reaches the OS: run a command to completion, or start
// a long-lived one (wireguard-go). Tests and the agent's dry-run replace it; `netns` runs
// everything inside a network namespace (the fv tests' "nodes").

import { type ChildProcess, execFile, spawn } from 'node:child_process';

export interface ShimResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface WireguardShim {
  /** Runs one command; rejects on a non-zero exit with the command line and stderr. */
  run(cmd: string, args: readonly string[], stdin?: string): Promise<ShimResult>;
  /** Starts a long-lived command; its stdout/stderr are handed to `onOutput` line by line. */
  spawn(cmd: string, args: readonly string[], onOutput: (line: string) => void): ChildProcess;
}

export interface ExecShimOptions {
  /** Run every command as `ip netns exec <netns> ...`. */
  readonly netns?: string;
  readonly timeoutMs?: number;
}

export function execShim(options: ExecShimOptions = {}): WireguardShim {
  const argv = (cmd: string, args: readonly string[]): [string, string[]] =>
    options.netns === undefined ? [cmd, [...args]] : ['ip', ['netns', 'exec', options.netns, cmd, ...args]];
  return {
    run(cmd, args, stdin) {
      const [file, list] = argv(cmd, args);
      return new Promise((resolve, reject) => {
        const child = execFile(
          file,
          list,
          { timeout: options.timeoutMs ?? 10_000, encoding: 'utf8', maxBuffer: 64 << 20 },
          (err, stdout, stderr) => {
            if (err)
              reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`, { cause: err }));
            else resolve({ stdout, stderr });
          },
        );
        child.stdin?.on('error', () => undefined);
        child.stdin?.end(stdin);
      });
    },
    spawn(cmd, args, onOutput) {
      // `ip netns exec` execs the command, so the child's pid is the daemon's own.
      const [file, list] = argv(cmd, args);
      const child = spawn(file, list, { stdio: ['ignore', 'pipe', 'pipe'] });
      let rest = '';
      const lines = (chunk: Buffer) => {
        const text = rest + chunk.toString('utf8');
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        for (const p of parts) if (p.trim() !== '') onOutput(p);
      };
      child.stdout?.on('data', lines);
      child.stderr?.on('data', lines);
      return child;
    },
  };
}
