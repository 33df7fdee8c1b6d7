// The order in which Felix applies tiers and policies (felix/calc/policy_sorter.go), shared by
// the agent's plans and the linter's tier findings so both order them alike.

import type { PolicyValue } from './policy.js';

export interface TierKey {
  readonly name: string;
  readonly valid: boolean;
  readonly order: number | undefined;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** TierLess: valid tiers first, then order ascending with no order last, then name. */
export function compareTiers(a: TierKey, b: TierKey): number {
  if (a.valid !== b.valid) return a.valid ? -1 : 1;
  if (a.order !== b.order) {
    if (a.order === undefined) return 1;
    if (b.order === undefined) return -1;
    return a.order - b.order;
  }
  return cmp(a.name, b.name);
}

/** Within a tier: order (unset = +Inf), then the string "name/namespace/kind". */
export function comparePolicies(a: PolicyValue, b: PolicyValue): number {
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  return cmp(`${a.name}/${a.namespace}/${a.kind}`, `${b.name}/${b.namespace}/${b.kind}`);
}

/**
 * Policies of the normal (conntracked, post-DNAT) dataplane path. doNotTrack and preDNAT
 * policies apply only to host endpoints, in their own raw/mangle chains (HostPlan).
 * Staged* kinds are never enforced; leaving them out gives the verdicts Felix's "a tier
 * whose applicable policies are all staged passes" rule gives.
 */
export const isNormalPolicy = (p: PolicyValue): boolean =>
  !p.doNotTrack && !p.preDNAT && !p.kind.startsWith('Staged');
