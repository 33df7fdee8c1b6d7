// Settings of a syncer's snapshot cache and their defaults, kept here once: `tabby serve`'s
// config reads its defaults from this table.

import type { Logger } from '../model/logger.js';
import type { SyncerType } from '../model/types.js';

export interface CacheOptions {
  syncer: SyncerType;
  /** A batch becomes a generation once it holds this many keys... */
  maxBatchSize: number;
  /**
   * ...or once this long has passed since the last batch was taken: at most one generation per
   * window, and an update after a quiet spell goes out at once (cache.ts scheduleFlush).
   */
  maxBatchDelayMs: number;
  /** Retained history (for catch-up and resume) is bounded by bytes and by age. */
  maxHistoryBytes: number;
  maxHistoryAgeMs: number;
  /** A built snapshot is reused for new clients this long (they catch up with deltas). */
  snapshotReuseMs: number;
  maxFrameBodyBytes: number;
  minDeflateBytes: number;
  /** Bytes of merged-delta frames kept for clients at the same position. */
  mergedDeltaCacheBytes: number;
  /** The stream's epoch; a mirror takes its primary's, so resume works on every worker. */
  epoch?: string;
  now?: () => number;
  log?: Logger;
}

/** What every cache of `tabby serve` uses unless told otherwise (its syncer and logger are its own). */
export const DEFAULT_CACHE_OPTIONS = {
  maxBatchSize: 1_000,
  maxBatchDelayMs: 10,
  maxHistoryBytes: 64 << 20,
  maxHistoryAgeMs: 300_000,
  snapshotReuseMs: 1_000,
  maxFrameBodyBytes: 1 << 20,
  minDeflateBytes: 1_024,
} satisfies Partial<CacheOptions>;
