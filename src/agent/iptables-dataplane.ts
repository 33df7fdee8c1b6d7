// The agent's iptables dataplane: render the calculator's state (pure) and let the driver
// diff it against the kernel and apply only what changed. Renderer warnings (rules that
// cannot be expressed yet) are logged once per distinct text.

import type { Logger } from '../model/logger.js';
import type { PolicyDataplane } from './agent.js';
import type { PolicyCalculator } from './calc/index.js';
import { execShim, IptablesDriver, render, renderRestore, snapshotOf } from './dataplane/iptables/index.js';

export class IptablesDataplane implements PolicyDataplane {
  readonly name = 'iptables';
  readonly driver: IptablesDriver;
  private readonly warned = new Set<string>();

  constructor(
    private readonly log: Logger,
    driver?: IptablesDriver,
  ) {
    this.driver = driver ?? new IptablesDriver(execShim());
  }

  async sync(calc: PolicyCalculator): Promise<void> {
    const rendered = render(snapshotOf(calc));
    for (const w of rendered.warnings) {
      if (this.warned.has(w)) continue;
      this.warned.add(w);
      this.log.warn({ warning: w }, 'rule not rendered');
    }
    const r = await this.driver.apply(rendered);
    if (r.chainsWritten.length > 0 || r.chainsDeleted.length > 0 || r.hookRewritten)
      this.log.info(
        { written: r.chainsWritten.length, deleted: r.chainsDeleted.length, hook: r.hookRewritten },
        'iptables updated',
      );
  }
}

/** The iptables-restore text the dataplane would apply from scratch (for --dry-run). */
export function dryRunIptables(calc: PolicyCalculator): Record<string, string> {
  return { 'iptables.rules': renderRestore(render(snapshotOf(calc))).text };
}
