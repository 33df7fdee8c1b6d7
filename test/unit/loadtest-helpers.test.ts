// Pure helpers of the load test: histogram percentiles, phase specs, the lean client's
// shortcuts through DELTA bodies (checked against what the real encoder writes), and the
// split of a delivery's latency at the replica's first socket (upstream vs fan-out).

import { describe, expect, it } from 'vitest';
import { peekDeltaHead, readNumber } from '../../loadtest/lean-client.js';
import { loopDelayFromMetrics } from '../../loadtest/loop-delay.js';
import { parsePhases } from '../../loadtest/settings.js';
import { Histogram, percentile } from '../../loadtest/stats.js';
import { mergeSplits, SampleLog, splitSamples, upstreamLatencies } from '../../loadtest/upstream.js';
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

describe('upstream / fan-out split', () => {
  // Two writes stamped at 1000 and 2000 ms. The recorder got the first 30 ms after its write
  // (and again in a later frame), the second 5 ms after; a stamp from before the window is ignored.
  const upstream = upstreamLatencies(
    [
      { atMs: 990, stamps: [900] },
      { atMs: 1030, stamps: [1000] },
      { atMs: 2005, stamps: [2000, 1000] },
    ],
    950,
  );

  it('takes the recorder’s first arrival of each stamp in the window', () => {
    expect([...upstream]).toEqual([
      [1000, 30],
      [2000, 5],
    ]);
  });

  it('splits each agent sample against the upstream latency of its own stamp', () => {
    const log = new SampleLog();
    // Agent latencies: stamp 1000 → 40 and 130 ms; stamp 2000 → 25 ms; 3000 unknown to the recorder.
    for (const [sent, lat] of [
      [1000, 40],
      [1000, 130],
      [2000, 25],
      [3000, 50],
    ] as const)
      log.push(sent, lat);
    const part = splitSamples(log, upstream, 100);
    expect(part).toMatchObject({ matched: 3, unmatched: 1, beforeRecorder: 0 });
    const m = mergeSplits([part, splitSamples(new SampleLog(), upstream, 100)]);
    // Fan-out per sample: 40−30, 130−30, 25−5. Pairing a sample with another stamp's upstream
    // (or the mean upstream) would give 35/125/-5 or 22.5/112.5/7.5 instead.
    expect(m.fanout.count).toBe(3);
    expect(Math.round(m.fanout.min)).toBe(10);
    expect(Math.round(m.fanout.max)).toBe(100);
    expect(Math.round(m.fanout.percentile(50))).toBe(20);
    // The one sample at or above 100 ms: 30 of its 130 ms were upstream.
    expect(m.tailSamples).toBe(1);
    expect(m.tailUpstreamShare).toBeCloseTo(30 / 130, 6);
  });

  it('counts an agent that read before the recorder, and keeps its fan-out at 0', () => {
    const log = new SampleLog();
    log.push(1000, 20); // the recorder's 30 ms came later than this agent's 20
    const m = mergeSplits([splitSamples(log, upstream, 1_000)]);
    expect(m.beforeRecorder).toBe(1);
    expect(m.fanout.max).toBe(0);
    expect(m.tailUpstreamShare).toBeNaN();
  });

  it('keeps every sample past its initial capacity', () => {
    const log = new SampleLog();
    for (let i = 0; i < 5_000; i++) log.push(i, i + 1);
    let sum = 0;
    log.forEach((s, l) => {
      sum += l - s;
    });
    expect(log.length).toBe(5_000);
    expect(sum).toBe(5_000);
  });
});

describe('replica event-loop delay from /metrics', () => {
  it('reads prom-client’s p99 and max gauges in ms', () => {
    const text = [
      '# HELP tabby_nodejs_eventloop_lag_max_seconds The maximum recorded event loop delay.',
      'tabby_nodejs_eventloop_lag_p90_seconds 0.011',
      'tabby_nodejs_eventloop_lag_p99_seconds 0.0125',
      'tabby_nodejs_eventloop_lag_max_seconds{worker="0"} 0.161',
      'tabby_nodejs_eventloop_lag_seconds 0.002',
    ].join('\n');
    expect(loopDelayFromMetrics(text)).toEqual({ p99Ms: 12.5, maxMs: 161 });
    expect(loopDelayFromMetrics('tabby_nodejs_eventloop_lag_p99_seconds 0.01')).toBeUndefined();
  });
});
