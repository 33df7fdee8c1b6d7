// A cache's generations as plain records that cross a process boundary, and the mirror that
// replays them: the primary encodes each value once, workers adopt the same bytes into a
// SnapshotCache of their own, so snapshot, catch-up, resume by hash and hashAt behave as the
// primary's would (one implementation). Entries travel as one concatenated buffer per record:
// one copy across the IPC channel instead of one object per key. A new mirror starts from a
// seed sent in parts of bounded size.

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

/**
 * One piece of a mirror seed. A seed goes in pieces of about a set size, so that no single
 * message holds the primary's event loop while it is serialized (a 1,000-node cache in one
 * message held it ~0.2 s). In order: per syncer, `begin`, its retained generations oldest
 * first, then the keys at the head.
 */
export type SeedPart =
  | { readonly k: 'begin'; readonly syncer: SyncerType; readonly epoch: string }
  /** Changes of a retained generation; one too large for a part is split, `more` until its last. */
  | { readonly k: 'history'; readonly record: GenerationRecord; readonly more: boolean }
  /**
   * The next keys at the head in the primary's order (snapshots list entries in it), and the
   * entries of those the history does not hold. The others are the entry of the newest
   * retained generation that changed the key: sent once and shared on the mirror as on the
   * primary (a fresh replica's first generation holds its whole state: it would go twice).
   */
  | { readonly k: 'state'; readonly order: readonly string[]; readonly entries: PackedEntries };

/** Each key's entry in the newest of `history` that changed it. */
function latestEntries(history: Iterable<Generation>): Map<string, Buffer> {
  const latest = new Map<string, Buffer>();
  for (const g of history) for (const [k, e] of g.changes) latest.set(k, e);
  return latest;
}

function pack(entries: Iterable<[string, Buffer]>): PackedEntries {
  const keys: string[] = [];
  const lengths: number[] = [];
  const buffers: Buffer[] = [];
  for (const [k, e] of entries) {
    keys.push(k);
    lengths.push(e.length);
    buffers.push(e);
  }
  return { keys, lengths, blob: Buffer.concat(buffers) };
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

/** Entries in runs of about `partBytes` (keys and entries), at least one each. */
function* slices(entries: Iterable<[string, Buffer]>, partBytes: number): Generator<[string, Buffer][]> {
  let slice: [string, Buffer][] = [];
  let bytes = 0;
  for (const kv of entries) {
    slice.push(kv);
    bytes += kv[0].length + kv[1].length;
    if (bytes < partBytes) continue;
    yield slice;
    slice = [];
    bytes = 0;
  }
  if (slice.length > 0) yield slice;
}

function* encodedOf(head: ReadonlyMap<string, { readonly encoded: Buffer }>): Generator<[string, Buffer]> {
  for (const [k, e] of head) yield [k, e.encoded];
}

/**
 * The parts of a seed of `cache` as it is now: the retained generations and a copy of the
 * head's map are taken at the call (generations and entries are immutable); the parts are
 * made as they are read, while the cache moves on, each step a part's worth of work.
 */
export function seedParts(cache: SnapshotCache, partBytes: number): Iterable<SeedPart> {
  return partsOf(cache.syncer, cache.epoch, [...cache.retained()], cache.headState(), partBytes);
}

function* partsOf(
  syncer: SyncerType,
  epoch: string,
  history: readonly Generation[],
  head: ReadonlyMap<string, { readonly encoded: Buffer }>,
  partBytes: number,
): Generator<SeedPart> {
  yield { k: 'begin', syncer, epoch };
  // Each key's entry in the newest generation that changed it, gathered part by part.
  const latest = new Map<string, Buffer>();
  const historyPart = (g: Generation, slice: [string, Buffer][], more: boolean): SeedPart => {
    for (const [k, e] of slice) latest.set(k, e);
    // History serves catch-ups only (merged changes), so its deletions need no marking.
    return { k: 'history', record: { ...meta(g), ...pack(slice), deleted: [] }, more };
  };
  for (const g of history) {
    let prev: [string, Buffer][] | undefined;
    for (const slice of slices(g.changes, partBytes)) {
      if (prev) yield historyPart(g, prev, true);
      prev = slice;
    }
    yield historyPart(g, prev ?? [], false);
  }
  for (const slice of slices(encodedOf(head), partBytes)) {
    const { keys, lengths, blob } = pack(slice.filter(([k, e]) => latest.get(k) !== e));
    yield { k: 'state', order: slice.map(([k]) => k), entries: { keys, lengths, blob } };
  }
}

/** One syncer's seed, put back together from its parts. */
class SeedAssembly {
  private readonly history: Generation[] = [];
  private open: { record: GenerationRecord; changes: Map<string, Buffer> } | undefined;
  private readonly order: string[] = [];
  private readonly rest = new Map<string, Buffer>();

  constructor(
    readonly syncer: SyncerType,
    readonly epoch: string,
  ) {}

  add(part: SeedPart): void {
    if (part.k === 'history') {
      const { record, more } = part;
      if (this.open && this.open.record.generation !== record.generation)
        throw new RangeError(`mirror seed: generation ${this.open.record.generation} left unfinished`);
      this.open ??= { record, changes: new Map() };
      for (const [k, e] of unpack(record)) this.open.changes.set(k, e);
      if (more) return;
      const r = this.open.record;
      this.history.push(new Generation(r.generation, r.createdAtMs, r.status, r.hash, this.open.changes));
      this.open = undefined;
    } else if (part.k === 'state') {
      this.order.push(...part.order);
      for (const [k, e] of unpack(part.entries)) this.rest.set(k, e);
    }
  }

  build(opts: Omit<CacheOptions, 'syncer' | 'epoch'>): SnapshotCache {
    if (this.open) throw new RangeError('mirror seed: ended inside a generation');
    const latest = latestEntries(this.history);
    const entries = this.order.map((k): [string, Buffer] => {
      const e = this.rest.get(k) ?? latest.get(k);
      if (e === undefined) throw new RangeError(`mirror seed: no entry for ${k}`);
      return [k, e];
    });
    const cache = new SnapshotCache({ ...opts, syncer: this.syncer, epoch: this.epoch });
    cache.seed(this.history, entries);
    return cache;
  }
}

/** Caches that follow the primary's, one per syncer the parts begin: seeded now, fed by adopt() from then on. */
export function mirrorCaches(
  parts: Iterable<SeedPart>,
  opts: (syncer: SyncerType) => Omit<CacheOptions, 'syncer' | 'epoch'>,
): SnapshotCache[] {
  const assemblies: SeedAssembly[] = [];
  for (const part of parts) {
    if (part.k === 'begin') assemblies.push(new SeedAssembly(part.syncer, part.epoch));
    else if (assemblies.length === 0) throw new RangeError('mirror seed: a part before any begin');
    else assemblies.at(-1)!.add(part);
  }
  return assemblies.map((a) => a.build(opts(a.syncer)));
}

/** Applies one record to a mirror (records arrive in order: the channel is ordered). */
export function adoptRecord(cache: SnapshotCache, rec: GenerationRecord): void {
  cache.adopt(generationOf(rec), new Set(rec.deleted.map((i) => rec.keys[i]!)));
}
