// The snapshot cache of one syncer: batches incoming KVs into immutable generations, keeps
// the current state as pre-encoded entries, a byte- and age-bounded window of recent
// generations for catch-up and resume, and the encoded snapshot and merged-delta frames
// that every client shares. Only the head's full state is kept: a snapshot is only ever
// served at (or just behind) the head, so older full states would be dead weight.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../model/logger.js';
import { silentLogger } from '../model/logger.js';
import { entryDigest, StateHash } from '../model/state-hash.js';
import type { KV, SyncerType, SyncStatus } from '../model/types.js';
import { encodeKV } from '../protocol/codec.js';
import type { Compression } from '../protocol/messages.js';
import { encodeDelta, encodeSnapshot, type Frames } from './frames.js';
import { Generation } from './generation.js';
import type { CacheOptions } from './options.js';
import { RecentHashes } from './recent-hashes.js';

export type { CacheOptions } from './options.js';

/** A mirror's entries carry no digest: its state hash is the primary's, never recomputed. */
const NO_DIGEST = Buffer.alloc(0);

interface Entry {
  encoded: Buffer;
  digest: Buffer;
}

export interface EncodedSnapshot extends Frames {
  readonly generation: number;
  readonly builtAtMs: number;
}

export class SnapshotCache extends EventEmitter<{ advance: [Generation] }> {
  readonly epoch: string;
  readonly syncer: SyncerType;
  private readonly opts: Required<Omit<CacheOptions, 'log' | 'epoch'>>;
  private readonly log: Logger;
  private readonly state = new Map<string, Entry>();
  private readonly hash = new StateHash();
  private readonly history: Generation[] = [];
  /**
   * State hash → the latest retained generation with that state: a client of another replica
   * (another epoch) that holds the same state resumes from there (PROTOCOL.md §14.3).
   */
  private readonly byHash = new Map<string, number>();
  private historyBytes = 0;
  private pending = new Map<string, KV>();
  private pendingStatus: SyncStatus | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  /** When the last batch was taken (flush), for the leading edge of the batch window. */
  private lastFlushMs = Number.NEGATIVE_INFINITY;
  private readonly snapshots = new Map<Compression, EncodedSnapshot>();
  private readonly merged: LRUCache<string, Frames>;
  /** Hashes of the last generations, beyond the catch-up window: for judging ACKs (§13). */
  private readonly hashes = new RecentHashes();
  /** Counters read by the metrics collector. */
  readonly stats = {
    updatesIn: 0,
    updatesSkipped: 0,
    /**
     * Values too large for one frame or that cannot be hashed or encoded, replaced by a
     * deletion (as Typha's validation filter does).
     */
    valuesRejected: 0,
    snapshotsBuilt: 0,
    snapshotsReused: 0,
    mergedBuilt: 0,
  };

  constructor(opts: CacheOptions) {
    super();
    for (const k of ['maxBatchSize', 'maxHistoryBytes', 'maxFrameBodyBytes'] as const) {
      if (!(opts[k] > 0)) throw new RangeError(`cache option ${k} must be positive`);
    }
    const { log, epoch, ...rest } = opts;
    this.epoch = epoch ?? randomBytes(8).toString('hex');
    this.opts = { now: Date.now, ...rest };
    this.log = log ?? silentLogger;
    this.syncer = opts.syncer;
    this.merged = new LRUCache<string, Frames>({
      maxSize: Math.max(1, opts.mergedDeltaCacheBytes),
      sizeCalculation: (f) => Math.max(1, f.bytes),
    });
    this.retain(new Generation(0, this.opts.now(), 'wait-for-datastore', this.hash.hex(), new Map()));
  }

  private retain(gen: Generation): void {
    this.history.push(gen);
    this.historyBytes += gen.bytes;
    this.byHash.set(gen.hash, gen.generation);
    this.hashes.record(gen.generation, gen.hash);
  }

  // ---- input ------------------------------------------------------------------------------

  apply(kvs: readonly KV[]): void {
    for (const kv of kvs) {
      this.pending.set(kv.key, kv);
      if (this.pending.size >= this.opts.maxBatchSize) this.flush();
    }
    if (this.pending.size > 0) this.scheduleFlush();
  }

  setStatus(status: SyncStatus): void {
    this.pendingStatus = status;
    this.flush(); // status ends a batch, so "in-sync" is never published before its data.
  }

