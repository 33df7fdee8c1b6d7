// Pure: a snapshot of calc output (local endpoint plans, the rule programs they use, selector
// IP set members) to Tabby's desired filter-table chains and IP sets, in Felix's layout
// (felix/rules/endpoints.go, dispatch.go, static.go). Deterministic: same snapshot, same text.

import {
  allTierLists,
  defaultHostConfig,
  type EndpointPlan,
  type HostPolicyConfig,
  type PolicyCalculator,
  type RuleProgram,
  serviceOfSetId,
  type TierPlan,
} from '../../calc/index.js';
import { selectorOf } from '../../calc/values.js';
import { type NamedPortMember, namedPortKey } from '../named-port.js';
import { PURE, type RenderCache, sameNamedPortMember, sameValue } from '../render-cache.js';
import { type Action, hostLayout, type Match, type Table } from './host-layout.js';
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
import { renderRuleChain } from './rule-render.js';

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
  /** The filter table's chains: name -> rule specs (without `-A <chain>`), keys sorted. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Every table's chains (raw, mangle, filter; filter is `chains`). */
  readonly tables: ReadonlyMap<Table, ReadonlyMap<string, readonly string[]>>;
  /** Kernel set name -> spec, keys sorted; only sets the rendered rules reference. */
  readonly ipSets: ReadonlyMap<string, IpSetSpec>;
  /** The rules in built-in chains that hook Tabby in (each inserted at the top of its chain). */
  readonly hooks: readonly { readonly table: Table; readonly chain: string; readonly rule: string }[];
  /** Rules or endpoints left out, and why. */
  readonly warnings: readonly string[];
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

/**
 * With a cache (held by the caller across renders of one node), policy and profile chains are
 * reused while their rule program is the same object, and endpoint chains while their plan is;
 * unchanged chains come back as the same arrays, so restore's hash cache can skip them. The
 * result equals a render without a cache.
 */
export function render(
  snapshot: DataplaneSnapshot,
  options: RenderOptions = {},
  cache?: RenderCache,
): RenderedDataplane {
  cache?.begin();
  const out = renderWith(snapshot, options, cache);
  cache?.end();
  return out;
}

const NO_RULES: readonly RenderedRuleInput[] = Object.freeze([]);
const MISSING_PROFILE: readonly string[] = Object.freeze(['-m comment --comment "missing profile" -j DROP']);

