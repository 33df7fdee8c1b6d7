// The server half of the bench: a felix SnapshotCache and a SyncServer assembled as
// `tabby serve` assembles them (same defaults), loaded with a synthetic felix state, and a
// publisher that feeds paced batches of changes through the router like a datastore would.

import type { Logger } from '../src/model/logger.js';
import { DEFAULT_SERVER_OPTIONS, SyncServer } from '../src/server/server.js';
import { type CacheOptions, SnapshotCache } from '../src/snapcache/cache.js';
import { encodeSnapshot } from '../src/snapcache/frames.js';
import { DEFAULT_CACHE_OPTIONS } from '../src/snapcache/options.js';
import { SyncerRouter } from '../src/snapcache/router.js';
import { makeWorkload, type Workload, type WorkloadOptions } from './workload.js';

/**
 * The cache defaults of `tabby serve` (src/snapcache/options.ts). The bench passes its own
 * minDeflateBytes (`serve` uses 1 KiB): its default (bench.ts --min-deflate-bytes) leaves deltas
 * raw, as Typha does (it compresses snapshots only), because inflating (~23 µs per 10-key delta,
 * ~0.5 ms per merged one) per client in the worker processes would make the clients, not the
 * server, the bottleneck. Snapshot chunks are compressed whatever it says.
 */
export const BENCH_CACHE_OPTIONS: Omit<CacheOptions, 'syncer'> = {
  ...DEFAULT_CACHE_OPTIONS,
  // What `serve` keeps for its 64 MiB of history (cli/serve-options.ts).
  mergedDeltaCacheBytes: 16 << 20,
};

export interface BenchServerOptions extends WorkloadOptions {
  minDeflateBytes: number;
  /** Above the 10,000 default so that 10,000 load clients plus verifiers fit. */
  maxConnections: number;
  /** Accept queue length (SyncServer's listenBacklog). */
  listenBacklog: number;
}

export interface SnapshotInfo {
  keys: number;
  rawBytes: number;
  deflateBytes: number;
  deflateFrames: number;
  /** Time to encode + compress the deflate snapshot once (shared by every client). */
  deflateBuildMs: number;
}

export interface PublishResult {
  generations: number;
  firstSentAtMs: number;
  lastSentAtMs: number;
  headGeneration: number;
  /** How late the publisher ran against its schedule (busy event loop = the server's fault). */
  publishLagMaxMs: number;
  publishLagMeanMs: number;
}

const wallNow = (): number => performance.timeOrigin + performance.now();

export class BenchServer {
  readonly cache: SnapshotCache;
  readonly router: SyncerRouter;
  readonly server: SyncServer;
  private readonly workload: Workload;
  /** Changes published so far (key i of the workload changes at publish i / keysPerGen). */
  private changesPublished = 0;

  constructor(
    private readonly opts: BenchServerOptions,
    log: Logger,
  ) {
    this.workload = makeWorkload(opts);
    this.cache = new SnapshotCache({
      ...BENCH_CACHE_OPTIONS,
      minDeflateBytes: opts.minDeflateBytes,
      syncer: 'felix',
    });
    this.router = new SyncerRouter([this.cache]);
    this.server = new SyncServer(
      [this.cache],
      {
        ...DEFAULT_SERVER_OPTIONS,
        serverId: 'bench',
        maxConnections: opts.maxConnections,
        // A storm of lean clients connects at once: give every one a handshake slot.
        maxPendingHandshakes: opts.maxConnections,
        listenBacklog: opts.listenBacklog,
      },
      log,
    );
  }

  /** Loads the initial state (in batches, as a datastore's initial list arrives) and goes in-sync. */
  load(): void {
    const n = this.workload.keys.length;
    for (let i = 0; i < n; i += 1_000) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 1_000); j++) batch.push(this.workload.initial(j));
      this.router.onUpdates(batch);
    }
    this.router.onStatus('in-sync');
  }

  /** Builds the shared snapshot now so that client figures measure delivery, and sizes it. */
  prepareSnapshot(): SnapshotInfo {
    const t0 = performance.now();
    const snap = this.cache.snapshot('deflate');
    const deflateBuildMs = performance.now() - t0;
    // The raw size is encoded off to the side, so no uncompressed copy stays in the cache.
    const entries = [...this.cache.entries()].map(([, e]) => e);
    const raw = encodeSnapshot(this.cache.epoch, this.cache.headGeneration, this.cache.stateHash, entries, {
      compression: 'none',
      maxFrameBodyBytes: BENCH_CACHE_OPTIONS.maxFrameBodyBytes,
      minDeflateBytes: this.opts.minDeflateBytes,
    });
    return {
      keys: this.cache.keyCount,
      rawBytes: raw.bytes,
      deflateBytes: snap.bytes,
      deflateFrames: snap.frames.length,
      deflateBuildMs,
    };
  }

  /**
   * Publishes `generations` batches of `keysPerGen` changed keys at `ratePerSec`. Each change
   * carries its *scheduled* time, so a publisher delayed by a busy server still charges the
   * delay to the latency (no coordinated omission). Every batch is flushed as one generation.
   */
  publish(generations: number, keysPerGen: number, ratePerSec: number): Promise<PublishResult> {
    const keys = this.workload.keys.length;
    const t0 = wallNow() + 20;
    const intervalMs = 1_000 / ratePerSec;
    let done = 0;
    let lagMax = 0;
    let lagSum = 0;
    return new Promise((resolve) => {
      const step = () => {
        const now = wallNow();
        while (done < generations && t0 + done * intervalMs <= now) {
          const sentAt = t0 + done * intervalMs;
          const kvs = [];
          for (let k = 0; k < keysPerGen; k++) {
            const c = this.changesPublished++;
            kvs.push(this.workload.changed(c % keys, Math.floor(c / keys), sentAt));
          }
          this.router.onUpdates(kvs);
          this.cache.flush();
          const lag = wallNow() - sentAt;
          lagMax = Math.max(lagMax, lag);
          lagSum += lag;
          done++;
        }
        if (done < generations) {
          setTimeout(step, Math.max(0, t0 + done * intervalMs - wallNow()));
          return;
        }
        resolve({
          generations,
          firstSentAtMs: t0,
          lastSentAtMs: t0 + (generations - 1) * intervalMs,
          headGeneration: this.cache.headGeneration,
          publishLagMaxMs: lagMax,
          publishLagMeanMs: lagSum / Math.max(1, generations),
        });
      };
      setTimeout(step, 20);
    });
  }

  /** Listens on 127.0.0.1 and returns the port clients should dial. */
  async listen(): Promise<number> {
    const { port } = await this.server.listen('127.0.0.1', 0); // also starts the server's timer
    return port;
  }

  async close(): Promise<void> {
    await this.server.destroy();
    this.cache.close();
  }
}
