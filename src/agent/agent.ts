// The node agent's policy loop: follows the felix stream, keeps the PolicyCalculator up to
// date, and brings the node's dataplane to it — only once the stream is in sync (as Felix,
// nothing touches the kernel before the first complete state), coalescing bursts, one apply
// at a time, retrying a failed apply with backoff while the last good rules stay in place.
// It never flushes the dataplane because the server went away.

import type { SyncClient } from '../client/sync-client.js';
import { Backoff } from '../model/backoff.js';
import type { Logger } from '../model/logger.js';
import { PolicyCalculator } from './calc/index.js';

/** What the agent needs from a dataplane (iptables, nftables, dry-run), declared here. */
export interface PolicyDataplane {
  readonly name: string;
  /** Makes the node match the calculator's current state; throws if it could not (the last good state stays). */
  sync(calc: PolicyCalculator): Promise<void>;
}

export interface AgentStats {
  applies: number;
  failures: number;
  lastApplyMs: number;
  lastError: string | undefined;
  /** Generation of the stream the dataplane last matched. */
  appliedGeneration: number;
}

export class PolicyAgent {
  readonly calc: PolicyCalculator;
  readonly stats: AgentStats = {
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
    readonly nodeName: string,
    private readonly client: SyncClient,
    private readonly dataplane: PolicyDataplane,
    private readonly log: Logger,
    private readonly coalesceMs = 50,
  ) {
    this.calc = new PolicyCalculator(nodeName);
    client.on('updates', (kvs) => {
      const u = this.calc.apply(kvs);
      if (u.invalid.length > 0)
        this.log.warn({ keys: u.invalid.slice(0, 10) }, 'invalid values treated as deleted');
      this.markDirty();
    });
    client.on('status', (s) => {
      const was = this.inSync;
      this.inSync = s === 'in-sync';
      if (this.inSync && !was) this.markDirty();
    });
  }

  start(): void {
    this.client.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.client.stop();
    await this.running;
  }

  /** Resolves once the dataplane matches everything received so far (tests, `--once`). */
  async settled(): Promise<void> {
    while (this.dirty || this.running || !this.inSync) await new Promise((r) => setTimeout(r, 20));
  }

  private markDirty(): void {
    this.dirty = true;
    if (!this.inSync || this.stopped || this.timer || this.running) return;
    this.timer = setTimeout(() => void this.apply(), this.coalesceMs);
  }

  private async apply(): Promise<void> {
    this.timer = undefined;
    if (!this.dirty || this.stopped) return;
    this.dirty = false;
    const generation = this.client.generation;
    const t0 = performance.now();
    this.running = this.dataplane.sync(this.calc).then(
      () => {
        this.stats.applies++;
        this.stats.lastApplyMs = performance.now() - t0;
        this.stats.appliedGeneration = generation;
        this.backoff.reset();
        this.log.debug({ ms: this.stats.lastApplyMs, generation }, 'dataplane in step');
      },
      (err: Error) => {
        this.stats.failures++;
        this.stats.lastError = err.message;
        this.dirty = true; // try again: the desired state has not been reached
        const delay = this.backoff.next();
        this.log.error(
          { err: err.message, retryInMs: delay },
          'dataplane apply failed; keeping the last good state',
        );
        this.timer = setTimeout(() => void this.apply(), delay);
      },
    );
    await this.running;
    this.running = undefined;
    if (this.dirty && !this.timer && !this.stopped) this.markDirty();
  }
}
