// The agent's eBPF dataplane: the calculator's state compiled to maps (maps/), encoded for the
// tc program (bpf/policy.c) — only the endpoints whose inputs changed (BpfCompiler) — and
// written by the driver as one atomic version per apply.

import type { Logger } from '../../../model/logger.js';
import { RenderingDataplane } from '../rendering-manager.js';
import { type BpfApplyResult, BpfCompiler, type BpfDriver, type EncodedPolicy } from './index.js';

export class BpfDataplane extends RenderingDataplane<EncodedPolicy, BpfApplyResult> {
  readonly name = 'bpf';

  constructor(log: Logger, driver: BpfDriver) {
    // The compiler keeps each endpoint's programs until an input of theirs changes.
    const compiler = new BpfCompiler();
    super(log, driver, (calc) => compiler.compile(calc));
  }

  protected describe(r: BpfApplyResult) {
    const { attached, detached, adopted, ...stats } = r;
    if (stats.bytes === 0 && attached.length === 0 && detached.length === 0 && !adopted) return undefined;
    return { ...stats, attached: attached.length, detached: detached.length, adopted };
  }
}
