// The node agent's policy part: follows the felix stream, keeps the PolicyCalculator up to
// date, and brings the node's dataplane to it through an ApplyLoop (nothing before the
// first in-sync, bursts coalesced, failures retried while the last good rules stay). It
// never flushes the dataplane because the server went away.

import type { SyncClient } from '../../client/sync-client.js';
import type { Logger } from '../../model/logger.js';
import { PolicyCalculator } from '../calc/index.js';
import { ApplyLoop, type ApplyStats } from './apply-loop.js';
import type { PolicyDataplane } from './parts.js';

export type AgentStats = ApplyStats;

export class PolicyAgent {
  readonly calc: PolicyCalculator;
  private readonly loop: ApplyLoop;

  constructor(
    readonly nodeName: string,
    private readonly client: SyncClient,
    dataplane: PolicyDataplane,
    private readonly log: Logger,
    coalesceMs = 50,
  ) {
    this.calc = new PolicyCalculator(nodeName);
    this.loop = new ApplyLoop(
      `policy/${dataplane.name}`,
      () => dataplane.sync(this.calc),
      () => client.generation,
      log,
      coalesceMs,
      () => ({
        endpoints: this.calc.plans().size,
        policies: this.calc.model.policies.size,
        ipSets: this.calc.ipSetIds().length,
      }),
    );
    client.on('updates', (kvs) => {
      const u = this.calc.apply(kvs);
      dataplane.observe?.(u);
      if (u.invalid.length > 0)
        this.log.warn({ keys: u.invalid.slice(0, 10) }, 'invalid values treated as deleted');
      this.loop.markDirty();
    });
    client.on('status', (s) => this.loop.setInSync(s === 'in-sync'));
  }

  /** The part's name in logs and metrics: `policy/<dataplane>`. */
  get name(): string {
    return this.loop.name;
  }

  get stats(): AgentStats {
    return this.loop.stats;
  }

  start(): void {
    this.client.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.client.stop();
  }

  /** Resolves once the dataplane matches everything received so far (tests, `--once`). */
  settled(): Promise<void> {
    return this.loop.settled();
  }
}
