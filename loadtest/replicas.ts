// Tabby replicas for the load test: real `tabby serve` processes on the kubernetes datastore,
// watching the API emulator, on ports chosen once so that a restarted replica comes back where
// agents look for it. Started and stopped with deadlines; a rolling restart is stop, start,
// wait for /readyz, one replica at a time.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Scenario } from '../src/config/loadtest-config.js';

/** How to run `tabby`: node flags and the entry script (sources through tsx, or dist). */
export interface TabbyEntry {
  execArgv: string[];
  main: string;
}

export const SOURCE_ENTRY: TabbyEntry = {
  execArgv: ['--import', 'tsx'],
  main: fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The serve flags a scenario's `server:` section asks for; checked against `serve --help`. */
export function serverFlags(s: Scenario['server'], help: string): string[] {
  const flags: string[] = [];
  const want = (flag: string, value: string | undefined, what: string) => {
    if (!help.includes(flag))
      throw new Error(`scenario asks for ${what}, but this tabby serve has no ${flag} flag yet`);
    flags.push(flag, ...(value === undefined ? [] : [value]));
  };
  if (s.workers !== undefined) want('--workers', String(s.workers), `workers: ${s.workers}`);
  // Unset means one process (as the ceiling gets), not serve's own default of every core.
  else if (help.includes('--workers')) flags.push('--workers', '1');
  if (s.compression !== undefined) want('--compression', s.compression, `compression: ${s.compression}`);
  if (s.tls) want('--tls', undefined, 'tls: true');
  return [...flags, ...s.extraArgs];
}

export async function serveHelp(entry: TabbyEntry): Promise<string> {
  const p = spawn(process.execPath, [...entry.execArgv, entry.main, 'serve', '--help'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  p.stdout!.on('data', (d) => {
    out += d;
  });
  await once(p, 'exit');
  return out;
}

export class Replica {
  proc: ChildProcess | undefined;
  private tail: string[] = [];

  constructor(
    readonly index: number,
    readonly port: number,
    readonly healthPort: number,
    private readonly args: string[],
    private readonly entry: TabbyEntry,
  ) {}

  get pid(): number | undefined {
    return this.proc?.exitCode === null ? this.proc.pid : undefined;
  }

  async start(deadlineMs: number): Promise<void> {
    const argv = [
      ...this.entry.execArgv,
      this.entry.main,
      'serve',
      ...['--listen', `127.0.0.1:${this.port}`, '--health-listen', `127.0.0.1:${this.healthPort}`],
      ...['--server-id', `replica-${this.index}`],
      ...this.args,
    ];
    const p = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    const keep = (d: Buffer) => {
      this.tail.push(...d.toString().split('\n').filter(Boolean));
      this.tail = this.tail.slice(-5);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      if (p.exitCode !== null) throw new Error(`replica ${this.index} exited: ${this.tail.join(' | ')}`);
      if (await this.ready()) return;
      await sleep(100);
    }
    throw new Error(`replica ${this.index} not ready in ${deadlineMs} ms: ${this.tail.join(' | ')}`);
  }

  private async ready(): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.healthPort}/readyz`, {
        signal: AbortSignal.timeout(1_000),
      });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** SIGTERM (the replica drains its clients), then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = once(p, 'exit');
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }

  killNow(): void {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

export async function startReplicas(
  n: number,
  args: string[],
  entry: TabbyEntry,
  deadlineMs: number,
): Promise<Replica[]> {
  const replicas: Replica[] = [];
  for (let i = 0; i < n; i++) replicas.push(new Replica(i, await freePort(), await freePort(), args, entry));
  await Promise.all(replicas.map((r) => r.start(deadlineMs)));
  return replicas;
}
