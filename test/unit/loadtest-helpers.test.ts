// Pure helpers of the load test: histogram percentiles, phase specs, and the lean client's
// shortcuts through DELTA bodies (checked against what the real encoder writes).

import { describe, expect, it } from 'vitest';
import { peekDeltaHead, readNumber } from '../../loadtest/lean-client.js';
import { parsePhases } from '../../loadtest/settings.js';
import { Histogram, percentile } from '../../loadtest/stats.js';
import { bodyWithKVs, encodeKV, packr } from '../../src/protocol/codec.js';

describe('loadtest stats', () => {
  it('exact percentiles use the nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('histogram percentiles are within 1 % and merge like one histogram', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let i = 1; i <= 10_000; i++) (i % 2 ? a : b).record(i / 10); // 0.1 .. 1000 ms
    a.merge(Histogram.fromJSON(JSON.parse(JSON.stringify(b.toJSON()))));
    expect(a.count).toBe(10_000);
    expect(a.min).toBe(0.1);
    expect(a.max).toBe(1000);
    for (const [p, exact] of [
      [50, 500],
      [99, 990],
      [99.9, 999],
    ] as const) {
      expect(Math.abs(a.percentile(p) - exact) / exact).toBeLessThan(0.011);
    }
    expect(a.percentile(100)).toBe(1000);
  });

  it('an empty histogram has no percentiles', () => {
    expect(new Histogram().percentile(50)).toBeNaN();
  });
});

describe('loadtest phases', () => {
  it('parses NAME:GENSxKEYS@RATE lists', () => {
    expect(parsePhases('steady:200x10@20, burst:5x1@1000')).toEqual([
      { name: 'steady', generations: 200, keysPerGen: 10, ratePerSec: 20 },
      { name: 'burst', generations: 5, keysPerGen: 1, ratePerSec: 1000 },
    ]);
    expect(parsePhases('')).toEqual([]);
    expect(() => parsePhases('steady:200@20')).toThrow(/NAME:GENSxKEYS@RATE/);
    expect(() => parsePhases('steady:0x1@20')).toThrow(/zero/);
  });
});

describe('lean client shortcuts', () => {
  const entries = [encodeKV('/k', { benchSentAt: 1_732_370_000_123.25 })];

  it.each([0, 127, 200, 60_000, 3_000_000])('reads to=%i and more from an encoded DELTA body', (to) => {
    for (const more of [true, false]) {
      const hash = more ? undefined : 'ab'.repeat(32);
      const body = bodyWithKVs({ to, more, hash }, entries);
      // The hash comes back with the last frame of a run, for resume by hash (§14.3).
      expect(peekDeltaHead(body)).toEqual(hash ? { to, more, hash } : { to, more });
    }
  });

  it('falls back to a full decode for other layouts', () => {
    const body = packr.pack({ more: false, kvs: [], to: 9 });
    expect(peekDeltaHead(body)).toEqual({ to: 9, more: false });
  });

  it('reads the MessagePack numbers a stamp can be', () => {
    for (const n of [1_732_370_000_123.25, 1_732_370_000_123, 5, 70_000]) {
      expect(readNumber(packr.pack(n), 0)).toBe(n);
    }
  });
});
