import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/model/logger.js';
import { hashState } from '../../src/model/state-hash.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { type Delta, type Message, MsgType } from '../../src/protocol/messages.js';
import { type CacheOptions, SnapshotCache } from '../../src/snapcache/cache.js';
import { nested } from './hostile-values.js';

const BASE: CacheOptions = {
  syncer: 'felix',
  maxBatchSize: 100,
  maxBatchDelayMs: 10,
  maxHistoryBytes: 1 << 20,
  maxHistoryAgeMs: 60_000,
  snapshotReuseMs: 1_000,
  maxFrameBodyBytes: 64 << 10,
  minDeflateBytes: 1024,
  mergedDeltaCacheBytes: 1 << 20,
};

let clock = 1_000_000;
const caches: SnapshotCache[] = [];
function cache(o: Partial<CacheOptions> = {}) {
  const c = new SnapshotCache({ ...BASE, now: () => clock, ...o });
  caches.push(c);
  return c;
}
afterEach(() => {
  for (const c of caches.splice(0)) c.close();
  vi.useRealTimers();
});

const kv = (k: string, v: JsonValue): KV => ({ key: `/calico/v1/policy/tier/${k}`, value: v });
function decode(frames: readonly Buffer[]): Message[] {
  const d = new FrameDecoder({ maxFrameBytes: 64 << 20, maxMessageBytes: 64 << 20, deflate: true });
  return frames.flatMap((f) => d.push(f));
}
function deltas(frames: readonly Buffer[]): Delta[] {
  return decode(frames).flatMap((m) => (m.type === MsgType.Delta ? [m.body] : []));
}

