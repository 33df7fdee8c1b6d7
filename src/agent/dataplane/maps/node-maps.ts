// The maps any node would load, as this node's calculator sees the cluster: for its own node the
// maps its eBPF dataplane loads (mapsOf); for another node, that node's endpoints' plans
// (computed on demand, as planFor does), the programs they use and the sets those programs match
// on, a set's members answered as the calculator answers for a set it does not keep active.

import type { Selector } from '../../../model/selector/index.js';
import {
  allTierLists,
  type EndpointPlan,
  type PolicyCalculator,
  type RuleProgram,
  serviceOfSetId,
} from '../../calc/index.js';
import { scanRules } from '../../calc/rule-scan.js';
import type { NamedPortMember } from '../named-port.js';
import type { DataplaneSnapshot } from '../rules/snapshot.js';
import { type CompiledMaps, compileMaps } from './compile.js';
import { mapsOf, namedPortSetsOf } from './named-ports.js';

export function nodeMapsOf(calc: PolicyCalculator, node: string): CompiledMaps {
  if (node === calc.nodeName) return mapsOf(calc);
  const plans: EndpointPlan[] = [];
  for (const ep of calc.model.endpoints.values()) {
    const plan = ep.node === node ? calc.planFor(ep.id) : undefined;
    if (plan !== undefined) plans.push(plan);
  }
  const policies = new Map<string, RuleProgram>();
  const profiles = new Map<string, RuleProgram>();
  for (const plan of plans) {
    for (const t of allTierLists(plan).flat())
      for (const p of t.policies) {
        const prog = calc.policyProgram(p.id);
        if (prog !== undefined) policies.set(p.id, prog);
      }
    for (const name of [...plan.ingress.profiles, ...plan.egress.profiles]) {
      const prog = calc.profileProgram(name);
      if (prog !== undefined) profiles.set(name, prog);
    }
  }
  const namedPortSets = namedPortSetsOf(calc, { policies, profiles });
  const snapshot: DataplaneSnapshot = {
    plans,
    policies,
    profiles,
    ipSets: ipSetsOf(calc, policies, profiles, namedPortSets),
    namedPortSets,
    hostConfig: calc.hostConfig,
  };
  return compileMaps(snapshot, { node, namedPortSets });
}

/**
 * Members of every selector and service set the programs match on; destination-service sets
 * join the (address, protocol, port) sets in `ipPortSets`.
 */
function ipSetsOf(
  calc: PolicyCalculator,
  policies: ReadonlyMap<string, RuleProgram>,
  profiles: ReadonlyMap<string, RuleProgram>,
  ipPortSets: Map<string, readonly NamedPortMember[]>,
): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  const selectors = selectorsOf(calc, policies, profiles);
  for (const prog of [...policies.values(), ...profiles.values()])
    for (const rule of [...prog.inbound, ...prog.outbound])
      for (const side of [rule.src, rule.dst]) {
        for (const id of [...side.ipSets, ...side.notIpSets])
          if (!out.has(id)) out.set(id, setMembers(calc, id, selectors.get(id)));
        for (const id of side.ipPortSets ?? []) {
          const svc = serviceOfSetId(id);
          if (svc !== undefined && !ipPortSets.has(id)) ipPortSets.set(id, calc.servicePorts(svc.service));
        }
      }
  return out;
}

/** Set id -> selector, from the model rules behind the programs (a set id is its selector's). */
function selectorsOf(
  calc: PolicyCalculator,
  policies: ReadonlyMap<string, RuleProgram>,
  profiles: ReadonlyMap<string, RuleProgram>,
): Map<string, Selector> {
  const out = new Map<string, Selector>();
  const owners = [
    ...[...policies.keys()].map((id) => [id, calc.model.policies.get(id)] as const),
    ...[...profiles.keys()].map((name) => [name, calc.model.profiles.get(name)] as const),
  ];
  for (const [id, owner] of owners)
    if (owner !== undefined)
      for (const [set, sel] of scanRules(id, owner.inbound, owner.outbound).used) out.set(set, sel);
  return out;
}

/**
 * A set's members: a service's addresses, an active set's members, else the nets of the
 * endpoints and network sets its selector matches (what ipSetContains evaluates on demand).
 */
function setMembers(calc: PolicyCalculator, id: string, sel: Selector | undefined): readonly string[] {
  const svc = serviceOfSetId(id);
  if (svc !== undefined) return calc.serviceAddresses(svc.service);
  if (calc.ipSetMemberCounts(id) !== undefined) return calc.ipSetMembers(id);
  const members: string[] = [];
  if (sel === undefined) return members;
  for (const items of [calc.model.endpoints, calc.model.networkSets])
    for (const item of items.values()) {
      const labels = calc.labelsOf(item.id);
      if (labels !== undefined && sel.evaluate(labels)) members.push(...item.nets);
    }
  return members;
}
