// Pure: a snapshot of calc output (local endpoint plans, the rule programs they use, selector
// IP set members) to Tabby's desired filter-table chains and IP sets, in Felix's layout
// (felix/rules/endpoints.go, dispatch.go, static.go). Deterministic: same snapshot, same text.

import type { EndpointPlan, PolicyCalculator, RuleProgram, TierPlan } from '../../calc/index.js';
import { selectorOf } from '../../calc/values.js';
import { type NamedPortMember, namedPortKey } from '../named-port.js';
import {
  Chains,
  endpointChain,
  hex,
  ipSetName,
  Marks,
  namedPortSetName,
  policyChain,
  profileChain,
} from './names.js';
import { renderRule } from './rule-render.js';

/** What the renderer reads: plain data, so tests can build it without a calculator. */
export interface DataplaneSnapshot {
  /** Local endpoints' plans (host endpoints are skipped, see RenderedDataplane.warnings). */
  readonly plans: readonly EndpointPlan[];
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

export interface IpSetSpec {
  readonly id: string;
  readonly type: 'hash:net' | 'hash:ip,port';
  /**
   * Sorted members: for hash:net IPv4 CIDRs (a /0 split into two /1s, as hash:net cannot hold
   * /0); for hash:ip,port `addr,proto:port` (Felix's named-port sets).
   */
  readonly members: readonly string[];
}

export interface RenderedDataplane {
  /** Chain name -> rule specs (without `-A <chain>`), keys sorted. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Kernel set name -> spec, keys sorted; only sets the rendered rules reference. */
  readonly ipSets: ReadonlyMap<string, IpSetSpec>;
  /** The rule in the built-in FORWARD chain that hooks Tabby in (inserted at the top). */
  readonly hooks: readonly { readonly chain: 'FORWARD'; readonly rule: string }[];
  /** Rules or endpoints left out, and why. */
  readonly warnings: readonly string[];
}

/** A snapshot of everything the calculator says about this node's endpoints. */
export function snapshotOf(calc: PolicyCalculator): DataplaneSnapshot {
  const plans = [...calc.plans().values()];
  const policies = new Map<string, RuleProgram>();
  const profiles = new Map<string, RuleProgram>();
  for (const plan of plans)
    for (const dir of [plan.ingress, plan.egress]) {
      for (const t of dir.tiers)
        for (const p of t.policies) {
          const prog = calc.policyProgram(p.id);
          if (prog !== undefined) policies.set(p.id, prog);
        }
      for (const name of dir.profiles) {
        const prog = calc.profileProgram(name);
        if (prog !== undefined) profiles.set(name, prog);
      }
    }
  const ipSets = new Map<string, readonly string[]>();
  for (const id of calc.ipSetIds()) ipSets.set(id, calc.ipSetMembers(id));
  const namedPortSets = namedPortSetsOf(calc, { policies, profiles });
  return { plans, policies, profiles, ipSets, namedPortSets };
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

/** IPv4 members of a named-port set as `addr,proto:port` (a /32 as the bare address), sorted. */
export function namedPortMembers(id: string, members: readonly NamedPortMember[]): string[] {
  const proto = id.slice(0, id.indexOf('/'));
  const out = new Set<string>();
  for (const m of members) {
    if (m.net.includes(':')) continue;
    out.add(`${m.net.endsWith('/32') ? m.net.slice(0, -3) : m.net},${proto}:${m.port}`);
  }
  return [...out].sort();
}

const ACCEPT = `${hex(Marks.accept)}/${hex(Marks.accept)}`;
const PASS_CLEAR = `0x0/${hex(Marks.pass)}`;

function setMembers(members: readonly string[]): string[] {
  const out = new Set<string>();
  for (const m of members) {
    if (m.includes(':')) continue;
    const cidr = m.includes('/') ? m : `${m}/32`;
    if (cidr.endsWith('/0')) {
      out.add('0.0.0.0/1');
      out.add('128.0.0.0/1');
    } else out.add(cidr);
  }
  return [...out].sort();
}

const sortedMap = <V>(m: Map<string, V>): Map<string, V> =>
  new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function render(snapshot: DataplaneSnapshot, options: RenderOptions = {}): RenderedDataplane {
  const ifacePrefix = options.workloadIfacePrefix ?? 'cali';
  const chains = new Map<string, string[]>();
  const usedSets = new Set<string>();
  const usedNamedPortSets = new Set<string>();
  const warnings: string[] = [];
  const ctx = {
    setName: (id: string) => {
      usedSets.add(id);
      return ipSetName(id);
    },
    namedPortSetName: (id: string) => {
      usedNamedPortSets.add(id);
      return namedPortSetName(id);
    },
  };

  const ruleChain = (name: string, rules: readonly RenderedRuleInput[], what: string) => {
    if (chains.has(name)) return;
    const lines: string[] = [];
    for (const [i, rule] of rules.entries()) {
      const r = renderRule(rule, ctx);
      if ('skipped' in r) warnings.push(`${what} rule ${i}: skipped (${r.skipped})`);
      else lines.push(...r.lines);
    }
    chains.set(name, lines);
  };

  const tierLines = (tier: TierPlan, dir: 'in' | 'out'): string[] => {
    const lines = [`-m comment --comment "start of tier ${tier.name}" -j MARK --set-xmark ${PASS_CLEAR}`];
    for (const pol of tier.policies) {
      const chain = policyChain(pol.id, dir);
      const prog = snapshot.policies.get(pol.id);
      ruleChain(chain, (dir === 'in' ? prog?.inbound : prog?.outbound) ?? [], `policy ${pol.id} ${dir}`);
      lines.push(`-m mark --mark ${PASS_CLEAR} -j ${chain}`, `-m mark --mark ${ACCEPT} -j RETURN`);
    }
    if (tier.defaultAction === 'deny')
      lines.push(`-m comment --comment "end of tier ${tier.name}" -m mark --mark ${PASS_CLEAR} -j DROP`);
    return lines;
  };

  const endpointLines = (plan: EndpointPlan, dir: 'in' | 'out'): string[] => {
    const d = dir === 'in' ? plan.ingress : plan.egress;
    const lines = [
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m conntrack --ctstate INVALID -j DROP',
      `-j MARK --set-xmark 0x0/${hex(Marks.accept | Marks.pass)}`,
    ];
    for (const tier of d.tiers) lines.push(...tierLines(tier, dir));
    for (const name of d.profiles) {
      const chain = profileChain(name, dir);
      const prog = snapshot.profiles.get(name);
      if (prog === undefined) {
        if (!chains.has(chain)) warnings.push(`profile ${name}: missing, renders as DROP`);
        chains.set(chain, ['-m comment --comment "missing profile" -j DROP']);
      } else ruleChain(chain, dir === 'in' ? prog.inbound : prog.outbound, `profile ${name} ${dir}`);
      lines.push(`-j ${chain}`, `-m mark --mark ${ACCEPT} -j RETURN`);
    }
    lines.push('-m comment --comment "no policy or profile allowed" -j DROP');
    return lines;
  };

  const plans = [...snapshot.plans].sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : 1));
  const toDispatch: string[] = [];
  const fromDispatch: string[] = [];
  for (const plan of plans) {
    if (plan.kind !== 'workload') {
      warnings.push(`endpoint ${plan.id}: host endpoints are not rendered`);
      continue;
    }
    const tw = endpointChain(plan.interfaceName, 'to');
    const fw = endpointChain(plan.interfaceName, 'from');
    chains.set(tw, endpointLines(plan, 'in'));
    chains.set(fw, endpointLines(plan, 'out'));
    toDispatch.push(`-o ${plan.interfaceName} -g ${tw}`);
    fromDispatch.push(`-i ${plan.interfaceName} -g ${fw}`);
  }
  // An unknown workload interface is dropped (Felix: "Unknown interface").
  chains.set(Chains.toWlDispatch, [...toDispatch, '-m comment --comment "unknown interface" -j DROP']);
  chains.set(Chains.fromWlDispatch, [...fromDispatch, '-m comment --comment "unknown interface" -j DROP']);
  chains.set(Chains.forward, [
    `-j MARK --set-xmark 0x0/${hex(Marks.accept | Marks.pass)}`,
    `-i ${ifacePrefix}+ -j ${Chains.fromWlDispatch}`,
    `-o ${ifacePrefix}+ -j ${Chains.toWlDispatch}`,
    `-m comment --comment "policy accepted" -m mark --mark ${ACCEPT} -j ACCEPT`,
  ]);

  const ipSets = new Map<string, IpSetSpec>();
  for (const id of usedSets)
    ipSets.set(ipSetName(id), { id, type: 'hash:net', members: setMembers(snapshot.ipSets.get(id) ?? []) });
  for (const id of usedNamedPortSets)
    ipSets.set(namedPortSetName(id), {
      id,
      type: 'hash:ip,port',
      members: namedPortMembers(id, snapshot.namedPortSets?.get(id) ?? []),
    });
  return {
    chains: sortedMap(chains),
    ipSets: sortedMap(ipSets),
    hooks: [{ chain: 'FORWARD', rule: `-m comment --comment "tabby hook" -j ${Chains.forward}` }],
    warnings: [...new Set(warnings)].sort(),
  };
}

type RenderedRuleInput = RuleProgram['inbound'][number];