function renderWith(
  snapshot: DataplaneSnapshot,
  options: RenderOptions,
  cache?: RenderCache,
): RenderedDataplane {
  const ifacePrefix = options.workloadIfacePrefix ?? 'cali';
  const tables = new Map<Table, Map<string, readonly string[]>>([
    ['raw', new Map()],
    ['mangle', new Map()],
    ['filter', new Map()],
  ]);
  const chains = tables.get('filter')!;
  const usedSets = new Set<string>();
  const usedNamedPortSets = new Set<string>();
  const warnings: string[] = [];

  /** Policy and profile chains live in each table whose chains jump to them. */
  const ruleChain = (
    into: Map<string, readonly string[]>,
    name: string,
    rules: readonly RenderedRuleInput[],
    what: string,
  ) => {
    if (into.has(name)) return;
    const entry =
      cache === undefined
        ? renderRuleChain(rules, what)
        : cache.memo(`rule:${name}`, rules, () => Object.freeze(renderRuleChain(rules, what)));
    for (const id of entry.sets) usedSets.add(id);
    for (const id of entry.namedPortSets) usedNamedPortSets.add(id);
    warnings.push(...entry.warnings);
    into.set(name, entry.lines);
  };

  /** Ensures the policy's chain exists in `into`; its name (a hash, so memoised). */
  const policyChainOf = (into: Map<string, readonly string[]>, id: string, dir: 'in' | 'out'): string => {
    const chain =
      cache === undefined
        ? policyChain(id, dir)
        : cache.memo(`name:${dir}:${id}`, PURE, () => policyChain(id, dir));
    const prog = snapshot.policies.get(id);
    ruleChain(
      into,
      chain,
      (dir === 'in' ? prog?.inbound : prog?.outbound) ?? NO_RULES,
      `policy ${id} ${dir}`,
    );
    return chain;
  };

  /** Ensures the profile's chain exists in `into` (a DROP chain when missing); its name. */
  const profileChainOf = (into: Map<string, readonly string[]>, name: string, dir: 'in' | 'out'): string => {
    const chain = profileChain(name, dir);
    const prog = snapshot.profiles.get(name);
    if (prog === undefined) {
      if (!into.has(chain)) warnings.push(`profile ${name}: missing, renders as DROP`);
      into.set(chain, MISSING_PROFILE);
    } else ruleChain(into, chain, dir === 'in' ? prog.inbound : prog.outbound, `profile ${name} ${dir}`);
    return chain;
  };

  const tierLines = (
    into: Map<string, readonly string[]>,
    tier: TierPlan,
    dir: 'in' | 'out',
    untracked = false,
  ): string[] => {
    const lines = [`-m comment --comment "start of tier ${tier.name}" -j MARK --set-xmark ${PASS_CLEAR}`];
    for (const pol of tier.policies) {
      const chain = policyChainOf(into, pol.id, dir);
      lines.push(`-m mark --mark ${PASS_CLEAR} -j ${chain}`);
      // doNotTrack: an allow is NOTRACK + accept (Felix), so neither direction is tracked.
      if (untracked) lines.push(`-m mark --mark ${ACCEPT} -j CT --notrack`);
      lines.push(`-m mark --mark ${ACCEPT} -j RETURN`);
    }
    if (tier.defaultAction === 'deny')
      lines.push(`-m comment --comment "end of tier ${tier.name}" -m mark --mark ${PASS_CLEAR} -j DROP`);
    return lines;
  };

  const profileLines = (
    into: Map<string, readonly string[]>,
    profiles: readonly string[],
    dir: 'in' | 'out',
  ) => {
    const lines: string[] = [];
    for (const name of profiles)
      lines.push(`-j ${profileChainOf(into, name, dir)}`, `-m mark --mark ${ACCEPT} -j RETURN`);
    return lines;
  };

  const endpointLines = (plan: EndpointPlan, dir: 'in' | 'out'): string[] => {
    const d = dir === 'in' ? plan.ingress : plan.egress;
    const lines = [
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m conntrack --ctstate INVALID -j DROP',
      `-j MARK --set-xmark 0x0/${hex(Marks.accept | Marks.pass)}`,
    ];
    for (const tier of d.tiers) lines.push(...tierLines(chains, tier, dir));
    lines.push(...profileLines(chains, d.profiles, dir));
    lines.push('-m comment --comment "no policy or profile allowed" -j DROP');
    return lines;
  };

  /** An endpoint chain: its own lines depend only on the plan; the chains it jumps to are ensured. */
  const endpointChainLines = (name: string, plan: EndpointPlan, dir: 'in' | 'out'): readonly string[] => {
    if (cache === undefined) return endpointLines(plan, dir);
    let fresh = false;
    // Frozen: cached lines are shared by every later render's output.
    const lines = cache.memo(`endpoint:${name}`, plan, () => {
      fresh = true;
      return Object.freeze(endpointLines(plan, dir));
    });
    if (!fresh) {
      const d = dir === 'in' ? plan.ingress : plan.egress;
      for (const tier of d.tiers) for (const pol of tier.policies) policyChainOf(chains, pol.id, dir);
      for (const name of d.profiles) profileChainOf(chains, name, dir);
    }
    return lines;
  };

  const plans = [...snapshot.plans].sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : 1));
  const toDispatch: string[] = [];
  const fromDispatch: string[] = [];
  for (const plan of plans) {
    if (plan.kind !== 'workload') continue; // host endpoints: hostLayout below
    const tw = endpointChain(plan.interfaceName, 'to');
    const fw = endpointChain(plan.interfaceName, 'from');
    chains.set(tw, endpointChainLines(tw, plan, 'in'));
    chains.set(fw, endpointChainLines(fw, plan, 'out'));
    toDispatch.push(`-o ${plan.interfaceName} -g ${tw}`);
    fromDispatch.push(`-i ${plan.interfaceName} -g ${fw}`);
  }
  // An unknown workload interface is dropped (Felix: "Unknown interface").
  chains.set(Chains.toWlDispatch, [...toDispatch, '-m comment --comment "unknown interface" -j DROP']);
  chains.set(Chains.fromWlDispatch, [...fromDispatch, '-m comment --comment "unknown interface" -j DROP']);

  const layout = hostLayout(plans, {
    workloadIfacePrefix: ifacePrefix,
    config: snapshot.hostConfig ?? defaultHostConfig(),
  });
  warnings.push(...layout.warnings);
  for (const [table, layoutChains] of layout.tables) {
    const into = tables.get(table)!;
    for (const [name, ops] of layoutChains)
      into.set(
        name,
        ops.flatMap((op) => {
          if (op.op === 'rule') return [opText(op.match, op.action, op.comment)];
          if (op.op === 'profiles') return profileLines(into, op.profiles, op.dir);
          return op.tiers.flatMap((t) => tierLines(into, t, op.dir, op.untracked));
        }),
      );
  }

  // Set specs are kept while the members the snapshot gives are equal (they are fresh arrays).
  const ipSets = new Map<string, IpSetSpec>();
  for (const id of usedSets) {
    const members = snapshot.ipSets.get(id) ?? [];
    const spec = (): IpSetSpec => ({ id, type: 'hash:net', members: setMembers(members) });
    ipSets.set(
      ipSetName(id),
      cache === undefined ? spec() : cache.memo(`set:${id}`, members, spec, sameValue),
    );
  }
  for (const id of usedNamedPortSets) {
    const members = snapshot.namedPortSets?.get(id) ?? [];
    const spec = (): IpSetSpec => ({ id, type: 'hash:ip,port', members: namedPortMembers(id, members) });
    ipSets.set(
      namedPortSetName(id),
      cache === undefined ? spec() : cache.memo(`ports:${id}`, members, spec, sameNamedPortMember),
    );
  }
  const sortedTables = new Map<Table, ReadonlyMap<string, readonly string[]>>(
    [...tables].map(([t, m]) => [t, sortedMap(m)]),
  );
  return {
    chains: sortedTables.get('filter')!,
    tables: sortedTables,
    ipSets: sortedMap(ipSets),
    hooks: layout.entries.map((e) => ({
      table: e.table,
      chain: e.builtin,
      rule: `-m comment --comment "tabby hook" -j ${e.chain}`,
    })),
    warnings: [...new Set(warnings)].sort(),
  };
}

