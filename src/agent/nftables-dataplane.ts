// The agent's nftables dataplane: render the calculator's state (pure) as one table and let
// the driver replace it atomically when it changed. Renderer warnings (rules that cannot be
// expressed yet) are logged once per distinct text.

import type { Logger } from '../model/logger.js';
import type { PolicyDataplane } from './agent.js';
import type { PolicyCalculator } from './calc/index.js';
import { execShim, NftablesDriver, render, renderReplace, snapshotOf } from './dataplane/nftables/index.js';

export class NftablesDataplane implements PolicyDataplane {
  readonly name = 'nftables';
  readonly driver: NftablesDriver;
  private readonly warned = new Set<string>();

  constructor(
    private readonly log: Logger,
    driver?: NftablesDriver,
  ) {
    this.driver = driver ?? new NftablesDriver(execShim());
  }

  async sync(calc: PolicyCalculator): Promise<void> {
    const rendered = render(snapshotOf(calc));
    for (const w of rendered.warnings) {
      if (this.warned.has(w)) continue;
      this.warned.add(w);
      this.log.warn({ warning: w }, 'rule not rendered');
    }
    const r = await this.driver.apply(rendered);
    if (r.applied)
      this.log.info(
        { chains: r.chainsChanged.length, sets: r.setsChanged.length, hash: rendered.hash },
        'nftables table replaced',
      );
  }
}

/** The nft script the dataplane would apply from scratch (for --dry-run). */
export function dryRunNftables(calc: PolicyCalculator): Record<string, string> {
  return { 'nftables.nft': renderReplace(render(snapshotOf(calc))) };
}
