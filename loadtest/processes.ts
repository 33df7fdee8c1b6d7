// The bench's child processes: the server process and the client workers, started with
// deadlines, tracked in one set so that nothing outlives the bench, and stopped politely
// first (close, SIGTERM) and by force after a grace period.

import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Child } from './ipc.js';
import type { SnapshotInfo } from './server-side.js';
import type { Settings } from './settings.js';

export type { Settings };

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

/** Every child ever started, so that the bench can kill them whatever happens. */
export const children = new Set<Child>();

function spawn(name: string, script: string, execArgv: string[] = []): Child {
  const c = new Child(name, here(script), execArgv);
  children.add(c);
  c.proc.once('exit', () => children.delete(c));
  return c;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

/** Size of the snapshot the last server built (every scenario's server holds the same state). */
export let lastSnapshot: SnapshotInfo | undefined;

export async function startServer(
  s: Settings,
): Promise<{ server: Child; port: number; snapshot: SnapshotInfo }> {
  const server = spawn('server', './server-process.ts', ['--expose-gc', '--max-old-space-size=8192']);
  await withTimeout(server.ready, 30_000, 'server process start');
  const init = await server.request<{ port: number; snapshot: SnapshotInfo }>(
    'init',
    {
      keys: s.keys,
      podsPerNode: 40,
      seed: 1,
      minDeflateBytes: s.minDeflateBytes,
      maxConnections: 19_000,
      listenBacklog: s.listenBacklog,
    },
    120_000,
  );
  lastSnapshot = init.snapshot;
  return { server, port: init.port, snapshot: init.snapshot };
}

export interface Workers {
  lean: Child[];
  /** Full SyncClients in a process of their own: their decoding must not stall lean clients. */
  verifier: Child | undefined;
  all: Child[];
}

export async function startWorkers(clients: number, s: Settings): Promise<Workers> {
  const count = s.workers > 0 ? s.workers : Math.min(4, Math.max(1, Math.ceil(clients / s.clientsPerWorker)));
  const lean = Array.from({ length: Math.max(1, Math.min(count, clients)) }, (_, i) =>
    spawn(`worker-${i}`, './client-worker.ts', ['--max-old-space-size=4096']),
  );
  const verifier = s.verifiers > 0 ? spawn('verifier', './client-worker.ts') : undefined;
  const all = verifier ? [...lean, verifier] : lean;
  await withTimeout(Promise.all(all.map((w) => w.ready)), 30_000, `starting ${all.length} workers`);
  // Clients yield the CPU to the server: the figures should show the server's limits.
  if (s.clientNice > 0) for (const w of all) if (w.proc.pid) setPriority(w.proc.pid, s.clientNice);
  return { lean, verifier, all };
}

export async function stopAll(list: Child[]): Promise<void> {
  await Promise.all(list.map((c) => c.request('close', {}, 15_000).catch(() => {})));
  await Promise.all(list.map((c) => c.stop()));
}