/** One layout rule as an iptables rule spec. */
export function opText(match: Match | undefined, action: Action, comment?: string): string {
  const parts: string[] = [];
  if (comment !== undefined) parts.push(`-m comment --comment "${comment}"`);
  const m = match ?? {};
  if (m.iif !== undefined) parts.push(`-i ${m.iif}`);
  if (m.oif !== undefined) parts.push(`-o ${m.oif}`);
  if (m.saddr !== undefined) parts.push(`-s ${m.saddr}`);
  if (m.daddr !== undefined) parts.push(`-d ${m.daddr}`);
  if (m.proto !== undefined) parts.push(`-p ${m.proto} -m ${m.proto}`);
  if (m.dport !== undefined) parts.push(`--dport ${m.dport}`);
  if (m.sport !== undefined) parts.push(`--sport ${m.sport}`);
  if (m.ct === 'established') parts.push('-m conntrack --ctstate RELATED,ESTABLISHED');
  if (m.ct === 'invalid') parts.push('-m conntrack --ctstate INVALID');
  if (m.notDnat) parts.push('-m conntrack ! --ctstate DNAT');
  if (m.markSet !== undefined) parts.push(`-m mark --mark ${hex(m.markSet)}/${hex(m.markSet)}`);
  if (m.markClear !== undefined) parts.push(`-m mark --mark 0x0/${hex(m.markClear)}`);
  switch (action.t) {
    case 'accept':
      parts.push('-j ACCEPT');
      break;
    case 'drop':
      parts.push('-j DROP');
      break;
    case 'return':
      parts.push('-j RETURN');
      break;
    case 'notrack':
      parts.push('-j CT --notrack');
      break;
    case 'jump':
      parts.push(`-j ${action.chain}`);
      break;
    case 'goto':
      parts.push(`-g ${action.chain}`);
      break;
    case 'set-mark':
      parts.push(`-j MARK --set-xmark ${hex(action.bits)}/${hex(action.bits)}`);
      break;
    case 'clear-mark':
      parts.push(`-j MARK --set-xmark 0x0/${hex(action.bits)}`);
      break;
  }
  return parts.join(' ');
}

type RenderedRuleInput = RuleProgram['inbound'][number];
