// What every dataplane renders from: a plain-data snapshot of calc output for this node
// (local endpoint plans, the rule programs they use, selector and named-port set members),
// taken from a PolicyCalculator by snapshotOf(). Tests build snapshots without a calculator.

import { selectorOf } from '../../../model/values/policy.js';
import {
  allTierLists,
  type EndpointPlan,
  type HostPolicyConfig,
  type PolicyCalculator,
  type RuleProgram,
  serviceOfSetId,
} from '../../calc/index.js';
import { type NamedPortMember, namedPortKey } from '../named-port.js';

/** What the renderer reads: plain data, so tests can build it without a calculator. */
export interface DataplaneSnapshot {
  /** Local endpoints' plans, workload and host. */
  readonly plans: readonly EndpointPlan[];
  /** Failsafe ports and DefaultEndpointToHostAction; Felix's defaults when absent. */
  readonly hostConfig?: HostPolicyConfig;
  /** Policy id -> program; a plan's policy with no program renders as an empty chain. */
  readonly policies: ReadonlyMap<string, RuleProgram>;
  /** Profile name -> program; a missing profile renders as a DROP chain (Felix's DummyDropRules). */
  readonly profiles: ReadonlyMap<string, RuleProgram>;
  /** Selector IP set id -> member CIDRs. */
  readonly ipSets: ReadonlyMap<string, readonly string[]>;
  /**
   * Named-port set id (namedPortKey(): protocol/name/selector) -> the (net, port) of every
   * endpoint the selector matches that declares that port; see namedPortSetsOf. A missing id
   * renders as an empty set.
   */
  readonly namedPortSets?: ReadonlyMap<string, readonly NamedPortMember[]>;
}

export interface RenderOptions {
  /** Interface prefix of workload veths (Felix's InterfacePrefix). Default 'cali'. */
  readonly workloadIfacePrefix?: string;
}

/** A snapshot of everything the calculator says about this node's endpoints. */
export function snapshotOf(calc: PolicyCalculator): DataplaneSnapshot {
  const plans = [...calc.plans().values()];
  const policies = new Map<string, RuleProgram>();
  const profiles = new Map<string, RuleProgram>();
  for (const plan of plans) {
    for (const tiers of allTierLists(plan))
      for (const t of tiers)
        for (const p of t.policies) {
          const prog = calc.policyProgram(p.id);
          if (prog !== undefined) policies.set(p.id, prog);
        }
    for (const dir of [plan.ingress, plan.egress])
      for (const name of dir.profiles) {
        const prog = calc.profileProgram(name);
        if (prog !== undefined) profiles.set(name, prog);
      }
  }
  const ipSets = new Map<string, readonly string[]>();
  for (const id of calc.ipSetIds()) ipSets.set(id, calc.ipSetMembers(id));
  const namedPortSets = namedPortSetsOf(calc, { policies, profiles });
  addServiceSets(calc, [...policies.values(), ...profiles.values()], ipSets, namedPortSets);
  return { plans, policies, profiles, ipSets, namedPortSets, hostConfig: calc.hostConfig };
}

/**
 * The named-port sets (Felix's hash:ip,port sets) the rules use, from the calculator's model:
 * every endpoint selected by the match's selector that declares a port of that name and
 * protocol contributes (net, port) for each of its nets. Keyed by namedPortKey().
 */
export function namedPortSetsOf(
  calc: PolicyCalculator,
  snapshot: Pick<DataplaneSnapshot, 'policies' | 'profiles'>,
): Map<string, NamedPortMember[]> {
  const out = new Map<string, NamedPortMember[]>();
  const programs: RuleProgram[] = [...snapshot.policies.values(), ...snapshot.profiles.values()];
  for (const prog of programs)
    for (const rule of [...prog.inbound, ...prog.outbound])
      for (const n of [
        ...rule.src.namedPorts,
        ...rule.src.notNamedPorts,
        ...rule.dst.namedPorts,
        ...rule.dst.notNamedPorts,
      ]) {
        const key = namedPortKey(n);
        if (out.has(key)) continue;
        const sel = selectorOf(n.selector);
        const members: NamedPortMember[] = [];
        for (const ep of calc.model.endpoints.values()) {
          if (!sel.evaluate(calc.labelsOf(ep.id) ?? ep.labels)) continue;
          for (const p of ep.ports)
            if (p.name === n.name && p.protocol === n.protocol)
              for (const net of ep.nets) members.push({ net, port: p.port });
        }
        out.set(key, members);
      }
  return out;
}

/**
 * The service sets the rules use: a source service's addresses join the selector sets, a
 * destination service's (address, protocol, port) members the named-port sets.
 */
function addServiceSets(
  calc: PolicyCalculator,
  programs: readonly RuleProgram[],
  ipSets: Map<string, readonly string[]>,
  ipPortSets: Map<string, NamedPortMember[]>,
): void {
  for (const prog of programs)
    for (const rule of [...prog.inbound, ...prog.outbound]) {
      for (const id of rule.src.ipSets) {
        const svc = serviceOfSetId(id);
        if (svc !== undefined && !ipSets.has(id)) ipSets.set(id, calc.serviceAddresses(svc.service));
      }
      for (const id of rule.dst.ipPortSets ?? []) {
        const svc = serviceOfSetId(id);
        if (svc !== undefined && !ipPortSets.has(id)) ipPortSets.set(id, calc.servicePorts(svc.service));
      }
    }
}

/**
 * IPv4 members of a named-port or service set as `addr,proto:port` (a /32 as the bare
 * address), sorted. A named-port set's protocol is the first part of its id.
 */
export function namedPortMembers(id: string, members: readonly NamedPortMember[]): string[] {
  const keyProto = id.slice(0, id.indexOf('/'));
  const out = new Set<string>();
  for (const m of members) {
    if (m.net.includes(':')) continue;
    out.add(`${m.net.endsWith('/32') ? m.net.slice(0, -3) : m.net},${m.protocol ?? keyProto}:${m.port}`);
  }
  return [...out].sort();
}
