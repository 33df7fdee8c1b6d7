// The only way the WireGuard dataplane reaches the OS: run a command to completion, or start
// a long-lived one (wireguard-go). Tests and the agent's dry-run replace it; `netns` runs
// everything inside a network namespace (the fv tests' "nodes").

import { type ChildProcess, spawn } from 'node:child_process';
import { execShim as baseShim, commandLine, type ExecShimOptions, type Shim } from '../exec-shim.js';

export type { ExecShimOptions, ShimResult } from '../exec-shim.js';

export interface WireguardShim extends Shim {
  /** Starts a long-lived command; its stdout/stderr are handed to `onOutput` line by line. */
  spawn(cmd: string, args: readonly string[], onOutput: (line: string) => void): ChildProcess;
}

export function execShim(options: ExecShimOptions = {}): WireguardShim {
  const argv = (cmd: string, args: readonly string[]) => commandLine(options, cmd, args);
  return {
    ...baseShim(options),
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
