// A mirror fed the primary's generations (as records crossing a process boundary would be:
// through v8 serialization) serves byte-identical frames and the same hashes.
import { deserialize, serialize } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonValue, KV } from '../../src/model/types.js';
import { type CacheOptions, SnapshotCache } from '../../src/snapcache/cache.js';
import {
  adoptRecord,
  type GenerationRecord,
  mirrorCaches,
  recordOf,
  type SeedPart,
  seedParts,
} from '../../src/snapcache/mirror.js';

const OPTS: Omit<CacheOptions, 'syncer'> = {
  maxBatchSize: 1_000,
  maxBatchDelayMs: 10,
  maxHistoryBytes: 1 << 20,
  maxHistoryAgeMs: 60_000,
  snapshotReuseMs: 0,
  maxFrameBodyBytes: 4 << 10, // small, so snapshots and deltas split into several frames
  minDeflateBytes: 64,
  mergedDeltaCacheBytes: 1 << 20,
};
const caches: SnapshotCache[] = [];
afterEach(() => {
  for (const c of caches.splice(0)) c.close();
});

const kv = (k: string, v: JsonValue): KV => ({ key: `/calico/v1/policy/tier/${k}`, value: v });
/** Across a process: what process.send with serialization 'advanced' does to a record. */
const viaIpc = <T>(x: T): T => deserialize(serialize(x)) as T;

/** The parts of a seed of `primary` taken now, each across a process. */
const partsOf = (primary: SnapshotCache, partBytes = 1_000): SeedPart[] =>
  [...seedParts(primary, partBytes)].map(viaIpc);

function mirrorOf(parts: Iterable<SeedPart>, opts = OPTS): SnapshotCache {
  const [mirror, ...more] = mirrorCaches(parts, () => opts);
  caches.push(mirror!, ...more);
  expect(more).toHaveLength(0);
  return mirror!;
}

function primaryWithMirror(before: number) {
  const primary = new SnapshotCache({ ...OPTS, syncer: 'felix' });
  caches.push(primary);
  for (let g = 0; g < before; g++) {
    primary.apply(
      Array.from({ length: 50 }, (_, i) => kv(`t${i}`, { order: g * 100 + i, pad: 'x'.repeat(40) })),
    );
    primary.flush();
  }
  const records: GenerationRecord[] = [];
  primary.on('advance', (gen) => records.push(viaIpc(recordOf(gen, primary))));
  const mirror = mirrorOf(partsOf(primary));
  return {
    primary,
    mirror,
    feed: () => {
      for (const r of records.splice(0)) adoptRecord(mirror, r);
    },
  };
}

const bytes = (frames: readonly Buffer[] | undefined) =>
  frames ? Buffer.concat(frames).toString('hex') : 'none';

