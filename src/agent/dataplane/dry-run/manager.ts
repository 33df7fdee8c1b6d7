// `--dry-run DIR`: a dataplane that writes what it would program instead of programming it —
// the endpoint plans, the rule programs they use and the IP sets, as JSON files replaced
// atomically on every apply (and, from renderers that provide it, their rendered text).

import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicyCalculator } from '../../calc/index.js';
import type { PolicyDataplane } from '../../runtime/parts.js';

export type ExtraRender = (calc: PolicyCalculator) => Record<string, string>;

export class DryRunDataplane implements PolicyDataplane {
  readonly name = 'dry-run';
  writes = 0;

  constructor(
    private readonly dir: string,
    /** Extra files (name → text), e.g. the iptables-restore input a renderer produces. */
    private readonly extra?: ExtraRender,
  ) {}

  async sync(calc: PolicyCalculator): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const plans = [...calc.plans().values()];
    const policies = new Set<string>();
    const profiles = new Set<string>();
    for (const p of plans) {
      for (const dir of [p.ingress, p.egress]) {
        for (const t of dir.tiers) for (const pol of t.policies) policies.add(pol.id);
        for (const prof of dir.profiles) profiles.add(prof);
      }
    }
    const programs = {
      policies: Object.fromEntries([...policies].sort().map((id) => [id, calc.policyProgram(id) ?? null])),
      profiles: Object.fromEntries([...profiles].sort().map((id) => [id, calc.profileProgram(id) ?? null])),
    };
    const ipSets = Object.fromEntries(
      calc
        .ipSetIds()
        .sort()
        .map((id) => [id, calc.ipSetMembers(id)]),
    );
    const files: Record<string, string> = {
      'plans.json': JSON.stringify(plans, null, 2),
      'programs.json': JSON.stringify(programs, null, 2),
      'ipsets.json': JSON.stringify(ipSets, null, 2),
      ...this.extra?.(calc),
    };
    for (const [name, text] of Object.entries(files)) {
      const tmp = join(this.dir, `.${name}.tmp`);
      await writeFile(tmp, `${text.endsWith('\n') ? text : `${text}\n`}`);
      await rename(tmp, join(this.dir, name));
    }
    this.writes++;
  }
}
