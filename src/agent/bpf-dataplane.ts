// The agent's eBPF dataplane: the calculator's state compiled to maps (maps/), encoded for the
// tc program (bpf/policy.c) and written by the driver as one atomic version per apply.

import type { Logger } from '../model/logger.js';
import {
  type BpfApplyResult,
  type BpfDriver,
  type EncodedPolicy,
  encodePolicy,
} from './dataplane/bpf/index.js';
import { mapsOf } from './dataplane/maps/index.js';
import { RenderingDataplane } from './rendering-dataplane.js';

export class BpfDataplane extends RenderingDataplane<EncodedPolicy, BpfApplyResult> {
  readonly name = 'bpf';

  constructor(log: Logger, driver: BpfDriver) {
    // The maps compiler reads the calculator itself (named ports need it); no render cache yet.
    super(log, driver, (calc) => encodePolicy(mapsOf(calc)));
  }

  protected describe(r: BpfApplyResult) {
    const { attached, detached, adopted, ...stats } = r;
    if (stats.bytes === 0 && attached.length === 0 && detached.length === 0 && !adopted) return undefined;
    return { ...stats, attached: attached.length, detached: detached.length, adopted };
  }
}
