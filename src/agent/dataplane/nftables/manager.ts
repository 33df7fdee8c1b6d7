// The agent's nftables dataplane: the driver replaces the one table atomically when its
// rendered content changed.

import type { Logger } from '../../../model/logger.js';
import type { PolicyCalculator } from '../../calc/index.js';
import { RenderingDataplane, renderFresh, viaRuleModel } from '../rendering-manager.js';
import {
  execShim,
  type NftApplyResult,
  NftablesDriver,
  type RenderedNftables,
  render,
  renderReplace,
} from './index.js';

export class NftablesDataplane extends RenderingDataplane<RenderedNftables, NftApplyResult> {
  readonly name = 'nftables';

  constructor(log: Logger, driver: NftablesDriver = new NftablesDriver(execShim())) {
    super(log, driver, viaRuleModel(render));
  }

  protected describe(r: NftApplyResult, rendered: RenderedNftables) {
    if (!r.applied) return undefined;
    return { chains: r.chainsChanged.length, sets: r.setsChanged.length, hash: rendered.hash };
  }
}

/** The nft script the dataplane would apply from scratch (for --dry-run). */
export function dryRunNftables(calc: PolicyCalculator): Record<string, string> {
  return { 'nftables.nft': renderReplace(renderFresh(render, calc)) };
}
