// Where a delivery's latency goes in `tabby` mode. The recorder is the replica's first socket,
// so its arrival minus a stamp is the "upstream" part (API write → API emulator → watch →
// replica's conversion and batching → one socket write); an agent's latency minus the
// upstream latency of the same stamp estimates the fan-out part (the other sockets' writes
// and the agent process reading them). Pure: the agent processes keep their samples in a
// SampleLog and split them against the recorder's map when asked.

import { Histogram, type HistogramJson } from './stats.js';

/** A window's (sent-at, latency) pairs, in two growable arrays (hundreds of thousands per window). */
export class SampleLog {
  private sent = new Float64Array(1024);
  private lat = new Float64Array(1024);
  length = 0;

  push(sentAtMs: number, latencyMs: number): void {
    if (this.length === this.sent.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.sent = grow(this.sent);
      this.lat = grow(this.lat);
    }
    this.sent[this.length] = sentAtMs;
    this.lat[this.length] = latencyMs;
    this.length++;
  }

  forEach(each: (sentAtMs: number, latencyMs: number) => void): void {
    for (let i = 0; i < this.length; i++) each(this.sent[i]!, this.lat[i]!);
  }
}

/**
 * Stamp → upstream latency (ms) from the recorder's DELTA arrivals: the first arrival of each
 * stamp at or after `sinceMs` (a stamp sent again later — a resend, a merged frame — is not a
 * new write). `arrivals` are in arrival order.
 */
export function upstreamLatencies(
  arrivals: readonly { atMs: number; stamps: readonly number[] }[],
  sinceMs: number,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const a of arrivals) for (const s of a.stamps) if (s >= sinceMs && !out.has(s)) out.set(s, a.atMs - s);
  return out;
}

/** One agent process's share of the split; merged with mergeSplits. */
export interface SplitPart {
  /** Agent latency − upstream latency of the same stamp, per sample (below 0 counted as 0). */
  fanout: HistogramJson;
  matched: number;
  /** Samples whose stamp the recorder never received in the window. */
  unmatched: number;
  /** Samples that reached an agent before the recorder (the coordinator was slower to read). */
  beforeRecorder: number;
  /** Samples at or above `tailAboveMs`, and their upstream and total latency summed. */
  tail: { samples: number; upstreamMs: number; latencyMs: number };
}

export function splitSamples(
  log: SampleLog,
  upstream: ReadonlyMap<number, number>,
  tailAboveMs: number,
): SplitPart {
  const fanout = new Histogram();
  const part: Omit<SplitPart, 'fanout'> = {
    matched: 0,
    unmatched: 0,
    beforeRecorder: 0,
    tail: { samples: 0, upstreamMs: 0, latencyMs: 0 },
  };
  log.forEach((sentAt, latency) => {
    const up = upstream.get(sentAt);
    if (up === undefined) {
      part.unmatched++;
      return;
    }
    part.matched++;
    const rest = latency - up;
    if (rest < 0) part.beforeRecorder++;
    fanout.record(Math.max(0, rest));
    if (latency >= tailAboveMs) {
      part.tail.samples++;
      part.tail.upstreamMs += Math.min(up, latency);
      part.tail.latencyMs += latency;
    }
  });
  return { fanout: fanout.toJSON(), ...part };
}

export interface MergedSplit {
  fanout: Histogram;
  matched: number;
  unmatched: number;
  beforeRecorder: number;
  /** Share of the tail samples' latency that was upstream (0..1; NaN without tail samples). */
  tailUpstreamShare: number;
  tailSamples: number;
}

export function mergeSplits(parts: readonly SplitPart[]): MergedSplit {
  const fanout = new Histogram();
  let up = 0;
  let all = 0;
  let tailSamples = 0;
  const sum = (f: (p: SplitPart) => number) => parts.reduce((s, p) => s + f(p), 0);
  for (const p of parts) {
    fanout.merge(p.fanout);
    up += p.tail.upstreamMs;
    all += p.tail.latencyMs;
    tailSamples += p.tail.samples;
  }
  return {
    fanout,
    matched: sum((p) => p.matched),
    unmatched: sum((p) => p.unmatched),
    beforeRecorder: sum((p) => p.beforeRecorder),
    tailUpstreamShare: all > 0 ? up / all : Number.NaN,
    tailSamples,
  };
}
