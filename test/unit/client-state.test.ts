import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientState } from '../../src/client/state.js';
import { Backoff } from '../../src/model/backoff.js';
import { hashState } from '../../src/model/state-hash.js';
import type { JsonValue, KV } from '../../src/model/types.js';

const toMap = (kvs: KV[]) => new Map(kvs.map((k) => [k.key, k.value]));

describe('ClientState', () => {
  it('a new snapshot replaces the state and reports only the real differences', () => {
    const s = new ClientState(true);
    s.beginSnapshot();
    s.stage([
      { key: 'a', value: 1 },
      { key: 'b', value: { x: [1, 2] } },
      { key: 'c', value: 'same' },
    ]);
    expect(s.size).toBe(0); // staged, not live, until the end
    expect(s.commitSnapshot()).toHaveLength(3);

    s.beginSnapshot();
    s.stage([
      { key: 'b', value: { x: [1, 2] } },
      { key: 'c', value: 'changed' },
      { key: 'd', value: true },
    ]);
    expect(s.size).toBe(3); // old state still served while the new snapshot streams in
    const diff = s.commitSnapshot();
    expect(toMap(diff)).toEqual(
      new Map<string, JsonValue>([
        ['c', 'changed'],
        ['d', true],
        ['a', null],
      ]),
    );
    expect(s.hashHex()).toBe(hashState([...s.entries()]));
  });

  it('deltas that change nothing are not reported', () => {
    const s = new ClientState(false);
    expect(s.applyDelta([{ key: 'a', value: { y: 1 } }])).toHaveLength(1);
    expect(
      s.applyDelta([
        { key: 'a', value: { y: 1 } },
        { key: 'zz', value: null },
      ]),
    ).toHaveLength(0);
    expect(s.hashHex()).toBeUndefined();
  });

  it('the incremental hash equals a full recompute after any sequence of deltas', () => {
    const kv = fc.record({
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      value: fc.oneof(fc.constant(null), fc.integer(), fc.string(), fc.dictionary(fc.string(), fc.integer())),
    });
    fc.assert(
      fc.property(fc.array(fc.array(kv, { maxLength: 6 }), { maxLength: 12 }), (batches) => {
        const s = new ClientState(true);
        for (const b of batches) s.applyDelta(b as KV[]);
        expect(s.hashHex()).toBe(hashState([...s.entries()]));
      }),
    );
  });
});

describe('Backoff', () => {
  it('grows exponentially to the cap, with jitter inside the bounds', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0.5 }, () => 1);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1_000]);
    const low = new Backoff({ initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0.5 }, () => 0);
    expect([low.next(), low.next()]).toEqual([50, 100]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('rejects nonsense options at construction', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 1, multiplier: 2, jitter: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 10, maxMs: 1, multiplier: 2, jitter: 0 })).toThrow(RangeError);
  });
});
