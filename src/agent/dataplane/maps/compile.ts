// Pure: a DataplaneSnapshot compiled to eBPF-style lookup maps, laid out the way Calico's BPF
// policy program is (felix/bpf/polprog): per endpoint and direction one flat instruction array
// (tiers -> policies -> rules, each tier closed by its end-of-tier action, then profiles, then a
// final drop), with Pass / next-tier compiled to a jump to an array index; selector IP sets as
// hash maps of canonical CIDRs probed per prefix length (an LPM lookup); an address -> endpoint
// map the same way. Everything is plain JSON. Instructions keep their tier/policy/rule index so
// an evaluation can say which rule decided, as explain() does.

import { netOf } from '../../../model/net/cidr.js';
import {
  defaultHostConfig,
  type EndpointPlan,
  type HostPolicyConfig,
  type NamedPortMatch,
  type ParsedRule,
  type RuleProgram,
  type SideMatch,
  type TierPlan,
} from '../../calc/index.js';
import { type NamedPortMember, namedPortKey } from '../named-port.js';
import type { DataplaneSnapshot } from '../rules/snapshot.js';

export { type NamedPortMember, namedPortKey } from '../named-port.js';

import { canonicalNet, formatNet, type PrefixLens, prefixLensOf } from './lpm.js';
import { type NetRun, pushRule } from './net-runs.js';

/** A port or an inclusive range, as [lo, hi]. */
export type PortRange = readonly [number, number];

export interface SideFields {
  /** Canonical CIDRs; the address must be in one (empty: no constraint). */
  readonly nets: readonly string[];
  readonly notNets: readonly string[];
  /** Indices into CompiledMaps.ipSets: the address must be in every one. */
  readonly sets: readonly number[];
  readonly notSets: readonly number[];
  /** Numeric ports and named-port set indices form one OR'd list. */
  readonly ports: readonly PortRange[];
  readonly notPorts: readonly PortRange[];
  /** Indices into CompiledMaps.namedPortSets. */
  readonly namedPorts: readonly number[];
  readonly notNamedPorts: readonly number[];
  /** Destination services: indices into CompiledMaps.namedPortSets, each must hold the flow. */
  readonly ipPortSets: readonly number[];
}

export interface MatchFields {
  readonly ipVersion?: 4 | 6;
  /** Protocol numbers (-1 for a name no protocol has, as explain() resolves it). */
  readonly proto?: number;
  readonly notProto?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly notIcmpType?: number;
  readonly notIcmpCode?: number;
  readonly src: SideFields;
  readonly dst: SideFields;
}

/** Where a rule instruction came from. */
export type InsnRef =
  | { readonly kind: 'policy'; readonly tier: string; readonly policy: string; readonly ruleIndex: number }
  | { readonly kind: 'profile'; readonly profile: string; readonly ruleIndex: number };

export type Insn =
  /**
   * Verdict on match: the side's decision. `run`: consecutive rules folded into this one
   * (net-runs.ts); `ref` is the run's first rule, the deciding one is the first part holding
   * the address.
   */
  | {
      readonly op: 'allow' | 'deny';
      readonly match: MatchFields;
      readonly ref: InsnRef;
      readonly run?: NetRun<InsnRef>;
    }
  /** Note the packet (policy rules only record it) and go on. */
  | { readonly op: 'log'; readonly match: MatchFields; readonly ref: InsnRef }
  /** Pass (in a tier) / next-tier (in a profile): jump to the next tier's or profile's start. */
  | { readonly op: 'pass'; readonly match: MatchFields; readonly ref: InsnRef; readonly jump: number }
  /** Reached only when no rule of the tier decided or passed: drop ('deny') or fall through. */
  | { readonly op: 'tier-end'; readonly tier: string; readonly defaultAction: 'deny' | 'pass' }
  /** Marks where a profile's rules start (a jump target); a missing profile drops everything. */
  | { readonly op: 'profile-start'; readonly profile: string; readonly missing: boolean }
  /** Nothing allowed. */
  | { readonly op: 'final-drop' };

