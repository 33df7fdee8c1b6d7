// The per-endpoint policy plan: for each direction the tiers that apply, in Felix's order,
// each with its policies in order, then the endpoint's profiles (felix/calc/policy_sorter.go,
// policy_resolver.go; the evaluation itself is in felix/rules/endpoints.go). Plans refer to
// policies and profiles by id, so a change to a policy's rules changes its rule program,
// not the plans of the endpoints it applies to.

import type { EndpointValue } from '../../model/values/endpoint.js';
import type { PolicyValue, TierValue } from '../../model/values/policy.js';
import {
  comparePolicies,
  compareTiers,
  isNormalPolicy,
  type TierKey,
} from '../../model/values/policy-order.js';
import { deepFreeze } from './rule-scan.js';

export interface PolicyRef {
  /** The policy's model key. */
  readonly id: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export interface TierPlan {
  readonly name: string;
  /** What happens at the end of the tier when no rule decided: drop, or go to the next tier. */
  readonly defaultAction: 'deny' | 'pass';
  readonly policies: readonly PolicyRef[];
}

export interface DirectionPlan {
  readonly tiers: readonly TierPlan[];
  /** Profile names in the endpoint's order (a missing profile drops everything). */
  readonly profiles: readonly string[];
}

/**
 * What only host endpoints have (felix/calc/event_sequencer.go splits a HEP's tiers this way):
 * doNotTrack policies (raw table, both directions), preDNAT policies (mangle PREROUTING,
 * ingress only) and the applyOnForward subset of the normal policies (forwarded traffic
 * through the interface). doNotTrack and preDNAT policies are never normal policies. Their
 * tiers carry defaultAction 'pass': Felix renders no end-of-tier drop in raw and mangle
 * chains, since the filter table's normal policy still follows.
 */
export interface HostPlan {
  readonly untracked: { readonly ingress: readonly TierPlan[]; readonly egress: readonly TierPlan[] };
  readonly preDNAT: { readonly ingress: readonly TierPlan[] };
  readonly forward: { readonly ingress: readonly TierPlan[]; readonly egress: readonly TierPlan[] };
}

export interface EndpointPlan {
  /** The endpoint's model key. */
  readonly id: string;
  readonly kind: 'workload' | 'host';
  /** For a host endpoint: an interface, '*' (all of the host's interfaces) or '' (expectedIPs only). */
  readonly interfaceName: string;
  readonly nets: readonly string[];
  readonly ingress: DirectionPlan;
  readonly egress: DirectionPlan;
  /** Host endpoints only. */
  readonly host?: HostPlan;
}

const isEnforced = (p: PolicyValue): boolean => !p.kind.startsWith('Staged');

function tierPlans(
  policies: readonly PolicyValue[],
  tiers: ReadonlyMap<string, TierValue>,
  dir: 'ingress' | 'egress',
  include: (p: PolicyValue) => boolean,
  forcePass = false,
): TierPlan[] {
  const byTier = new Map<string, PolicyValue[]>();
  for (const p of policies) {
    if (!p[dir] || !include(p)) continue;
    const list = byTier.get(p.tier);
    if (list === undefined) byTier.set(p.tier, [p]);
    else list.push(p);
  }
  const keys = [...byTier.keys()].map((name): TierKey => {
    const t = tiers.get(name);
    return { name, valid: t !== undefined, order: t?.order };
  });
  keys.sort(compareTiers);
  return keys.map((k) => ({
    name: k.name,
    // An invalid tier (no Tier resource) has an empty default action, which drops.
    defaultAction: forcePass ? 'pass' : (tiers.get(k.name)?.defaultAction ?? 'deny'),
    policies: byTier
      .get(k.name)!
      .sort(comparePolicies)
      .map((p) => ({ id: p.id, kind: p.kind, namespace: p.namespace, name: p.name })),
  }));
}

function direction(
  policies: readonly PolicyValue[],
  tiers: ReadonlyMap<string, TierValue>,
  dir: 'ingress' | 'egress',
  profiles: readonly string[],
): DirectionPlan {
  return { tiers: tierPlans(policies, tiers, dir, isNormalPolicy), profiles: [...profiles] };
}

function hostPlan(policies: readonly PolicyValue[], tiers: ReadonlyMap<string, TierValue>): HostPlan {
  const untracked = (p: PolicyValue) => isEnforced(p) && p.doNotTrack;
  const preDNAT = (p: PolicyValue) => isEnforced(p) && !p.doNotTrack && p.preDNAT;
  const forward = (p: PolicyValue) => isNormalPolicy(p) && p.applyOnForward;
  return {
    untracked: {
      ingress: tierPlans(policies, tiers, 'ingress', untracked, true),
      egress: tierPlans(policies, tiers, 'egress', untracked, true),
    },
    // preDNAT policies' egress rules never apply (Felix drops them).
    preDNAT: { ingress: tierPlans(policies, tiers, 'ingress', preDNAT, true) },
    forward: {
      ingress: tierPlans(policies, tiers, 'ingress', forward),
      egress: tierPlans(policies, tiers, 'egress', forward),
    },
  };
}

/** Every tier list of a plan (normal, then the host-only ones): what refers to policies. */
export function allTierLists(plan: EndpointPlan): (readonly TierPlan[])[] {
  const lists = [plan.ingress.tiers, plan.egress.tiers];
  if (plan.host !== undefined)
    lists.push(
      plan.host.untracked.ingress,
      plan.host.untracked.egress,
      plan.host.preDNAT.ingress,
      plan.host.forward.ingress,
      plan.host.forward.egress,
    );
  return lists;
}

/** The plan of one endpoint, given the policies whose selectors match it (in any order). */
export function resolvePlan(
  ep: EndpointValue,
  matching: readonly PolicyValue[],
  tiers: ReadonlyMap<string, TierValue>,
): EndpointPlan {
  return deepFreeze({
    id: ep.id,
    kind: ep.kind,
    interfaceName: ep.interfaceName,
    nets: [...ep.nets],
    ingress: direction(matching, tiers, 'ingress', ep.profileIds),
    egress: direction(matching, tiers, 'egress', ep.profileIds),
    ...(ep.kind === 'host' ? { host: hostPlan(matching, tiers) } : {}),
  });
}
