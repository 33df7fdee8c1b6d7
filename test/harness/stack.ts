// A real server on loopback fed by in-memory caches, for fv tests.
import { afterEach } from 'vitest';

import { type Logger, silentLogger } from '../../src/model/logger.js';
import type { KV, SyncerType } from '../../src/model/types.js';
import {
  DEFAULT_SERVER_OPTIONS,
  type NodeReportSink,
  type ServerOptions,
  SyncServer,
} from '../../src/server/server.js';
import type { TlsMaterial } from '../../src/server/tls.js';
import { type CacheOptions, SnapshotCache } from '../../src/snapcache/cache.js';
import { SyncerRouter } from '../../src/snapcache/router.js';

export const TEST_CACHE_OPTIONS: Omit<CacheOptions, 'syncer'> = {
  maxBatchSize: 500,
  maxBatchDelayMs: 5,
  maxHistoryBytes: 8 << 20,
  maxHistoryAgeMs: 60_000,
  snapshotReuseMs: 200,
  maxFrameBodyBytes: 64 << 10,
  minDeflateBytes: 1024,
  mergedDeltaCacheBytes: 4 << 20,
};

export interface Stack {
  caches: Map<SyncerType, SnapshotCache>;
  router: SyncerRouter;
  server: SyncServer;
  address: string;
  stop(): Promise<void>;
}

export async function startStack(
  opts: {
    cache?: Partial<CacheOptions>;
    server?: Partial<ServerOptions>;
    port?: number;
    /** Accept agents' REPORTs and record them here (e.g. the datastore)... */
    reportSink?: NodeReportSink;
    log?: Logger;
    /** ...also from unauthenticated connections (all of them on plain TCP), trusting HELLO's hostname. */
    insecureAcceptUnauthenticatedReports?: boolean;
    /** Serve mutual TLS with this material. */
    tls?: TlsMaterial;
  } = {},
): Promise<Stack> {
  const caches = new Map<SyncerType, SnapshotCache>(
    (['felix', 'bgp'] as const).map((s) => [
      s,
      new SnapshotCache({ ...TEST_CACHE_OPTIONS, ...opts.cache, syncer: s }),
    ]),
  );
  const router = new SyncerRouter([...caches.values()]);
  const server = new SyncServer(
    [...caches.values()],
    { ...DEFAULT_SERVER_OPTIONS, serverId: 'test', tickMs: 100, ...opts.server },
    opts.log ?? silentLogger,
    opts.reportSink
      ? {
          sink: opts.reportSink,
          policy: { insecureAcceptUnauthenticated: opts.insecureAcceptUnauthenticatedReports ?? false },
        }
      : undefined,
  );
  const { port } = await server.listen('127.0.0.1', opts.port ?? 0, opts.tls);
  return {
    caches,
    router,
    server,
    address: `127.0.0.1:${port}`,
    async stop() {
      await server.destroy();
      for (const c of caches.values()) c.close();
    },
  };
}

/** Polls until `cond` is true or fails after `ms`. */
export async function waitFor(cond: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The authoritative state of a syncer, as a Map, built from the updates a source sent. */
export function applyAll(state: Map<string, unknown>, kvs: readonly KV[]): void {
  for (const { key, value } of kvs) {
    if (value === null) state.delete(key);
    else state.set(key, value);
  }
}

/** A stack slot and cleanups, torn down after each test of the file that calls this at top level. */
export function perTestStack(): {
  stack: Stack | undefined;
  cleanup: Array<() => unknown>;
  /** Makes `s` the test's stack (stopped after the test) and returns it. */
  own(s: Promise<Stack>): Promise<Stack>;
  /** Stops `c` after the test, before the stack. */
  track<C extends { stop(): Promise<void> }>(c: C): C;
} {
  const t: ReturnType<typeof perTestStack> = {
    stack: undefined,
    cleanup: [],
    async own(s) {
      t.stack = await s;
      return t.stack;
    },
    track(c) {
      t.cleanup.push(() => c.stop());
      return c;
    },
  };
  afterEach(async () => {
    for (const f of t.cleanup.splice(0)) await f();
    await t.stack?.stop();
    t.stack = undefined;
  });
  return t;
}
