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

/**
 * `workers` processes share the connection limits: each takes its part of them (rounded up),
 * so the replica as a whole holds about --max-connections. What no flag sets (tick, linger,
 * handshake grace, inbound frame limit) is the server's own default.
 */
export function serverOptions(cfg: ServeConfig, serverId: string, workers = 1): ServerOptions {
  return {
    ...DEFAULT_SERVER_OPTIONS,
    serverId,
    maxConnections: Math.ceil(cfg.maxConnections / workers),
    maxPendingHandshakes: Math.ceil(cfg.maxPendingHandshakes / workers),
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
    maxSnapshotsInFlight: Math.ceil(cfg.maxSnapshotsInFlight / workers),
    snapshotBytesPerSecond: Math.ceil(cfg.snapshotBytesPerSecond / workers),
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
