// A mirror fed the primary's generations (as records crossing a process boundary would be:
// through v8 serialization) serves byte-identical frames and the same hashes.
import { deserialize, serialize } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonValue, KV } from '../../src/model/types.js';
import { type CacheOptions, SnapshotCache } from '../../src/snapcache/cache.js';
import {
  adoptRecord,
  type GenerationRecord,
  mirrorCache,
  recordOf,
  seedOf,
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
  const mirror = mirrorCache(OPTS, viaIpc(seedOf(primary)));
  caches.push(mirror);
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
    const seed = viaIpc(seedOf(primary));
    expect(seed.state.keys.length).toBeGreaterThan(0); // some entries only the state holds...
    expect(seed.state.keys.length).toBeLessThan(primary.keyCount); // ...the rest travel once
    const mirror = mirrorCache({ ...OPTS, maxHistoryBytes: 3_000 }, seed);
    caches.push(mirror);
    expect([...mirror.entries()].map(([k, e]) => [k, e.toString('hex')])).toEqual(
      [...primary.entries()].map(([k, e]) => [k, e.toString('hex')]),
    );
    expect(bytes(mirror.snapshot('none').frames)).toBe(bytes(primary.snapshot('none').frames));
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