describe('batching', () => {
  it('holds updates until the batch delay, then publishes one generation', () => {
    vi.useFakeTimers();
    const c = cache();
    const seen: number[] = [];
    c.on('advance', (g) => seen.push(g.generation));
    c.apply([kv('a', 1), kv('b', 2)]);
    c.apply([kv('a', 3)]);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(10);
    expect(seen).toEqual([1]);
    expect(c.head.changes.size).toBe(2); // 'a' twice in one batch: one entry, the last write
    expect(deltas(c.catchUp(0, 'none')!.frames)[0]!.kvs).toEqual([kv('a', 3), kv('b', 2)]);
  });

  it('an update after a quiet spell goes out on the next turn; a stream of them at most one batch per delay', () => {
    vi.useFakeTimers();
    const c = cache({ maxBatchDelayMs: 100 });
    const seen: number[] = [];
    c.on('advance', (g) => seen.push(g.generation));
    c.apply([kv('a', 1)]);
    c.apply([kv('b', 1)]); // same turn of the loop: same batch
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([1]); // not held for the 100 ms window
    clock += 30;
    c.apply([kv('a', 2)]);
    vi.advanceTimersByTime(69);
    expect(seen).toEqual([1]); // 99 ms since the last batch: still in its window
    clock += 70;
    c.apply([kv('b', 2)]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([1, 2]);
    expect(c.head.changes.size).toBe(2); // both updates of the window in one generation
    clock += 500;
    c.apply([kv('c', 1)]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([1, 2, 3]); // quiet again: at once
  });

  it('publishes as soon as a batch is full', () => {
    const c = cache({ maxBatchSize: 3 });
    c.apply([kv('a', 1), kv('b', 1), kv('c', 1), kv('d', 1)]);
    expect(c.headGeneration).toBe(1);
    expect(c.head.changes.size).toBe(3);
  });

  it('skips updates that change nothing and deletes of absent keys', () => {
    const c = cache();
    c.apply([kv('a', { x: 1, y: 2 })]);
    c.flush();
    c.apply([kv('a', { y: 2, x: 1 }), kv('zz', null)]); // same value, other key order
    c.flush();
    expect(c.headGeneration).toBe(1);
    expect(c.stats.updatesSkipped).toBe(2);
  });

  it('a status change ends the batch, so in-sync is never ahead of its data', () => {
    const c = cache();
    c.apply([kv('a', 1)]);
    c.setStatus('in-sync');
    expect(c.headGeneration).toBe(1);
    expect(c.head.status).toBe('in-sync');
    expect(c.head.changes.size).toBe(1);
  });

  it('a value too large for one frame is sent as a deletion and counted', () => {
    const c = cache({ maxFrameBodyBytes: 1_000 });
    c.apply([kv('big', 'small')]);
    c.flush();
    c.apply([kv('big', 'x'.repeat(2_000)), kv('new-big', 'y'.repeat(2_000))]);
    c.flush();
    expect(c.stats.valuesRejected).toBe(2);
    expect(c.keyCount).toBe(0);
    expect(deltas(c.catchUp(1, 'none')!.frames)[0]!.kvs).toEqual([kv('big', null)]);
  });

  // Conversion bounds values (model/value-bounds.ts); the cache must survive one that slips
  // through anyway: values injected here directly, as a converter bug would produce them.
  const unencodable: Array<[string, unknown]> = [
    ['nested beyond MessagePack', nested(3_000)], // msgpackr overflows the stack, the hash does not
    ['nested beyond both', nested(50_000)],
    ['NaN', { x: Number.NaN }], // MessagePack has it, the canonical-JSON hash refuses it
    ['bigint', { x: 10n }],
  ];

  it('a value it cannot hash or encode is sent as a deletion, counted and logged by key', () => {
    const errors: Array<Record<string, unknown>> = [];
    const log = { ...silentLogger, error: (o: object | string) => errors.push(o as Record<string, unknown>) };
    const c = cache({ log });
    c.apply([kv('ok', 1), ...unencodable.map(([name]) => kv(name, 'valid for now'))]);
    c.flush();
    const before = c.headGeneration;
    c.apply([
      kv('ok', 2),
      ...unencodable.map(([name, v]) => kv(name, v as JsonValue)),
      kv('new', nested(3_000) as JsonValue),
    ]);
    expect(() => c.flush()).not.toThrow();
    expect(c.stats.valuesRejected).toBe(unencodable.length + 1);
    expect([...c.entries()].map(([k]) => k)).toEqual([kv('ok', 0).key]);
    expect(c.stateHash).toBe(hashState([[kv('ok', 0).key, 2]]));
    const [d] = deltas(c.catchUp(before, 'none')!.frames);
    expect(d!.kvs).toEqual([kv('ok', 2), ...unencodable.map(([name]) => kv(name, null))]);
    expect(d!.hash).toBe(c.stateHash);
    expect(errors.map((e) => e['key'])).toEqual([
      ...unencodable.map(([name]) => kv(name, 0).key),
      kv('new', 0).key,
    ]);
  });

  it('an unencodable value arriving between flushes does not take the batch timer down', () => {
    vi.useFakeTimers();
    const c = cache();
    c.apply([kv('ok', 1), kv('deep', nested(3_000) as JsonValue)]);
    expect(() => vi.advanceTimersByTime(10)).not.toThrow();
    expect(c.headGeneration).toBe(1);
    expect([...c.entries()].map(([k]) => k)).toEqual([kv('ok', 0).key]);
  });
});

describe('catch-up and compaction', () => {
  it('merges the deltas a lagging client missed by key, last write wins', () => {
    const c = cache();
    c.apply([kv('a', 1), kv('b', 1)]);
    c.flush();
    c.apply([kv('a', 2), kv('c', 1)]);
    c.flush();
    c.apply([kv('b', null), kv('a', 3)]);
    c.flush();
    const [d] = deltas(c.catchUp(1, 'none')!.frames);
    expect(d!.to).toBe(3);
    expect(d!.more).toBe(false);
    expect(d!.hash).toBe(c.stateHash);
    const byKey = new Map(d!.kvs.map((x) => [x.key, x.value]));
    expect(d!.kvs).toHaveLength(3);
    expect(byKey).toEqual(new Map([kv('c', 1), kv('b', null), kv('a', 3)].map((x) => [x.key, x.value])));
    // The merged frames are built once and shared.
    expect(c.catchUp(1, 'none')).toBe(c.catchUp(1, 'none'));
    expect(c.stats.mergedBuilt).toBe(1);
  });

  it('splits large deltas into frames marked more, the hash on the last', () => {
    const c = cache({ maxFrameBodyBytes: 2_000, maxBatchSize: 1_000 });
    c.apply(Array.from({ length: 200 }, (_, i) => kv(`k${i}`, 'v'.repeat(50))));
    c.flush();
    const ds = deltas(c.catchUp(0, 'deflate')!.frames);
    expect(ds.length).toBeGreaterThan(3);
    expect(ds.slice(0, -1).every((d) => d.more && d.hash === undefined)).toBe(true);
    expect(ds.at(-1)!.more).toBe(false);
    expect(ds.at(-1)!.hash).toBe(c.stateHash);
    expect(ds.flatMap((d) => d.kvs)).toHaveLength(200);
  });

  it('history is bounded by bytes: old positions fall out of the window', () => {
    const c = cache({ maxHistoryBytes: 20_000 });
    for (let g = 0; g < 50; g++) {
      c.apply(Array.from({ length: 10 }, (_, i) => kv(`k${i}`, `${g}-${'p'.repeat(100)}`)));
      c.flush();
    }
    expect(c.retainedBytes).toBeLessThanOrEqual(20_000);
    expect(c.canResume(1)).toBe(false);
    expect(c.catchUp(1, 'none')).toBeUndefined();
    expect(c.canResume(c.headGeneration - 2)).toBe(true);
  });

  it('history is bounded by age', () => {
    const c = cache({ maxHistoryAgeMs: 5_000 });
    c.apply([kv('a', 1)]);
    c.flush();
    clock += 10_000;
    c.apply([kv('a', 2)]);
    c.flush();
    expect(c.retainedGenerations).toBe(1);
    expect(c.canResume(0)).toBe(false);
    expect(c.canResume(1)).toBe(true);
  });

  it('holds catch-up frames for the current head only, not for the whole window', () => {
    const c = cache({ maxHistoryBytes: 64 << 20, maxHistoryAgeMs: 3_600_000 });
    const heads = [];
    for (let g = 0; g < 100; g++) {
      c.apply([kv(`k${g % 7}`, `${g}-${'p'.repeat(200)}`)]);
      c.flush();
      heads.push(c.head);
      // What fan-out asks for: the head's own delta, and merged ones for clients further behind.
      for (const from of [c.headGeneration - 1, c.headGeneration - 3])
        for (const compression of ['none', 'deflate'] as const) c.catchUp(Math.max(0, from), compression);
    }
    expect(c.retainedGenerations).toBe(101);
    for (const old of heads.slice(0, -1)) expect(old.framesBytes).toBe(0);
    const now = ['none', 'deflate'].flatMap((compression) =>
      [c.headGeneration - 1, c.headGeneration - 3].map(
        (from) => c.catchUp(from, compression as 'none')!.bytes,
      ),
    );
    expect(c.cachedFrameBytes).toBe(now.reduce((a, b) => a + b, 0));
    // Advancing releases them; the next catch-up is built for the new head.
    c.apply([kv('z', 1)]);
    c.flush();
    expect(c.cachedFrameBytes).toBe(0);
    expect(deltas(c.catchUp(c.headGeneration - 1, 'none')!.frames)[0]!.to).toBe(c.headGeneration);
  });

  it('keeps the hash of recent generations after their changes left the window, for judging ACKs', () => {
    const c = cache({ maxHistoryBytes: 1 });
    const published = [c.stateHash];
    for (let g = 1; g <= 1_100; g++) {
      c.apply([kv('a', g)]);
      c.flush();
      published.push(c.stateHash);
    }
    expect(c.retainedGenerations).toBe(1); // only the head's changes are kept...
    expect(c.hashAt(1_100)).toBe(published[1_100]);
    expect(c.hashAt(100)).toBe(published[100]); // ...but the last 1 024 hashes are
    expect(c.hashAt(1_100 - 1_023)).toBe(published[1_100 - 1_023]);
    expect(c.hashAt(1_100 - 1_024)).toBeUndefined();
    expect(c.hashAt(0)).toBeUndefined();
    expect(c.hashAt(1_101)).toBeUndefined();
    expect(c.hashAt(-1)).toBeUndefined();
  });

  it('reports when the oldest missing generation was made (lag)', () => {
    const c = cache();
    c.apply([kv('a', 1)]);
    c.flush();
    const t1 = clock;
    clock += 500;
    c.apply([kv('a', 2)]);
    c.flush();
    expect(c.missingSinceMs(0)).toBe(t1);
    expect(c.missingSinceMs(2)).toBeUndefined();
  });
});

describe('snapshots', () => {
  it('encode the whole state once, with the state hash, and are reused for a while', () => {
    const c = cache({ maxFrameBodyBytes: 4_000 });
    const src = new Map<string, JsonValue>();
    const kvs = Array.from({ length: 300 }, (_, i) => kv(`k${i}`, { i, s: 'x'.repeat(i % 40) }));
    for (const x of kvs) src.set(x.key, x.value);
    c.apply(kvs);
    c.setStatus('in-sync');
    const snap = c.snapshot('deflate');
    const msgs = decode(snap.frames);
    expect(msgs[0]!.type).toBe(MsgType.SnapshotBegin);
    const begin = msgs[0]!.body as { keys: number; chunks: number; generation: number };
    expect(begin.keys).toBe(300);
    expect(begin.chunks).toBe(msgs.length - 2);
    expect(begin.chunks).toBeGreaterThan(1);
    const got = new Map(
      msgs.flatMap((m) => (m.type === MsgType.SnapshotChunk ? m.body.kvs : [])).map((x) => [x.key, x.value]),
    );
    expect(got).toEqual(src);
    const end = msgs.at(-1)!;
    expect(end.type).toBe(MsgType.SnapshotEnd);
    expect((end.body as { hash: string }).hash).toBe(hashState(src));

    c.apply([kv('k1', 'changed')]);
    c.flush();
    expect(c.snapshot('deflate')).toBe(snap); // within snapshotReuseMs: reuse, client catches up
    clock += 2_000;
    const fresh = c.snapshot('deflate');
    expect(fresh).not.toBe(snap);
    expect(fresh.generation).toBe(c.headGeneration);
    expect(c.stats.snapshotsBuilt).toBe(2);
  });
});