export interface CompiledEndpoint {
  readonly id: string;
  readonly kind: 'workload' | 'host';
  readonly interfaceName: string;
  readonly ingress: readonly Insn[];
  readonly egress: readonly Insn[];
  /**
   * Host endpoints: doNotTrack (both directions) and preDNAT (ingress) programs, run before the
   * normal ones; they end without a verdict (no final drop) when nothing decided.
   */
  readonly host?: {
    readonly untrackedIngress: readonly Insn[];
    readonly untrackedEgress: readonly Insn[];
    readonly preDNATIngress: readonly Insn[];
    /**
     * applyOnForward policy for traffic forwarded through the interface (explain() does not
     * model it; the bpf dataplane runs it). No tiers: empty, forwarding allowed.
     */
    readonly forwardIngress: readonly Insn[];
    readonly forwardEgress: readonly Insn[];
  };
}

export interface CompiledIpSet {
  readonly id: string;
  /** Canonical member CIDRs, sorted. */
  readonly members: readonly string[];
  readonly prefixLens: PrefixLens;
}

export interface CompiledNamedPortSet {
  /** namedPortKey() of the match, or a service set id. */
  readonly key: string;
  /** The protocol of every member; undefined when members carry their own (a service set). */
  readonly proto: number | undefined;
  /** "cidr,port" entries (with `proto` set) or "cidr,proto,port" entries, sorted. */
  readonly members: readonly string[];
  readonly prefixLens: PrefixLens;
}

export interface CompiledMaps {
  /** The node these maps are for (when known): decides same-node host ↔ workload flows. */
  readonly node?: string;
  /** Failsafe ports and DefaultEndpointToHostAction of that node. */
  readonly hostConfig: HostPolicyConfig;
  /** Endpoints sorted by id: a lower index is a lower id. */
  readonly endpoints: readonly CompiledEndpoint[];
  /** Canonical endpoint net -> index of the lowest-id endpoint claiming it. */
  readonly endpointByNet: Readonly<Record<string, number>>;
  readonly endpointPrefixLens: PrefixLens;
  readonly ipSets: readonly CompiledIpSet[];
  readonly namedPortSets: readonly CompiledNamedPortSet[];
}

/** An endpoint address that declares a named port: one entry of a hash:ip,port set. */

export interface CompileOptions {
  /** The node the snapshot is for. */
  readonly node?: string;
  /**
   * namedPortKey() -> members, for rules with named ports (the snapshot does not carry endpoint
   * ports; see namedPortSetsOf). A key with no entry compiles to an empty set.
   */
  readonly namedPortSets?: ReadonlyMap<string, readonly NamedPortMember[]>;
}