  /** Publishes what is pending as one generation (no-op when nothing changed). */
  flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    this.lastFlushMs = this.opts.now();
    const batch = this.pending;
    this.pending = new Map();
    const changes = new Map<string, Buffer>();
    for (const { key, value } of batch.values()) {
      this.stats.updatesIn++;
      const old = this.state.get(key);
      if (value === null) {
        if (old === undefined) {
          this.stats.updatesSkipped++;
          continue;
        }
        this.state.delete(key);
        this.hash.subtract(old.digest);
        changes.set(key, encodeKV(key, null));
        continue;
      }
      let digest: Buffer;
      let encoded: Buffer;
      try {
        // Both walk the value recursively and throw on what they cannot represent (a stack
        // overflow from nesting, NaN in the hash, a bigint). Caught per value: flush() runs in
        // the batch timer, where a throw would end the process.
        digest = entryDigest(key, value);
        if (old?.digest.equals(digest)) {
          this.stats.updatesSkipped++;
          continue;
        }
        encoded = encodeKV(key, value);
      } catch (err) {
        this.reject(key, changes, 'value cannot be hashed or encoded', { err: (err as Error).message });
        continue;
      }
      if (encoded.length > this.opts.maxFrameBodyBytes) {
        // No frame may exceed the limit clients were promised.
        this.reject(key, changes, 'value too large for one frame', {
          bytes: encoded.length,
          limit: this.opts.maxFrameBodyBytes,
        });
        continue;
      }
      if (old) this.hash.subtract(old.digest);
      this.hash.add(digest);
      this.state.set(key, { encoded, digest });
      changes.set(key, encoded);
    }
    const head = this.head;
    const status = this.pendingStatus ?? head.status;
    this.pendingStatus = undefined;
    if (changes.size === 0 && status === head.status) return;
    const gen = new Generation(head.generation + 1, this.opts.now(), status, this.hash.hex(), changes);
    this.publish(head, gen);
  }

  // ---- mirror input (worker processes: src/server/workers, src/snapcache/mirror.ts) --------

  /** Whether `key` is in the state at the head (a change to a key that is not was a deletion). */
  has(key: string): boolean {
    return this.state.has(key);
  }

  /** The retained generations, oldest first (what a mirror needs for catch-up and resume). */
  retained(): readonly Generation[] {
    return this.history;
  }

  /**
   * Starts a mirror at another cache's position: its retained generations and the encoded
   * entries at their head. Only a cache that has published nothing may be seeded.
   */
  seed(history: readonly Generation[], entries: Iterable<[string, Buffer]>): void {
    if (this.headGeneration !== 0 || this.state.size > 0 || this.pending.size > 0 || history.length === 0)
      throw new Error('only an empty cache can be seeded, with at least one generation');
    this.history.length = 0;
    this.historyBytes = 0;
    this.byHash.clear();
    for (const g of history) this.retain(g);
    for (const [key, encoded] of entries) this.state.set(key, { encoded, digest: NO_DIGEST });
  }

  /**
   * Publishes a generation another cache made (a mirror's only input): the same window,
   * frames and hashes follow from it as from flush(), without encoding or hashing again.
   * `deleted` says which of its changes removed their key.
   */
  adopt(gen: Generation, deleted: ReadonlySet<string>): void {
    const head = this.head;
    if (gen.generation !== head.generation + 1)
      throw new Error(`generation ${gen.generation} does not follow the head ${head.generation}`);
    for (const [key, encoded] of gen.changes) {
      if (deleted.has(key)) this.state.delete(key);
      else this.state.set(key, { encoded, digest: NO_DIGEST });
    }
    this.publish(head, gen);
  }

  private publish(head: Generation, gen: Generation): void {
    // Catch-ups always end at the head, so frames built for the old head are dead from here:
    // dropped now rather than kept, uncounted, for the whole window.
    head.releaseFrames();
    this.merged.clear();
    this.retain(gen);
    this.evict();
    this.emit('advance', gen);
  }

  /**
   * A value that cannot be sent is treated as deleted: the honest signal ("this object is not
   * valid") rather than stale data, as Typha's validation filter does.
   */
  private reject(key: string, changes: Map<string, Buffer>, msg: string, why: object): void {
    this.stats.valuesRejected++;
    this.log.error({ syncer: this.syncer, key, ...why }, `${msg}: treated as deleted`);
    const old = this.state.get(key);
    if (old === undefined) return;
    this.state.delete(key);
    this.hash.subtract(old.digest);
    changes.set(key, encodeKV(key, null));
  }

  /**
   * Batches are at most one per maxBatchDelayMs, but an update after a quiet spell is not held
   * for the window: it goes out on the next turn of the loop, with whatever arrived in the same
   * turn. Under a stream of updates this is the window as before; for the usual sparse churn
   * (one pod event every few ms or less often) it removes the window from the latency.
   */
  private scheduleFlush(): void {
    const wait = Math.max(0, this.lastFlushMs + this.opts.maxBatchDelayMs - this.opts.now());
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, wait);
  }

  private evict(): void {
    const oldestAllowed = this.opts.now() - this.opts.maxHistoryAgeMs;
    while (this.history.length > 1) {
      const oldest = this.history[0]!;
      if (this.historyBytes <= this.opts.maxHistoryBytes && oldest.createdAtMs >= oldestAllowed) break;
      this.history.shift();
      this.historyBytes -= oldest.bytes;
      if (this.byHash.get(oldest.hash) === oldest.generation) this.byHash.delete(oldest.hash);
    }
  }

  // ---- output (the server's SyncStream view) ----------------------------------------------

  get head(): Generation {
    return this.history[this.history.length - 1]!;
  }
  get headGeneration(): number {
    return this.head.generation;
  }
  get status(): SyncStatus {
    return this.head.status;
  }
  get keyCount(): number {
    return this.state.size;
  }
  get stateHash(): string {
    return this.head.hash;
  }
  get retainedBytes(): number {
    return this.historyBytes;
  }
  get retainedGenerations(): number {
    return this.history.length;
  }
  /** Encoded delta frames held for catch-ups to the head (its own and merged ones). */
  get cachedFrameBytes(): number {
    return this.head.framesBytes + this.merged.calculatedSize;
  }

  statusFrame(): Buffer {
    return this.head.statusFrame();
  }

  /** The state hash this stream published at `generation`; undefined if no longer kept. */
  hashAt(generation: number): string | undefined {
    return this.hashes.at(generation);
  }

  /** Oldest generation a client may hold and still catch up with deltas. */
  get oldestResumable(): number {
    // The first retained generation's changes are kept, so its predecessor can resume.
    return Math.max(0, this.history[0]!.generation - 1);
  }

  canResume(generation: number): boolean {
    return generation >= this.oldestResumable && generation <= this.headGeneration;
  }

  /**
   * The latest retained generation whose state has this hash, if any. Any generation with the
   * client's exact state is a sound start for a catch-up (the merged changes since it, applied
   * to that state, give the head); the latest one gives the smallest delta.
   */
  generationWithHash(hash: string): number | undefined {
    return this.byHash.get(hash);
  }

  /** When the first generation a client at `generation` lacks was made (for lag), or undefined if none. */
  missingSinceMs(generation: number): number | undefined {
    if (generation >= this.headGeneration) return undefined;
    const idx = generation + 1 - this.history[0]!.generation;
    return idx >= 0 ? this.history[idx]!.createdAtMs : this.history[0]!.createdAtMs;
  }

  /** Frames taking a client from `from` to the head, merged by key; undefined if out of the window. */
  catchUp(from: number, compression: Compression): Frames | undefined {
    const headGen = this.headGeneration;
    if (from === headGen) return { frames: [], bytes: 0 };
    if (!this.canResume(from)) return undefined;
    const firstIdx = from + 1 - this.history[0]!.generation;
    const encodeOpts = { compression, ...this.encodeLimits() };
    if (firstIdx === this.history.length - 1) return this.head.deltaFrames(encodeOpts);
    const key = `${from}:${headGen}:${compression}`;
    let frames = this.merged.get(key);
    if (frames === undefined) {
      const merged = new Map<string, Buffer>();
      for (let i = firstIdx; i < this.history.length; i++) {
        for (const [k, e] of this.history[i]!.changes) {
          merged.delete(k); // keep insertion order = order of last write
          merged.set(k, e);
        }
      }
      frames = encodeDelta(headGen, this.head.hash, [...merged.values()], encodeOpts);
      this.merged.set(key, frames);
      this.stats.mergedBuilt++;
    }
    return frames;
  }

  /** A recent snapshot (reused for snapshotReuseMs while it can still be caught up from). */
  snapshot(compression: Compression): EncodedSnapshot {
    const now = this.opts.now();
    const prev = this.snapshots.get(compression);
    if (
      prev &&
      (prev.generation === this.headGeneration ||
        (now - prev.builtAtMs < this.opts.snapshotReuseMs && this.canResume(prev.generation)))
    ) {
      this.stats.snapshotsReused++;
      return prev;
    }
    const entries: Buffer[] = new Array(this.state.size);
    let i = 0;
    for (const e of this.state.values()) entries[i++] = e.encoded;
    const built = encodeSnapshot(this.epoch, this.headGeneration, this.head.hash, entries, {
      compression,
      ...this.encodeLimits(),
    });
    const snap: EncodedSnapshot = { ...built, generation: this.headGeneration, builtAtMs: now };
    this.snapshots.set(compression, snap);
    this.stats.snapshotsBuilt++;
    return snap;
  }

  private encodeLimits() {
    return { maxFrameBodyBytes: this.opts.maxFrameBodyBytes, minDeflateBytes: this.opts.minDeflateBytes };
  }

  /**
   * The head's entries as they are now, to read later while this cache moves on (entries are
   * replaced, never changed): a native Map copy, a few ms for 30,000 keys.
   */
  headState(): ReadonlyMap<string, { readonly encoded: Buffer }> {
    return new Map(this.state);
  }

  /** Every key and its encoded entry at the head (for dumps and tests). */
  entries(): IterableIterator<[string, Buffer]> {
    const it = this.state.entries();
    return (function* () {
      for (const [k, e] of it) yield [k, e.encoded] as [string, Buffer];
    })();
  }

  close(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.removeAllListeners();
  }
}
