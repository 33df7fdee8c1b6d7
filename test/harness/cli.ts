// Runs the real `tabby` command (TypeScript sources through tsx) as a child process.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export interface TabbyOptions {
  /**
   * Run inside this network namespace (`ip netns exec NS node …`). `ip netns exec` execs node,
   * so the child's pid is tabby's own and signals reach it directly.
   */
  netns?: string;
  /** Run this built entry point (dist/cli/main.js) with plain node instead of the sources. */
  entry?: string;
  cwd?: string;
}

export function tabby(args: string[], opts: TabbyOptions = {}): ChildProcess {
  const argv = opts.entry
    ? [process.execPath, opts.entry, ...args]
    : [process.execPath, '--import', 'tsx', MAIN, ...args];
  const [file, ...rest] = opts.netns === undefined ? argv : ['ip', 'netns', 'exec', opts.netns, ...argv];
  // One process per replica unless a test asks for workers (--workers): the tests were written
  // for it, and three tsx processes per replica start slowly on a loaded machine.
  const env = { ...process.env, TABBY_WORKERS: process.env['TABBY_WORKERS'] ?? '1' };
  return spawn(file!, rest, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env });
}

export async function run(
  args: string[],
  timeoutMs = 30_000,
  opts: TabbyOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = tabby(args, opts);
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d) => {
    stdout += d;
  });
  p.stderr!.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(p, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/**
 * Starts `tabby serve` on ephemeral ports and resolves with its addresses once it listens;
 * with keepLines, `lines` collects every stdout line, before and after that.
 */
export async function serve(
  args: string[],
  opts: TabbyOptions & { keepLines?: boolean; startTimeoutMs?: number } = {},
): Promise<{ proc: ChildProcess; sync: string; health: string; lines: string[] }> {
  const proc = tabby(['serve', '--listen', '127.0.0.1:0', '--health-listen', '127.0.0.1:0', ...args], opts);
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  const lines = createInterface({ input: proc.stdout! });
  let sync = '';
  let health = '';
  const kept: string[] = [];
  const deadline = setTimeout(() => proc.kill('SIGKILL'), opts.startTimeoutMs ?? 20_000);
  for await (const line of lines) {
    if (opts.keepLines) kept.push(line);
    const rec = JSON.parse(line) as { msg?: string; address?: string };
    if (rec.msg === 'sync server listening') sync = rec.address!;
    if (rec.msg === 'health and metrics listening') health = rec.address!;
    if (rec.msg === 'datastore started') break;
  }
  clearTimeout(deadline);
  if (!sync || !health) throw new Error(`tabby serve did not start: ${stderr}`);
  lines.on('line', (line) => {
    if (opts.keepLines) kept.push(line);
  }); // keep draining stdout
  return { proc, sync, health, lines: kept };
}

/** `tabby serve` flags for a still simulated cluster of this shape (tests derive the same objects). */
export const simArgs = (sim: { seed: number; nodes: number; pods: number }): string[] => [
  '--sim-seed',
  String(sim.seed),
  '--sim-nodes',
  String(sim.nodes),
  '--sim-pods',
  String(sim.pods),
  '--sim-churn-per-sec',
  '0',
];
