// A cache's generations as plain records that cross a process boundary, and the mirror that
// replays them: the primary encodes each value once, workers adopt the same bytes into a
// SnapshotCache of their own, so snapshot, catch-up, resume by hash and hashAt behave as the
// primary's would (one implementation). Entries travel as one concatenated buffer per record:
// one copy across the IPC channel instead of one object per key.

import type { SyncerType, SyncStatus } from '../model/types.js';
import { type CacheOptions, SnapshotCache } from './cache.js';
import { Generation } from './generation.js';

/** Encoded KV entries, concatenated, with each one's key and length. */
export interface PackedEntries {
  readonly keys: readonly string[];
  readonly lengths: readonly number[];
  readonly blob: Uint8Array;
}

export interface GenerationRecord extends PackedEntries {
  readonly generation: number;
  readonly createdAtMs: number;
  readonly status: SyncStatus;
  readonly hash: string;
  /** Indexes (into keys) of the changes that removed their key. */
  readonly deleted: readonly number[];
}

/** Where a mirror starts: the primary's epoch, retained generations and head state. */
export interface MirrorSeed {
  readonly syncer: SyncerType;
  readonly epoch: string;
  readonly history: readonly GenerationRecord[];
  /** Every key at the head, in the primary's order (snapshots list entries in it)... */
  readonly order: readonly string[];
  /**
   * ...and the entries of those not sent in `history`. The others are the entry of the newest
   * retained generation that changed the key: sent once and shared on the mirror as on the
   * primary (a fresh replica's first generation holds its whole state: it would go twice).
   */
  readonly state: PackedEntries;
}

/** Each key's entry in the newest of `history` that changed it. */
function latestEntries(history: Iterable<Generation>): Map<string, Buffer> {
  const latest = new Map<string, Buffer>();
  for (const g of history) for (const [k, e] of g.changes) latest.set(k, e);
  return latest;
}

function pack(entries: Iterable<[string, Buffer]>): PackedEntries & { buffers: Buffer[] } {
  const keys: string[] = [];
  const lengths: number[] = [];
  const buffers: Buffer[] = [];
  for (const [k, e] of entries) {
    keys.push(k);
    lengths.push(e.length);
    buffers.push(e);
  }
  return { keys, lengths, buffers, blob: Buffer.concat(buffers) };
}

/** Views into the blob (no copy): the entries stay one allocation on the mirror's side too. */
function* unpack(p: PackedEntries): Generator<[string, Buffer]> {
  const blob = Buffer.from(p.blob.buffer, p.blob.byteOffset, p.blob.byteLength);
  let at = 0;
  for (let i = 0; i < p.keys.length; i++) {
    const n = p.lengths[i]!;
    if (at + n > blob.length) throw new RangeError('mirror record: entry lengths exceed its bytes');
    yield [p.keys[i]!, blob.subarray(at, at + n)];
    at += n;
  }
}

/** The record of `gen`; `cache` tells deletions apart (call it while `gen` is its head). */
export function recordOf(gen: Generation, cache?: Pick<SnapshotCache, 'has'>): GenerationRecord {
  const { keys, lengths, blob } = pack(gen.changes);
  const deleted: number[] = [];
  if (cache) for (let i = 0; i < keys.length; i++) if (!cache.has(keys[i]!)) deleted.push(i);
  return { ...meta(gen), keys, lengths, blob, deleted };
}

function meta(gen: Generation): Pick<GenerationRecord, 'generation' | 'createdAtMs' | 'status' | 'hash'> {
  return { generation: gen.generation, createdAtMs: gen.createdAtMs, status: gen.status, hash: gen.hash };
}

/** About what a record holds: its entries, keys and lengths (what its message costs to keep). */
export function recordBytes(rec: GenerationRecord): number {
  let n = rec.blob.byteLength + 64;
  for (const k of rec.keys) n += k.length + 8;
  return n;
}

function generationOf(rec: GenerationRecord): Generation {
  return new Generation(rec.generation, rec.createdAtMs, rec.status, rec.hash, new Map(unpack(rec)));
}

/** Everything a new mirror needs, taken from the primary's cache now. */
export function seedOf(cache: SnapshotCache): MirrorSeed {
  // History records serve catch-ups only (merged changes), so their deletions need no marking.
  const history = cache.retained().map((g) => recordOf(g));
  const latest = latestEntries(cache.retained());
  const order: string[] = [];
  const rest: [string, Buffer][] = [];
  for (const [k, e] of cache.entries()) {
    order.push(k);
    if (latest.get(k) !== e) rest.push([k, e]); // else: the very object the history holds
  }
  const { keys, lengths, blob } = pack(rest);
  return { syncer: cache.syncer, epoch: cache.epoch, history, order, state: { keys, lengths, blob } };
}

/** A cache that follows the primary's: seeded now, fed by adopt() from then on. */
export function mirrorCache(opts: Omit<CacheOptions, 'syncer' | 'epoch'>, seed: MirrorSeed): SnapshotCache {
  const cache = new SnapshotCache({ ...opts, syncer: seed.syncer, epoch: seed.epoch });
  const history = seed.history.map(generationOf);
  const latest = latestEntries(history);
  const rest = new Map(unpack(seed.state));
  const entries = seed.order.map((k): [string, Buffer] => {
    const e = rest.get(k) ?? latest.get(k);
    if (e === undefined) throw new RangeError(`mirror seed: no entry for ${k}`);
    return [k, e];
  });
  cache.seed(history, entries);
  return cache;
}

/** Applies one record to a mirror (records arrive in order: the channel is ordered). */
export function adoptRecord(cache: SnapshotCache, rec: GenerationRecord): void {
  cache.adopt(generationOf(rec), new Set(rec.deleted.map((i) => rec.keys[i]!)));
}
