// Pure: the host-facing part of the dataplane as abstract chains shared by the iptables and
// nftables renderers — hooks from INPUT/OUTPUT/FORWARD (filter), raw PREROUTING/OUTPUT
// (doNotTrack) and mangle PREROUTING (preDNAT), workload → host handling, host endpoint
// dispatch and chains, failsafe chains — after felix/rules/static.go, dispatch.go and
// endpoints.go. The model builder expands the 'tiers' and 'profiles' ops the way it builds
// workload endpoint chains.

import type { EndpointPlan, FailsafePort, HostPolicyConfig, TierPlan } from '../../calc/index.js';
import type { Action, Rule, Table, Term } from './model.js';
import { Chains, hostEndpointChain, Marks } from './names.js';

/** The layout's matches, written as one object; rule() turns them into model terms. */
interface Match {
  /** Interface names; a trailing '+' matches any suffix. */
  readonly iif?: string;
  readonly oif?: string;
  /** Every one of these mark bits is set / clear. */
  readonly markSet?: number;
  readonly markClear?: number;
  readonly ct?: 'established' | 'invalid';
  /** Not DNAT'd (host-originated DNAT'd traffic has a stale output interface in OUTPUT). */
  readonly notDnat?: boolean;
  readonly proto?: string;
  readonly dport?: number;
  readonly sport?: number;
  readonly saddr?: string;
  readonly daddr?: string;
}

export type Op =
  | { readonly op: 'rule'; readonly rule: Rule }
  /** The endpoint's tiers (policy jumps; untracked adds NOTRACK on accept); 'in' = ingress rules. */
  | {
      readonly op: 'tiers';
      readonly tiers: readonly TierPlan[];
      readonly dir: 'in' | 'out';
      readonly untracked: boolean;
    }
  /** Profile jumps, each followed by return-if-accepted. */
  | { readonly op: 'profiles'; readonly profiles: readonly string[]; readonly dir: 'in' | 'out' };

export interface HostLayout {
  /** Chains per table (names as in iptables; the nft renderer prefixes raw/mangle ones). */
  readonly tables: ReadonlyMap<Table, ReadonlyMap<string, readonly Op[]>>;
  /** Built-in hook → the chain hooked in first (nft: the base chain's body). */
  readonly entries: readonly { readonly table: Table; readonly builtin: string; readonly chain: string }[];
  readonly warnings: readonly string[];
}

export interface HostLayoutOptions {
  readonly workloadIfacePrefix: string;
  readonly config: HostPolicyConfig;
}

const ALL_MARKS = Marks.accept | Marks.pass | Marks.scratch0 | Marks.scratch1;
/** The match's terms in a fixed order, so every translator writes them in that order. */
function termsOf(m: Match): Term[] {
  const out: Term[] = [];
  if (m.iif !== undefined) out.push({ t: 'iif', name: m.iif });
  if (m.oif !== undefined) out.push({ t: 'oif', name: m.oif });
  if (m.saddr !== undefined) out.push({ t: 'net', side: 'src', nets: [m.saddr] });
  if (m.daddr !== undefined) out.push({ t: 'net', side: 'dst', nets: [m.daddr] });
  if (m.proto !== undefined)
    out.push({
      t: 'l4',
      proto: m.proto,
      ...(m.dport === undefined ? {} : { dport: m.dport }),
      ...(m.sport === undefined ? {} : { sport: m.sport }),
    });
  if (m.ct !== undefined) out.push({ t: 'ct', state: m.ct });
  if (m.notDnat) out.push({ t: 'not-dnat' });
  if (m.markSet !== undefined) out.push({ t: 'mark', bits: m.markSet });
  if (m.markClear !== undefined) out.push({ t: 'mark', bits: m.markClear, clear: true });
  return out;
}

const rule = (action: Action, match?: Match, comment?: string): Op => ({
  op: 'rule',
  rule: {
    match: match === undefined ? [] : termsOf(match),
    action,
    ...(comment === undefined ? {} : { comment }),
  },
});
const ACCEPT: Action = { t: 'accept' };
const DROP: Action = { t: 'drop' };
const RETURN: Action = { t: 'return' };
const jump = (chain: string): Action => ({ t: 'jump', chain });
const goto = (chain: string): Action => ({ t: 'goto', chain });
const clear = (bits: number): Action => ({ t: 'clear-mark', bits });
const set = (bits: number): Action => ({ t: 'set-mark', bits });
const ifAccepted: Match = { markSet: Marks.accept };

function failsafeRules(ports: readonly FailsafePort[], by: 'dport' | 'sport', net: 'saddr' | 'daddr'): Op[] {
  const out: Op[] = [];
  for (const f of ports) {
    if (f.net?.includes(':')) continue; // IPv4 table
    out.push(
      rule(ACCEPT, { proto: f.protocol, [by]: f.port, ...(f.net === undefined ? {} : { [net]: f.net }) }),
    );
  }
  return out;
}

/**
 * Which plan polices which interface: named host endpoints by name, '*' as the default; with
 * several endpoints for one interface the lowest id wins (Felix logs and picks one too).
 */
