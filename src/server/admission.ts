// Snapshot admission: at most `maxInFlight` snapshots being written at once, and optionally
// at most `bytesPerSecond` of snapshot bytes on average; the rest wait in FIFO order. After a
// replica restart every agent reconnects at once, and N whole snapshots written together
// saturate a narrow link until the write deadline drops them and they come back (calico#13369).
// Resumes (deltas) never come here. No sockets: the server says when a snapshot starts, how
// big it was and when its socket has taken it; this module says who goes next.

export interface AdmissionOptions {
  /** Snapshots written at once at most; 0 = unlimited. */
  maxInFlight: number;
  /** Average snapshot bytes per second at most (1 s of burst); 0 = unlimited. */
  bytesPerSecond: number;
}

/** Upper bounds, in seconds, of the wait-time histogram (tabby_snapshot_wait_seconds). */
export const WAIT_BUCKETS_S = [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

export interface AdmissionClock {
  now(): number;
  /** Runs fn after ms; returns a cancel function. */
  later(fn: () => void, ms: number): () => void;
}

const REAL_CLOCK: AdmissionClock = {
  now: () => Date.now(),
  later: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Where a waiting client stands: 1-based position among `queued`, and a rough estimate. */
export interface QueuePlace {
  position: number;
  queued: number;
  etaMs: number;
}

export class SnapshotAdmission<T> {
  /** Waiting, with the time each started waiting; a Map keeps insertion (FIFO) order. */
  private readonly waiting = new Map<T, number>();
  /** Writing a snapshot, with the time it was admitted. */
  private readonly writing = new Map<T, number>();
  /** Byte budget, refilled at bytesPerSecond up to one second's worth; negative = in debt. */
  private budget: number;
  private budgetAtMs: number;
  private cancelRefill: (() => void) | undefined;
  /** Moving averages for the ETA: a snapshot's write time and size. */
  private avgWriteMs = 0;
  private avgBytes = 0;
  /** The most snapshots ever in flight at once (a metric, and what tests check K against). */
  maxInFlightSeen = 0;
  /** Snapshots admitted after waiting, and the wait-time histogram (counts per bucket, +Inf last). */
  readonly waitCounts: number[] = new Array(WAIT_BUCKETS_S.length + 1).fill(0);
  waitSumMs = 0;

  constructor(
    private readonly opts: AdmissionOptions,
    /** Called when a waiting client gets its slot: the caller starts its snapshot now. */
    private readonly onAdmit: (who: T) => void,
    private readonly clock: AdmissionClock = REAL_CLOCK,
  ) {
    if (!(opts.maxInFlight >= 0) || !(opts.bytesPerSecond >= 0))
      throw new RangeError('snapshot admission limits must be non-negative');
    this.budget = opts.bytesPerSecond;
    this.budgetAtMs = clock.now();
  }

  get inFlight(): number {
    return this.writing.size;
  }

  get queued(): number {
    return this.waiting.size;
  }

  isWaiting(who: T): boolean {
    return this.waiting.has(who);
  }

  isWriting(who: T): boolean {
    return this.writing.has(who);
  }

  /**
   * Asks for a snapshot slot, in FIFO order. Whoever gets one (this client now, if it is
   * first in line and a slot and the budget allow) is handed to onAdmit before this returns.
   * Returns true if `who` is still waiting. A client already waiting keeps its place.
   */
  request(who: T): boolean {
    if (this.writing.has(who)) return false;
    if (!this.waiting.has(who)) this.waiting.set(who, this.clock.now());
    this.pump();
    return this.waiting.has(who);
  }

  /** The snapshot just written to `who` was this many bytes: charged to the byte budget. */
  charge(bytes: number): void {
    if (this.opts.bytesPerSecond === 0) return;
    this.refill();
    this.budget -= bytes;
    this.avgBytes = this.avgBytes === 0 ? bytes : this.avgBytes * 0.8 + bytes * 0.2;
  }

  /** The socket of `who` has taken its snapshot: its slot goes to the next in line. */
  finished(who: T): void {
    const since = this.writing.get(who);
    if (since === undefined) return;
    this.writing.delete(who);
    const took = this.clock.now() - since;
    this.avgWriteMs = this.avgWriteMs === 0 ? took : this.avgWriteMs * 0.8 + took * 0.2;
    this.pump();
  }

  /** `who` is gone (closed, or its connection ended): it frees its place or its slot. */
  forget(who: T): void {
    if (this.waiting.delete(who)) return;
    if (this.writing.delete(who)) this.pump();
  }

  /** Empties the queue (drain, shutdown) and returns who was waiting, in order. */
  releaseAll(): T[] {
    const out = [...this.waiting.keys()];
    this.waiting.clear();
    this.cancelRefill?.();
    this.cancelRefill = undefined;
    return out;
  }

  /** Every waiting client with its place, first in line first. */
  *places(): IterableIterator<[T, QueuePlace]> {
    let position = 0;
    for (const who of this.waiting.keys()) yield [who, this.place(++position)];
  }

  /** The place at a 1-based position of the current queue. */
  place(position: number): QueuePlace {
    return { position, queued: this.waiting.size, etaMs: this.etaMs(position) };
  }

  /** Clients whose snapshot is being written. */
  writers(): IterableIterator<T> {
    return this.writing.keys();
  }

  /** A rough wait: the slots' turnover, or the byte budget, whichever is slower. */
  private etaMs(position: number): number {
    const k = this.opts.maxInFlight;
    const bySlots = k === 0 ? 0 : Math.ceil(position / k) * this.avgWriteMs;
    const r = this.opts.bytesPerSecond;
    const byBytes = r === 0 ? 0 : (Math.max(0, position * this.avgBytes - this.budget) / r) * 1000;
    return Math.round(Math.max(bySlots, byBytes));
  }

  /** Admits waiting clients while slots and budget allow. */
  private pump(): void {
    while (this.waiting.size > 0 && this.canStart()) {
      const [who, since] = this.waiting.entries().next().value!;
      this.waiting.delete(who);
      this.recordWait(this.clock.now() - since);
      this.start(who);
      this.onAdmit(who);
    }
    this.scheduleRefill();
  }

  private canStart(): boolean {
    const k = this.opts.maxInFlight;
    if (k > 0 && this.writing.size >= k) return false;
    if (this.opts.bytesPerSecond === 0) return true;
    this.refill();
    return this.budget >= 0;
  }

  private start(who: T): void {
    this.writing.set(who, this.clock.now());
    if (this.writing.size > this.maxInFlightSeen) this.maxInFlightSeen = this.writing.size;
  }

  private refill(): void {
    const now = this.clock.now();
    const r = this.opts.bytesPerSecond;
    this.budget = Math.min(r, this.budget + ((now - this.budgetAtMs) * r) / 1000);
    this.budgetAtMs = now;
  }

  /** Queued behind an empty budget (not a full set of slots): wake when it is back to zero. */
  private scheduleRefill(): void {
    if (this.cancelRefill || this.waiting.size === 0 || this.opts.bytesPerSecond === 0) return;
    const k = this.opts.maxInFlight;
    if (k > 0 && this.writing.size >= k) return; // a finished() will pump
    this.refill();
    if (this.budget >= 0) return;
    const ms = Math.ceil((-this.budget * 1000) / this.opts.bytesPerSecond);
    this.cancelRefill = this.clock.later(() => {
      this.cancelRefill = undefined;
      this.pump();
    }, ms);
  }

  private recordWait(ms: number): void {
    this.waitSumMs += ms;
    const i = WAIT_BUCKETS_S.findIndex((b) => ms <= b * 1000);
    this.waitCounts[i === -1 ? WAIT_BUCKETS_S.length : i]!++;
  }
}
