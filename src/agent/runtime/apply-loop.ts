// One "bring the node to the desired state" loop, shared by every part of the agent (policy,
// BIRD, routes, WireGuard): nothing is applied before the stream is first in sync (as Felix
// and confd, never act on a partial world), bursts are coalesced, one apply runs at a time,
// and a failed apply is retried with backoff while the last good state stays in place.

import { Backoff } from '../../model/backoff.js';
import type { Logger } from '../../model/logger.js';

export interface ApplyStats {
  applies: number;
  failures: number;
  lastApplyMs: number;
  lastError: string | undefined;
  /** Stream generation the part last matched (-1 before the first apply). */
  appliedGeneration: number;
}

export class ApplyLoop {
  readonly stats: ApplyStats = {
    applies: 0,
    failures: 0,
    lastApplyMs: 0,
    lastError: undefined,
    appliedGeneration: -1,
  };
  private inSync = false;
  private dirty = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 30_000, multiplier: 2, jitter: 0.3 });
  private stopped = false;

  constructor(
    readonly name: string,
    /** Makes the node match the current desired state; throws if it could not. */
    private readonly applyFn: () => Promise<void>,
    /** The stream generation the desired state reflects (recorded on success). */
    private readonly generation: () => number,
    private readonly log: Logger,
    private readonly coalesceMs = 50,
    /** What the part programmed, counted (logged with its first successful apply). */
    private readonly counts: () => Record<string, number> = () => ({}),
  ) {}

  /** The desired state changed. */
  markDirty(): void {
    this.dirty = true;
    this.schedule();
  }

  /** The stream's sync status; the first in-sync starts applying. */
  setInSync(inSync: boolean): void {
    const was = this.inSync;
    this.inSync = inSync;
    if (inSync && !was) this.markDirty();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Resolves once the node matches everything received so far (tests, `--once`). */
  async settled(): Promise<void> {
    while (this.dirty || this.running || !this.inSync) await new Promise((r) => setTimeout(r, 20));
  }

  private schedule(): void {
    if (!this.inSync || this.stopped || this.timer || this.running) return;
    this.timer = setTimeout(() => void this.apply(), this.coalesceMs);
  }

  private async apply(): Promise<void> {
    this.timer = undefined;
    if (!this.dirty || this.stopped) return;
    this.dirty = false;
    const generation = this.generation();
    const t0 = performance.now();
    this.running = this.applyFn().then(
      () => {
        this.stats.applies++;
        this.stats.lastApplyMs = performance.now() - t0;
        this.stats.appliedGeneration = generation;
        this.stats.lastError = undefined;
        this.backoff.reset();
        const ms = Math.round(this.stats.lastApplyMs);
        // The first apply is the moment the node is programmed at all: worth an info line.
        if (this.stats.applies === 1)
          this.log.info({ part: this.name, generation, ms, ...this.counts() }, 'first rules applied');
        else this.log.debug({ part: this.name, ms, generation }, 'in step');
      },
      (err: Error) => {
        this.stats.failures++;
        this.stats.lastError = err.message;
        this.dirty = true; // the desired state has not been reached: try again
        const delay = this.backoff.next();
        this.log.error(
          { part: this.name, err: err.message, retryInMs: delay },
          'apply failed; keeping the last good state',
        );
        this.timer = setTimeout(() => void this.apply(), delay);
      },
    );
    await this.running;
    this.running = undefined;
    if (this.dirty && !this.timer) this.schedule();
  }
}
