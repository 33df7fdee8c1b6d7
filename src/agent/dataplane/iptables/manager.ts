// The agent's iptables dataplane: the driver diffs the rendered chains against the kernel
// and applies only what changed.

import type { Logger } from '../../../model/logger.js';
import type { PolicyCalculator } from '../../calc/index.js';
import { RenderingDataplane, renderFresh, viaRuleModel } from '../rendering-manager.js';
import {
  type ApplyResult,
  execShim,
  IptablesDriver,
  type RenderedDataplane,
  render,
  renderRestore,
} from './index.js';

export class IptablesDataplane extends RenderingDataplane<RenderedDataplane, ApplyResult> {
  readonly name = 'iptables';

  constructor(log: Logger, driver: IptablesDriver = new IptablesDriver(execShim())) {
    super(log, driver, viaRuleModel(render));
  }

  protected describe(r: ApplyResult) {
    if (r.chainsWritten.length === 0 && r.chainsDeleted.length === 0 && !r.hookRewritten) return undefined;
    return { written: r.chainsWritten.length, deleted: r.chainsDeleted.length, hook: r.hookRewritten };
  }
}

/** The iptables-restore text the dataplane would apply from scratch (for --dry-run). */
export function dryRunIptables(calc: PolicyCalculator): Record<string, string> {
  return { 'iptables.rules': renderRestore(renderFresh(render, calc)).text };
}
