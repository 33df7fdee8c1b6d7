// The cache and server settings of `tabby serve`, made from its config in one place: the
// primary's caches, a single-process server and every worker's mirrors and server use them.

import { ConfigError } from '../config/errors.js';
import { compressionsFor } from '../config/fields.js';
import type { ServeConfig } from '../config/serve-config.js';
import { serverTlsOptions } from '../config/tls-config.js';
import type { Logger } from '../model/logger.js';
import type { SyncerType } from '../model/types.js';
import { DEFAULT_SERVER_OPTIONS, FRAME_OVERHEAD_BYTES, type ServerOptions } from '../server/server.js';
import { TlsConfigError, TlsMaterial } from '../server/tls.js';
import { type CacheOptions, DEFAULT_CACHE_OPTIONS } from '../snapcache/options.js';

/** What no flag sets (minDeflateBytes) is the cache's own default. */
export function cacheOptions(cfg: ServeConfig, syncer: SyncerType, log: Logger): CacheOptions {
  return {
    ...DEFAULT_CACHE_OPTIONS,
    syncer,
    maxBatchSize: cfg.maxBatchSize,
    maxBatchDelayMs: cfg.maxBatchDelayMs,
    maxHistoryBytes: cfg.maxHistoryBytes,
    maxHistoryAgeMs: cfg.maxHistoryAgeMs,
    snapshotReuseMs: cfg.snapshotReuseMs,
    maxFrameBodyBytes: cfg.maxFrameBodyBytes,
    mergedDeltaCacheBytes: Math.max(1 << 20, cfg.maxHistoryBytes / 4),
    log: log.child({ component: 'cache', syncer }),
  };
}

/** Which of the replica's socket-owning processes a server is: slot of workers. */
export interface ProcessShare {
  readonly workers: number;
  readonly slot: number;
}

const ONE_PROCESS: ProcessShare = { workers: 1, slot: 0 };

/**
 * Slot's part of a replica-wide budget: the parts of all slots add up to `total` exactly (the
 * first `total % workers` slots take one more), so the replica never holds more than it was
 * configured for. `0` (unlimited) stays unlimited; a positive budget gives every slot at least 1.
 */
export function shareOf(total: number, { workers, slot }: ProcessShare): number {
  if (total === 0) return 0;
  return Math.max(1, Math.floor(total / workers) + (slot < total % workers ? 1 : 0));
}

/**
 * `workers` processes share the replica's limits: each takes its exact part of them
 * (shareOf), so the replica as a whole holds at most --max-connections.
 */
export function serverOptions(cfg: ServeConfig, serverId: string, share = ONE_PROCESS): ServerOptions {
  return {
    ...DEFAULT_SERVER_OPTIONS,
    serverId,
    maxConnections: shareOf(cfg.maxConnections, share),
    maxPendingHandshakes: shareOf(cfg.maxPendingHandshakes, share),
    handshakeTimeoutMs: cfg.handshakeTimeoutMs,
    pingIntervalMs: cfg.pingIntervalMs,
    pongTimeoutMs: cfg.pongTimeoutMs,
    writeTimeoutMs: cfg.writeTimeoutMs,
    maxQueuedBytes: cfg.maxQueuedBytes,
    clientPingBurst: cfg.clientPingBurst,
    clientPingRefillMs: cfg.clientPingRefillMs,
    maxFallBehindMs: cfg.maxFallBehindMs,
    newClientGraceMs: cfg.newClientGraceMs,
    compressions: compressionsFor(cfg.compression),
    maxOutboundFrameBytes: cfg.maxFrameBodyBytes + FRAME_OVERHEAD_BYTES,
    listenBacklog: cfg.listenBacklog,
    fanoutSliceMs: cfg.fanoutSliceMs,
    rebalanceIntervalMs: cfg.rebalanceIntervalMs,
    rebalanceMaxPerInterval: cfg.rebalanceMaxPerInterval,
    rebalanceSlack: cfg.rebalanceSlack,
    rebalanceRetryAfterMs: cfg.rebalanceRetryAfterMs,
    notReadyRetryAfterMs: cfg.notReadyRetryAfterMs,
    // Admission is per process: each worker takes its part of the replica's budget.
    maxSnapshotsInFlight: shareOf(cfg.maxSnapshotsInFlight, share),
    snapshotBytesPerSecond: shareOf(cfg.snapshotBytesPerSecond, share),
  };
}

/** The TLS files, loaded and checked (a problem is the user's: ConfigError). */
export function loadTls(cfg: ServeConfig): TlsMaterial | undefined {
  const o = serverTlsOptions(cfg);
  if (!o) return undefined;
  try {
    return new TlsMaterial(o);
  } catch (err) {
    if (err instanceof TlsConfigError) throw new ConfigError(`--tls-*: ${err.message}`);
    throw err;
  }
}