const PROTOCOLS: Readonly<Record<string, number>> = {
  tcp: 6,
  udp: 17,
  icmp: 1,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

export function protocolNumber(p: string | number): number {
  if (typeof p === 'number') return p;
  return PROTOCOLS[p.toLowerCase()] ?? (/^\d+$/.test(p) ? Number(p) : -1);
}

function portRange(p: number | string): PortRange {
  if (typeof p === 'number') return [p, p];
  const [lo, hi] = p.split(':').map(Number);
  // An unparseable port matches nothing (explain: portIn is false).
  return lo === undefined || hi === undefined || Number.isNaN(lo) || Number.isNaN(hi) ? [1, 0] : [lo, hi];
}

/** Rule nets as canonical texts; one that does not parse can never match, so it is dropped. */
const nets = (list: readonly string[]): string[] =>
  list.map(canonicalNet).filter((n): n is string => n !== undefined);

interface MembersOut {
  readonly members: readonly string[];
  readonly prefixLens: PrefixLens;
}
/**
 * A set's canonical members by its raw member list (and key): the result depends only on the
 * list's content, and snapshot lists are never mutated, so a caller that hands the same list
 * object to several compiles (the bpf dataplane's incremental compile) parses it once.
 */
const setMemo = new WeakMap<readonly unknown[], Map<string, MembersOut>>();
function memoMembers(raw: readonly unknown[] | undefined, key: string, make: () => string[]): MembersOut {
  const byKey = raw === undefined ? undefined : (setMemo.get(raw) ?? new Map<string, MembersOut>());
  let out = byKey?.get(key);
  if (out === undefined) {
    const members = make();
    out = { members, prefixLens: prefixLensOf(members) };
    if (raw !== undefined && byKey !== undefined) {
      byKey.set(key, out);
      setMemo.set(raw, byKey);
    }
  }
  return out;
}

export function compileMaps(snapshot: DataplaneSnapshot, options: CompileOptions = {}): CompiledMaps {
  const setIndex = new Map<string, number>();
  const ipSets: CompiledIpSet[] = [];
  const setOf = (id: string): number => {
    let i = setIndex.get(id);
    if (i === undefined) {
      const raw = snapshot.ipSets.get(id);
      const c = memoMembers(raw, '', () => [...new Set(nets(raw ?? []))].sort());
      i = ipSets.push({ id, ...c }) - 1;
      setIndex.set(id, i);
    }
    return i;
  };
  const npIndex = new Map<string, number>();
  const namedPortSets: CompiledNamedPortSet[] = [];
  /** Interns one ip,port set: `entry` turns a member into its key, or undefined to skip it. */
  const portSetOf = (
    key: string,
    proto: number | undefined,
    entry: (net: string, m: NamedPortMember) => string | undefined,
  ): number => {
    let i = npIndex.get(key);
    if (i === undefined) {
      const raw = options.namedPortSets?.get(key);
      const c = memoMembers(raw, key, () => {
        const members = new Set<string>();
        for (const m of raw ?? []) {
          const net = canonicalNet(m.net);
          const e = net === undefined ? undefined : entry(net, m);
          if (e !== undefined) members.add(e);
        }
        return [...members].sort();
      });
      i = namedPortSets.push({ key, proto, ...c }) - 1;
      npIndex.set(key, i);
    }
    return i;
  };
  const namedOf = (n: NamedPortMatch): number =>
    portSetOf(namedPortKey(n), protocolNumber(n.protocol), (net, m) => `${net},${m.port}`);
  /** A destination-service set: members carry their protocol. */
  const serviceOf = (id: string): number =>
    portSetOf(id, undefined, (net, m) =>
      m.protocol === undefined ? undefined : `${net},${protocolNumber(m.protocol)},${m.port}`,
    );

  const side = (m: SideMatch): SideFields => ({
    nets: nets(m.nets),
    notNets: nets(m.notNets),
    sets: m.ipSets.map(setOf),
    notSets: m.notIpSets.map(setOf),
    ports: m.ports.map(portRange),
    notPorts: m.notPorts.map(portRange),
    namedPorts: m.namedPorts.map(namedOf),
    notNamedPorts: m.notNamedPorts.map(namedOf),
    ipPortSets: (m.ipPortSets ?? []).map(serviceOf),
  });

  const match = (r: ParsedRule): MatchFields | undefined => {
    const src = side(r.src);
    const dst = side(r.dst);
    // Nets that were given but none parsed can never match.
    if ((r.src.nets.length > 0 && src.nets.length === 0) || (r.dst.nets.length > 0 && dst.nets.length === 0))
      return undefined;
    const out: Record<string, unknown> = {};
    if (r.ipVersion !== undefined) out['ipVersion'] = r.ipVersion;
    if (r.protocol !== undefined) out['proto'] = protocolNumber(r.protocol);
    if (r.notProtocol !== undefined) out['notProto'] = protocolNumber(r.notProtocol);
    for (const k of ['icmpType', 'icmpCode', 'notIcmpType', 'notIcmpCode'] as const)
      if (r[k] !== undefined) out[k] = r[k];
    return { ...out, src, dst } as MatchFields;
  };

  /**
   * Appends a program's rules; 'pass' instructions get a placeholder jump, returned for patching
   * once the next tier's / profile's start index is known.
   */
  const emitRules = (out: Insn[], rules: readonly ParsedRule[], ref: (i: number) => InsnRef): number[] => {
    const pending: number[] = [];
    const from = out.length;
    for (const [i, r] of rules.entries()) {
      const m = match(r);
      if (m === undefined) continue;
      if (r.action === 'next-tier') {
        pending.push(out.length);
        out.push({ op: 'pass', match: m, ref: ref(i), jump: -1 });
      } else pushRule(out, { op: r.action, match: m, ref: ref(i) }, from);
    }
    return pending;
  };
  const patch = (out: Insn[], pending: readonly number[]) => {
    for (const at of pending) out[at] = { ...(out[at] as Extract<Insn, { op: 'pass' }>), jump: out.length };
  };

  const tierInsns = (out: Insn[], tiers: readonly TierPlan[], dir: 'ingress' | 'egress'): void => {
    for (const tier of tiers) {
      const pending: number[] = [];
      for (const pol of tier.policies) {
        const prog: RuleProgram | undefined = snapshot.policies.get(pol.id);
        const rules = (dir === 'ingress' ? prog?.inbound : prog?.outbound) ?? [];
        pending.push(
          ...emitRules(out, rules, (ruleIndex) => ({
            kind: 'policy',
            tier: tier.name,
            policy: pol.id,
            ruleIndex,
          })),
        );
      }
      out.push({ op: 'tier-end', tier: tier.name, defaultAction: tier.defaultAction });
      patch(out, pending); // Pass skips the tier-end: to the next tier's first instruction
    }
  };

  const program = (plan: EndpointPlan, dir: 'ingress' | 'egress'): Insn[] => {
    const out: Insn[] = [];
    tierInsns(out, plan[dir].tiers, dir);
    for (const profile of plan[dir].profiles) {
      const prog = snapshot.profiles.get(profile);
      out.push({ op: 'profile-start', profile, missing: prog === undefined });
      if (prog === undefined) continue;
      const rules = dir === 'ingress' ? prog.inbound : prog.outbound;
      const pending = emitRules(out, rules, (ruleIndex) => ({ kind: 'profile', profile, ruleIndex }));
      patch(out, pending); // next-tier in a profile: on to the next profile
    }
    out.push({ op: 'final-drop' });
    return out;
  };

  const tiersOnly = (tiers: readonly TierPlan[], dir: 'ingress' | 'egress'): Insn[] => {
    const out: Insn[] = [];
    tierInsns(out, tiers, dir);
    return out;
  };

  const plans = [...snapshot.plans].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const endpoints: CompiledEndpoint[] = [];
  const endpointByNet: Record<string, number> = {};
  for (const plan of plans) {
    const index = endpoints.length;
    endpoints.push({
      id: plan.id,
      kind: plan.kind,
      interfaceName: plan.interfaceName,
      ingress: program(plan, 'ingress'),
      egress: program(plan, 'egress'),
      ...(plan.host === undefined
        ? {}
        : {
            host: {
              untrackedIngress: tiersOnly(plan.host.untracked.ingress, 'ingress'),
              untrackedEgress: tiersOnly(plan.host.untracked.egress, 'egress'),
              preDNATIngress: tiersOnly(plan.host.preDNAT.ingress, 'ingress'),
              forwardIngress: tiersOnly(plan.host.forward.ingress, 'ingress'),
              forwardEgress: tiersOnly(plan.host.forward.egress, 'egress'),
            },
          }),
    });
    for (const n of plan.nets) {
      const c = netOf(n);
      if (c === undefined) continue;
      const key = formatNet(c);
      if (!Object.hasOwn(endpointByNet, key)) endpointByNet[key] = index; // plans are id-sorted
    }
  }
  const sortedByNet: Record<string, number> = {};
  for (const k of Object.keys(endpointByNet).sort()) sortedByNet[k] = endpointByNet[k]!;
  return {
    ...(options.node === undefined ? {} : { node: options.node }),
    hostConfig: snapshot.hostConfig ?? defaultHostConfig(),
    endpoints,
    endpointByNet: sortedByNet,
    endpointPrefixLens: prefixLensOf(Object.keys(sortedByNet)),
    ipSets,
    namedPortSets,
  };
}
