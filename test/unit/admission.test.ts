// Snapshot admission on an injected clock: slots, FIFO order, places freed by leavers, and
// the byte budget's bound, without timing anything.

import { describe, expect, it } from 'vitest';
import { type AdmissionClock, SnapshotAdmission } from '../../src/server/admission.js';

class FakeClock implements AdmissionClock {
  t = 0;
  private timers: { at: number; fn: () => void }[] = [];
  now = (): number => this.t;
  later = (fn: () => void, ms: number): (() => void) => {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  };
  /** Moves time on, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

function setup(maxInFlight: number, bytesPerSecond = 0) {
  const clock = new FakeClock();
  const started: string[] = [];
  const a = new SnapshotAdmission<string>({ maxInFlight, bytesPerSecond }, (who) => started.push(who), clock);
  return { clock, started, a };
}

describe('snapshot admission', () => {
  it('admits at most K at once, the rest in FIFO order as slots free', () => {
    const { a, started } = setup(2);
    const waiting = ['a', 'b', 'c', 'd', 'e'].map((w) => a.request(w));
    expect(waiting).toEqual([false, false, true, true, true]);
    expect(started).toEqual(['a', 'b']);
    expect([...a.places()].map(([w, p]) => [w, p.position, p.queued])).toEqual([
      ['c', 1, 3],
      ['d', 2, 3],
      ['e', 3, 3],
    ]);
    a.finished('b');
    expect(started).toEqual(['a', 'b', 'c']);
    a.finished('a');
    a.finished('c');
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(a.maxInFlightSeen).toBe(2);
    expect(a.waitCounts.reduce((x, y) => x + y, 0)).toBe(5);
  });

  it('a waiting client that leaves frees its place; one writing frees its slot', () => {
    const { a, started } = setup(1);
    for (const w of ['a', 'b', 'c', 'd']) a.request(w);
    a.forget('b');
    expect([...a.places()].map(([w, p]) => [w, p.position])).toEqual([
      ['c', 1],
      ['d', 2],
    ]);
    a.forget('a'); // gone mid-snapshot: its slot goes to the next in line
    expect(started).toEqual(['a', 'c']);
    expect(a.inFlight).toBe(1);
  });

  it('asking again keeps the place; finished() for someone not writing changes nothing', () => {
    const { a, started } = setup(1);
    a.request('a');
    a.request('b');
    a.request('c');
    expect(a.request('b')).toBe(true);
    a.finished('c');
    expect(started).toEqual(['a']);
    expect([...a.places()].map(([w]) => w)).toEqual(['b', 'c']);
  });

  it('releaseAll empties the line in order and admits nobody', () => {
    const { a, started } = setup(1);
    for (const w of ['a', 'b', 'c']) a.request(w);
    expect(a.releaseAll()).toEqual(['b', 'c']);
    a.finished('a');
    expect(started).toEqual(['a']);
    expect(a.queued).toBe(0);
  });

  it('0 = unlimited slots', () => {
    const { a, started } = setup(0);
    for (let i = 0; i < 100; i++) a.request(`c${i}`);
    expect(started).toHaveLength(100);
  });

  it('the byte budget bounds snapshot bytes started by time t to R·(1 s + t) + one snapshot', () => {
    const R = 10_000;
    const clock = new FakeClock();
    const sizes = [4_000, 12_000, 3_000, 25_000, 1_000, 7_000, 9_000, 2_000];
    const startedAt: [number, number][] = [];
    // As the server does: a snapshot's bytes are charged as soon as it starts (inside onAdmit).
    const a: SnapshotAdmission<number> = new SnapshotAdmission<number>(
      { maxInFlight: 0, bytesPerSecond: R },
      (i) => {
        startedAt.push([clock.now(), sizes[i]!]);
        a.charge(sizes[i]!);
      },
      clock,
    );
    for (let i = 0; i < sizes.length; i++) a.request(i);
    clock.advance(60_000); // the refill timer admits the rest
    expect(startedAt).toHaveLength(sizes.length);
    const largest = Math.max(...sizes);
    let bytes = 0;
    for (const [at, s] of startedAt) {
      bytes += s;
      expect(bytes).toBeLessThanOrEqual(R * (1 + at / 1000) + largest);
    }
    // ...and holds back no more than needed: each started as soon as the budget was back to 0.
    bytes = 0;
    for (const [at, s] of startedAt) {
      expect(at).toBeLessThanOrEqual(Math.max(0, ((bytes - R) / R) * 1000) + 1);
      bytes += s;
    }
  });

  it('estimates the wait from the slots turnover', () => {
    const { a, clock } = setup(1);
    a.request('a');
    clock.advance(2_000);
    a.request('b');
    a.request('c');
    a.finished('a'); // 2 s per snapshot so far
    expect([...a.places()].map(([, p]) => p.etaMs)).toEqual([2_000]);
  });

  it('refuses negative limits at construction', () => {
    expect(() => new SnapshotAdmission({ maxInFlight: -1, bytesPerSecond: 0 }, () => {})).toThrow(RangeError);
  });
});