export function byInterface<P extends { readonly id: string; readonly interfaceName: string }>(
  plans: readonly P[],
  warnings: string[],
): { named: [string, P][]; star: P | undefined } {
  const named = new Map<string, P>();
  let star: P | undefined;
  for (const p of [...plans].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (p.interfaceName === '') {
      warnings.push(`host endpoint ${p.id}: no interfaceName (matching by expectedIPs is not rendered)`);
      continue;
    }
    if (p.interfaceName === '*') {
      if (star === undefined) star = p;
      else warnings.push(`host endpoint ${p.id}: another '*' endpoint (${star.id}) is in force`);
      continue;
    }
    if (named.has(p.interfaceName))
      warnings.push(
        `host endpoint ${p.id}: interface ${p.interfaceName} already has ${named.get(p.interfaceName)!.id}`,
      );
    else named.set(p.interfaceName, p);
  }
  return { named: [...named.entries()].sort(([a], [b]) => (a < b ? -1 : 1)), star };
}

export function hostLayout(plans: readonly EndpointPlan[], options: HostLayoutOptions): HostLayout {
  const wl = `${options.workloadIfacePrefix}+`;
  const cfg = options.config;
  const warnings: string[] = [];
  const { named, star } = byInterface(
    plans.filter((p) => p.kind === 'host'),
    warnings,
  );
  const all: [string, EndpointPlan][] = [
    ...named,
    ...(star === undefined ? [] : [['*', star] as [string, EndpointPlan]]),
  ];
  const raw = new Map<string, Op[]>();
  const mangle = new Map<string, Op[]>();
  const filter = new Map<string, Op[]>();

  /** A dispatch chain: goto per named interface, then the '*' endpoint's chain for the rest. */
  const dispatch = (
    into: Map<string, Op[]>,
    name: string,
    side: 'iif' | 'oif',
    kind: 'fh' | 'th' | 'fhfw' | 'thfw',
    include: (p: EndpointPlan) => boolean,
  ) => {
    const ops: Op[] = [];
    for (const [iface, p] of named)
      if (include(p)) ops.push(rule(goto(hostEndpointChain(iface, kind)), { [side]: iface }));
    if (star !== undefined && include(star)) ops.push(rule(goto(hostEndpointChain('*', kind))));
    into.set(name, ops);
  };
  const conntrack = (): Op[] => [rule(ACCEPT, { ct: 'established' }), rule(DROP, { ct: 'invalid' })];
  const clearVerdict = rule(clear(Marks.accept | Marks.pass));

  // filter: normal (both directions, failsafes first) and applyOnForward chains per endpoint.
  for (const [iface, p] of all) {
    for (const [kind, dir, fs] of [
      ['fh', 'in', Chains.failsafeIn],
      ['th', 'out', Chains.failsafeOut],
    ] as const) {
      const d = dir === 'in' ? p.ingress : p.egress;
      filter.set(hostEndpointChain(iface, kind), [
        ...conntrack(),
        rule(jump(fs)),
        clearVerdict,
        { op: 'tiers', tiers: d.tiers, dir, untracked: false },
        { op: 'profiles', profiles: d.profiles, dir },
        rule(DROP, undefined, 'no policy or profile allowed'),
      ]);
    }
    for (const [kind, dir] of [
      ['fhfw', 'in'],
      ['thfw', 'out'],
    ] as const) {
      const tiers = dir === 'in' ? p.host!.forward.ingress : p.host!.forward.egress;
      filter.set(hostEndpointChain(iface, kind), [
        ...conntrack(),
        clearVerdict,
        { op: 'tiers', tiers, dir, untracked: false },
        // With no applyOnForward policy in this direction, forwarding is allowed (Felix).
        ...(tiers.length === 0
          ? [rule(set(Marks.accept), undefined, 'forwarded traffic allowed by default'), rule(RETURN)]
          : []),
      ]);
    }
  }
  dispatch(filter, Chains.fromHostDispatch, 'iif', 'fh', () => true);
  dispatch(filter, Chains.toHostDispatch, 'oif', 'th', () => true);
  dispatch(filter, Chains.fromHostForwardDispatch, 'iif', 'fhfw', () => true);
  dispatch(filter, Chains.toHostForwardDispatch, 'oif', 'thfw', () => true);
  filter.set(Chains.failsafeIn, failsafeRules(cfg.failsafeInbound, 'dport', 'saddr'));
  filter.set(Chains.failsafeOut, failsafeRules(cfg.failsafeOutbound, 'dport', 'daddr'));
  const toHost: Action =
    cfg.endpointToHostAction === 'accept' ? ACCEPT : cfg.endpointToHostAction === 'return' ? RETURN : DROP;
  filter.set(Chains.wlToHost, [
    rule(jump(Chains.fromWlDispatch)),
    rule(toHost, undefined, 'DefaultEndpointToHostAction'),
  ]);
  filter.set(Chains.input, [
    rule(goto(Chains.wlToHost), { iif: wl }),
    rule(ACCEPT, ifAccepted, 'accepted by raw or mangle host endpoint policy'),
    rule(clear(ALL_MARKS)),
    rule(jump(Chains.fromHostDispatch)),
    rule(ACCEPT, ifAccepted, 'host endpoint policy accepted'),
  ]);
  // Host → local workload is not policed (Felix: pragmatism; the host could remove the rules).
  filter.set(Chains.output, [
    rule(ACCEPT, ifAccepted, 'accepted by raw host endpoint policy'),
    rule(RETURN, { oif: wl }),
    rule(clear(ALL_MARKS)),
    rule(jump(Chains.toHostDispatch), { notDnat: true }),
    rule(ACCEPT, ifAccepted, 'host endpoint policy accepted'),
  ]);
  filter.set(Chains.forward, [
    // The accept bit may carry a raw/mangle verdict: keep it, and skip from-HEP forward policy then.
    rule(clear(ALL_MARKS & ~Marks.accept)),
    rule(jump(Chains.fromHostForwardDispatch), { markClear: Marks.accept }),
    rule(jump(Chains.fromWlDispatch), { iif: wl }),
    rule(jump(Chains.toWlDispatch), { oif: wl }),
    rule(jump(Chains.toHostForwardDispatch)),
    rule(ACCEPT, ifAccepted, 'policy accepted'),
  ]);

  // raw: doNotTrack policy, for endpoints that have some; workload traffic is never untracked.
  const hasUntracked = (p: EndpointPlan) =>
    p.host!.untracked.ingress.length + p.host!.untracked.egress.length > 0;
  for (const [iface, p] of all) {
    if (!hasUntracked(p)) continue;
    for (const [kind, dir, fs] of [
      ['fh', 'in', Chains.failsafeIn],
      ['th', 'out', Chains.failsafeOut],
    ] as const)
      raw.set(hostEndpointChain(iface, kind), [
        rule(jump(fs)),
        clearVerdict,
        {
          op: 'tiers',
          tiers: dir === 'in' ? p.host!.untracked.ingress : p.host!.untracked.egress,
          dir,
          untracked: true,
        },
      ]);
  }
  dispatch(raw, Chains.fromHostDispatch, 'iif', 'fh', hasUntracked);
  dispatch(raw, Chains.toHostDispatch, 'oif', 'th', hasUntracked);
  // Before conntrack, replies of the other direction's failsafe flows must pass too, or half a
  // failsafe connection could end up untracked.
  raw.set(Chains.failsafeIn, [
    ...failsafeRules(cfg.failsafeInbound, 'dport', 'saddr'),
    ...failsafeRules(cfg.failsafeOutbound, 'sport', 'saddr'),
  ]);
  raw.set(Chains.failsafeOut, [
    ...failsafeRules(cfg.failsafeOutbound, 'dport', 'daddr'),
    ...failsafeRules(cfg.failsafeInbound, 'sport', 'daddr'),
  ]);
  raw.set(Chains.prerouting, [
    rule(clear(ALL_MARKS)),
    rule(set(Marks.scratch0), { iif: wl }),
    rule(jump(Chains.fromHostDispatch), { markClear: Marks.scratch0 }),
    rule(ACCEPT, ifAccepted),
  ]);
  raw.set(Chains.output, [
    rule(clear(ALL_MARKS)),
    rule(jump(Chains.toHostDispatch)),
    rule(ACCEPT, ifAccepted),
  ]);

  // mangle: preDNAT policy (ingress only), for endpoints that have some.
  const hasPreDNAT = (p: EndpointPlan) => p.host!.preDNAT.ingress.length > 0;
  for (const [iface, p] of all)
    if (hasPreDNAT(p))
      mangle.set(hostEndpointChain(iface, 'fh'), [
        ...conntrack(),
        rule(jump(Chains.failsafeIn)),
        clearVerdict,
        { op: 'tiers', tiers: p.host!.preDNAT.ingress, dir: 'in', untracked: false },
      ]);
  dispatch(mangle, Chains.fromHostDispatch, 'iif', 'fh', hasPreDNAT);
  mangle.set(Chains.failsafeIn, failsafeRules(cfg.failsafeInbound, 'dport', 'saddr'));
  mangle.set(Chains.prerouting, [
    rule(ACCEPT, { ct: 'established' }),
    rule(ACCEPT, ifAccepted),
    rule(jump(Chains.fromHostDispatch)),
    rule(ACCEPT, ifAccepted, 'host endpoint policy accepted'),
  ]);

  return {
    tables: new Map<Table, ReadonlyMap<string, readonly Op[]>>([
      ['raw', raw],
      ['mangle', mangle],
      ['filter', filter],
    ]),
    entries: [
      { table: 'raw', builtin: 'PREROUTING', chain: Chains.prerouting },
      { table: 'raw', builtin: 'OUTPUT', chain: Chains.output },
      { table: 'mangle', builtin: 'PREROUTING', chain: Chains.prerouting },
      { table: 'filter', builtin: 'INPUT', chain: Chains.input },
      { table: 'filter', builtin: 'FORWARD', chain: Chains.forward },
      { table: 'filter', builtin: 'OUTPUT', chain: Chains.output },
    ],
    warnings,
  };
}