describe('mirror cache', () => {
  it('serves the same snapshot, catch-ups, hashes and resume points as its primary', () => {
    const { primary, mirror, feed } = primaryWithMirror(3);
    expect(mirror.epoch).toBe(primary.epoch);
    // Changes, deletions (of kept and of new keys) and a status change after the seed.
    primary.apply([kv('t1', null), kv('new', { a: 1 }), kv('t2', { order: 7 })]);
    primary.flush();
    primary.apply([kv('new', null), kv('t3', null)]);
    primary.setStatus('in-sync');
    primary.apply([kv('t1', { back: true })]);
    primary.flush();
    feed();
    expect(mirror.headGeneration).toBe(primary.headGeneration);
    expect(mirror.keyCount).toBe(primary.keyCount);
    expect(mirror.status).toBe('in-sync');
    for (const c of ['none', 'deflate'] as const) {
      expect(bytes(mirror.snapshot(c).frames)).toBe(bytes(primary.snapshot(c).frames));
      for (let from = 0; from <= primary.headGeneration; from++)
        expect(bytes(mirror.catchUp(from, c)?.frames), `from ${from} ${c}`).toBe(
          bytes(primary.catchUp(from, c)?.frames),
        );
    }
    expect(bytes([mirror.statusFrame()])).toBe(bytes([primary.statusFrame()]));
    for (let g = 0; g <= primary.headGeneration; g++) {
      expect(mirror.hashAt(g)).toBe(primary.hashAt(g));
      expect(mirror.canResume(g)).toBe(primary.canResume(g));
      expect(mirror.generationWithHash(primary.hashAt(g)!)).toBe(
        primary.generationWithHash(primary.hashAt(g)!),
      );
    }
    expect([...mirror.entries()].map(([k, e]) => [k, e.toString('hex')])).toEqual(
      [...primary.entries()].map(([k, e]) => [k, e.toString('hex')]),
    );
  });

  it('seeds from a window that no longer holds every key: same entries, same order, same snapshot', () => {
    const primary = new SnapshotCache({ ...OPTS, syncer: 'felix', maxHistoryBytes: 3_000 });
    caches.push(primary);
    for (let g = 0; g < 12; g++) {
      // Each generation rewrites a different slice of keys, so old keys' last changes are evicted.
      primary.apply(
        Array.from({ length: 10 }, (_, i) => kv(`k${(g * 7 + i) % 40}`, { g, pad: 'y'.repeat(30) })),
      );
      primary.flush();
    }
    expect(primary.retained()[0]!.generation).toBeGreaterThan(1);
    const parts = partsOf(primary);
    const stateEntries = parts.reduce((n, p) => n + (p.k === 'state' ? p.entries.keys.length : 0), 0);
    expect(stateEntries).toBeGreaterThan(0); // some entries only the state holds...
    expect(stateEntries).toBeLessThan(primary.keyCount); // ...the rest travel once
    const mirror = mirrorOf(parts, { ...OPTS, maxHistoryBytes: 3_000 });
    expect([...mirror.entries()].map(([k, e]) => [k, e.toString('hex')])).toEqual(
      [...primary.entries()].map(([k, e]) => [k, e.toString('hex')]),
    );
    expect(bytes(mirror.snapshot('none').frames)).toBe(bytes(primary.snapshot('none').frames));
  });

  it('goes in parts of about the size asked, taken when asked for: the parts made later are of that moment', () => {
    const primary = new SnapshotCache({ ...OPTS, syncer: 'felix' });
    caches.push(primary);
    primary.apply(Array.from({ length: 200 }, (_, i) => kv(`t${i}`, { i, pad: 'z'.repeat(40) })));
    primary.flush();
    const records: GenerationRecord[] = [];
    primary.on('advance', (gen) => records.push(viaIpc(recordOf(gen, primary))));
    const lazy = seedParts(primary, 1_000)[Symbol.iterator]();
    const first = [lazy.next().value!, lazy.next().value!];
    // The cache moves on while the seed is being sent: changed, deleted and new keys.
    primary.apply([kv('t1', null), kv('t2', { changed: true }), kv('new', 1)]);
    primary.flush();
    const rest: SeedPart[] = [];
    for (let r = lazy.next(); !r.done; r = lazy.next()) rest.push(r.value);
    const parts = [...first, ...rest].map(viaIpc);
    // The first generation (200 keys, ~14 KB) did not go in one message.
    const history = parts.flatMap((p) => (p.k === 'history' ? [p] : []));
    const big = history.filter((p) => p.record.generation === primary.headGeneration - 1);
    expect(big.length).toBeGreaterThan(5);
    expect(big.map((p) => p.more)).toEqual([...big.slice(1).map(() => true), false]);
    for (const p of parts) if (p.k === 'history') expect(p.record.blob.byteLength).toBeLessThan(1_200);
    const mirror = mirrorOf(parts);
    expect(mirror.headGeneration).toBe(primary.headGeneration - 1);
    for (const r of records) adoptRecord(mirror, r);
    expect(bytes(mirror.snapshot('deflate').frames)).toBe(bytes(primary.snapshot('deflate').frames));
    expect(mirror.hashAt(primary.headGeneration)).toBe(primary.hashAt(primary.headGeneration));
  });

  it('seeds one mirror per syncer from parts one after the other, and refuses a seed cut short', () => {
    const felix = new SnapshotCache({ ...OPTS, syncer: 'felix' });
    const bgp = new SnapshotCache({ ...OPTS, syncer: 'bgp' });
    caches.push(felix, bgp);
    for (const c of [felix, bgp]) {
      c.apply(Array.from({ length: 40 }, (_, i) => kv(`${c.syncer}${i}`, { pad: 'q'.repeat(40) })));
      c.flush();
    }
    const parts = [...partsOf(felix, 500), ...partsOf(bgp, 500)];
    const mirrors = mirrorCaches(parts, () => OPTS);
    caches.push(...mirrors);
    expect(mirrors.map((m) => [m.syncer, m.epoch, m.keyCount])).toEqual([
      ['felix', felix.epoch, 40],
      ['bgp', bgp.epoch, 40],
    ]);
    const cut = partsOf(felix, 500);
    const split = cut.findIndex((p) => p.k === 'history' && p.more);
    expect(() => mirrorCaches(cut.slice(0, split + 1), () => OPTS)).toThrow(/ended inside a generation/);
    expect(() => mirrorCaches(cut.slice(1), () => OPTS)).toThrow(/before any begin/);
  });

  it('refuses a generation out of order, and a seed into a used cache', () => {
    const { primary, mirror } = primaryWithMirror(1);
    primary.apply([kv('a', 1)]);
    primary.flush();
    primary.apply([kv('b', 1)]);
    primary.flush();
    const skipped = recordOf(primary.head, primary);
    expect(() => adoptRecord(mirror, skipped)).toThrow(/does not follow/);
    expect(() => primary.seed(primary.retained(), [])).toThrow(/only an empty cache/);
  });
});
