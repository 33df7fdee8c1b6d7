// Request/response over the Node IPC channel between the bench and its children (the
// server process and the client workers). Every request has a deadline, so a stuck or dead
// child turns into a clear error instead of a hung bench; a child whose parent goes away
// exits, so a crashed bench leaves no processes behind.

import { type ChildProcess, fork } from 'node:child_process';

interface Envelope {
  id: number;
  cmd: string;
  args?: unknown;
}
interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** Parent side: one child process and its pending requests. */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  readonly proc: ChildProcess;
  /** Resolves once the child has registered its handlers (messages sent earlier could be lost). */
  readonly ready: Promise<void>;
  exited = false;

  constructor(
    readonly name: string,
    script: string,
    execArgv: string[],
    args: string[] = [],
  ) {
    this.proc = fork(script, args, { execArgv: ['--import', 'tsx', ...execArgv], stdio: 'inherit' });
    let markReady: () => void = () => {};
    let failStart: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    this.ready.catch(() => {}); // reported through whoever awaits it
    this.proc.on('message', (m: Reply) => {
      if (m.id === 0) {
        markReady();
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${this.name}: ${m.error}`));
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = true;
      const err = new Error(`${this.name} exited (code ${code}, signal ${signal})`);
      failStart(err);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
    });
  }

  request<T>(cmd: string, args: unknown, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited; cannot run ${cmd}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: "${cmd}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, cmd, args } satisfies Envelope);
    });
  }

  /** Asks nicely, then kills: a child must never outlive the bench. */
  async stop(graceMs = 2_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }

  /** Synchronous last resort (process 'exit' handlers cannot wait). */
  killNow(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

export type Handler = (args: never) => unknown;

/** Child side: runs handlers for commands; exits when the parent disconnects. */
export function serveCommands(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error('this script runs as a child of loadtest/bench.ts');
  process.on('message', async (m: Envelope) => {
    let reply: Reply;
    try {
      const h = handlers[m.cmd];
      if (!h) throw new Error(`unknown command ${m.cmd}`);
      reply = { id: m.id, ok: true, result: await h(m.args as never) };
    } catch (err) {
      reply = { id: m.id, ok: false, error: (err as Error).stack ?? String(err) };
    }
    process.send!(reply);
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.send({ id: 0, ok: true, result: 'ready' } satisfies Reply);
}
