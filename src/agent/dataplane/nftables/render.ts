// Pure: the iptables renderer's DataplaneSnapshot to one nft table (`table ip tabby`) with the
// same layout and semantics (Felix's endpoints/dispatch/static chains): interface dispatch by
// verdict map, per-endpoint to/from chains, per-policy and per-profile chains, accept/pass mark
// bits, end-of-tier drop, profiles, final drop; host endpoints from the shared host layout, with
// base chains at the raw, mangle and filter hooks. Deterministic: same snapshot, same text.

import { createHash } from 'node:crypto';
import { defaultHostConfig, type EndpointPlan, type RuleProgram, type TierPlan } from '../../calc/index.js';
import { type Action, hostLayout, type Match, type Table } from '../iptables/host-layout.js';
import {
  Chains,
  endpointChain,
  ipSetName,
  Marks,
  namedPortSetName,
  policyChain,
  profileChain,
} from '../iptables/names.js';
import { type DataplaneSnapshot, namedPortMembers, type RenderOptions } from '../iptables/render.js';
import { PURE, type RenderCache, sameNamedPortMember, sameValue } from '../render-cache.js';
import { clearMark, markClear, markSet, renderRuleChain, setMark } from './rule-render.js';

/**
 * Family `ip`, not `inet`: the renderer (as the iptables one) expresses IPv4 only. In an inet
 * table, forwarded IPv6 would also walk the endpoint chains and meet their final drops with
 * every IPv6 rule missing; the iptables dataplane leaves IPv6 alone, and so does this one.
 */
export const TABLE_FAMILY = 'ip';
export const TABLE_NAME = 'tabby';
/** The base chain hooked at forward (the iptables dataplane's tabby-FORWARD). */
export const BASE_CHAIN = 'forward';

/** Base chains: the iptables dataplane's hooked entry chains, by (table, built-in chain). */
export const BASE_CHAINS: readonly {
  readonly table: Table;
  readonly builtin: string;
  readonly name: string;
  readonly spec: string;
}[] = [
  { table: 'raw', builtin: 'PREROUTING', name: 'raw-prerouting', spec: 'hook prerouting priority raw' },
  { table: 'raw', builtin: 'OUTPUT', name: 'raw-output', spec: 'hook output priority raw' },
  {
    table: 'mangle',
    builtin: 'PREROUTING',
    name: 'mangle-prerouting',
    spec: 'hook prerouting priority mangle',
  },
  { table: 'filter', builtin: 'INPUT', name: 'input', spec: 'hook input priority filter' },
  { table: 'filter', builtin: 'FORWARD', name: BASE_CHAIN, spec: 'hook forward priority filter' },
  { table: 'filter', builtin: 'OUTPUT', name: 'output', spec: 'hook output priority filter' },
];

const ENTRY: Readonly<Record<string, string>> = {
  'raw/tabby-PREROUTING': 'raw-prerouting',
  'raw/tabby-OUTPUT': 'raw-output',
  'mangle/tabby-PREROUTING': 'mangle-prerouting',
  'filter/tabby-INPUT': 'input',
  'filter/tabby-FORWARD': BASE_CHAIN,
  'filter/tabby-OUTPUT': 'output',
};

/**
 * One table holds what iptables spreads over raw, mangle and filter (as Felix's nft mode):
 * raw and mangle chains get the table as a prefix, entry chains become base chains, and
 * policy and profile chains (pure matches and verdicts) are shared by all of them.
 */
export function nftChainName(table: Table, name: string): string {
  const entry = ENTRY[`${table}/${name}`];
  if (entry !== undefined) return entry;
  if (table === 'filter' || /^tabby-(pi|po|pri|pro)-/.test(name)) return name;
  return `${table}-${name}`;
}

/** One layout rule as an nft rule (comment last, as nft wants it). */
export function nftOpText(table: Table, match: Match | undefined, action: Action, comment?: string): string {
  const parts: string[] = [];
  const m = match ?? {};
  const glob = (i: string) => q(i.endsWith('+') ? `${i.slice(0, -1)}*` : i);
  if (m.iif !== undefined) parts.push(`iifname ${glob(m.iif)}`);
  if (m.oif !== undefined) parts.push(`oifname ${glob(m.oif)}`);
  if (m.saddr !== undefined) parts.push(`ip saddr ${m.saddr}`);
  if (m.daddr !== undefined) parts.push(`ip daddr ${m.daddr}`);
  if (m.proto !== undefined && m.dport === undefined && m.sport === undefined)
    parts.push(`meta l4proto ${m.proto}`);
  if (m.dport !== undefined) parts.push(`${m.proto} dport ${m.dport}`);
  if (m.sport !== undefined) parts.push(`${m.proto} sport ${m.sport}`);
  if (m.ct === 'established') parts.push('ct state established,related');
  if (m.ct === 'invalid') parts.push('ct state invalid');
  if (m.notDnat) parts.push('ct status & dnat == 0');
  if (m.markSet !== undefined) parts.push(markSet(m.markSet));
  if (m.markClear !== undefined) parts.push(markClear(m.markClear));
  switch (action.t) {
    case 'accept':
    case 'drop':
    case 'return':
    case 'notrack':
      parts.push(action.t);
      break;
    case 'jump':
    case 'goto':
      parts.push(`${action.t} ${nftChainName(table, action.chain)}`);
      break;
    case 'set-mark':
      parts.push(setMark(action.bits));
      break;
    case 'clear-mark':
      parts.push(clearMark(action.bits));
      break;
  }
  if (comment !== undefined) parts.push(`comment ${q(comment)}`);
  return parts.join(' ');
}

export interface NftSetSpec {
  readonly id: string;
  /**
   * `ipv4_addr`: a selector set; `ipv4_addr . inet_proto . inet_service`: a named-port set
   * (Felix's hash:ip,port).
   */
  readonly type: 'ipv4_addr' | 'ipv4_addr . inet_proto . inet_service';
  /** Sorted: IPv4 CIDRs (an interval set holds /0 as is), or `addr . proto . port`. */
  readonly members: readonly string[];
}

export interface RenderedNftables {
  /** Regular chain name -> rules, keys sorted; the base chain's rules are under BASE_CHAIN. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Set name -> spec, keys sorted; only sets the rendered rules reference. */
  readonly sets: ReadonlyMap<string, NftSetSpec>;
  /** The table definition (`table ip tabby { ... }`), carrying `hash` in its comment. */
  readonly text: string;
  /** A digest of the definition; the driver reads it back from the table comment. */
  readonly hash: string;
  readonly warnings: readonly string[];
}

const q = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;

function setMembers(members: readonly string[]): string[] {
  const out = new Set<string>();
  for (const m of members) if (!m.includes(':')) out.add(m.includes('/') ? m : `${m}/32`);
  return [...out].sort();
}

const sortedMap = <V>(m: Map<string, V>): Map<string, V> =>
  new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * With a cache (held by the caller across renders of one node), policy and profile chains are
 * reused while their rule program is the same object, and endpoint chains while their plan is.
 * The result equals a render without a cache.
 */
export function render(
  snapshot: DataplaneSnapshot,
  options: RenderOptions = {},
  cache?: RenderCache,
): RenderedNftables {
  cache?.begin();
  const out = renderWith(snapshot, options, cache);
  cache?.end();
  return out;
}

type Rule = RuleProgram['inbound'][number];

const NO_RULES: readonly Rule[] = Object.freeze([]);
const MISSING_PROFILE: readonly string[] = Object.freeze(['drop comment "missing profile"']);

function renderWith(
  snapshot: DataplaneSnapshot,
  options: RenderOptions,
  cache?: RenderCache,
): RenderedNftables {
  const ifacePrefix = options.workloadIfacePrefix ?? 'cali';
  const chains = new Map<string, readonly string[]>();
  const usedSets = new Set<string>();
  const usedNamedPortSets = new Set<string>();
  const warnings: string[] = [];

  const ruleChain = (name: string, rules: readonly Rule[], what: string) => {
    if (chains.has(name)) return;
    const entry =
      cache === undefined
        ? renderRuleChain(rules, what)
        : cache.memo(`nft-rule:${name}`, rules, () => Object.freeze(renderRuleChain(rules, what)));
    for (const id of entry.sets) usedSets.add(id);
    for (const id of entry.namedPortSets) usedNamedPortSets.add(id);
    warnings.push(...entry.warnings);
    chains.set(name, entry.lines);
  };

  /** Ensures the policy's chain exists; its name (a hash, so memoised). */
  const policyChainOf = (id: string, dir: 'in' | 'out'): string => {
    const chain =
      cache === undefined
        ? policyChain(id, dir)
        : cache.memo(`name:${dir}:${id}`, PURE, () => policyChain(id, dir));
    const prog = snapshot.policies.get(id);
    ruleChain(chain, (dir === 'in' ? prog?.inbound : prog?.outbound) ?? NO_RULES, `policy ${id} ${dir}`);
    return chain;
  };

  /** Ensures the profile's chain exists (a drop chain when missing); its name. */
  const profileChainOf = (name: string, dir: 'in' | 'out'): string => {
    const chain = profileChain(name, dir);
    const prog = snapshot.profiles.get(name);
    if (prog === undefined) {
      if (!chains.has(chain)) warnings.push(`profile ${name}: missing, renders as DROP`);
      chains.set(chain, MISSING_PROFILE);
    } else ruleChain(chain, dir === 'in' ? prog.inbound : prog.outbound, `profile ${name} ${dir}`);
    return chain;
  };

  const tierLines = (tier: TierPlan, dir: 'in' | 'out', untracked = false): string[] => {
    const lines = [`${clearMark(Marks.pass)} comment ${q(`start of tier ${tier.name}`)}`];
    for (const pol of tier.policies) {
      lines.push(`${markClear(Marks.pass)} jump ${policyChainOf(pol.id, dir)}`);
      // doNotTrack: an allow is notrack + accept (Felix), so neither direction is tracked.
      if (untracked) lines.push(`${markSet(Marks.accept)} notrack`);
      lines.push(`${markSet(Marks.accept)} return`);
    }
    if (tier.defaultAction === 'deny')
      lines.push(`${markClear(Marks.pass)} drop comment ${q(`end of tier ${tier.name}`)}`);
    return lines;
  };

  const profileLines = (profiles: readonly string[], dir: 'in' | 'out'): string[] => {
    const lines: string[] = [];
    for (const name of profiles)
      lines.push(`jump ${profileChainOf(name, dir)}`, `${markSet(Marks.accept)} return`);
    return lines;
  };

  const endpointLines = (plan: EndpointPlan, dir: 'in' | 'out'): string[] => {
    const d = dir === 'in' ? plan.ingress : plan.egress;
    const lines = [
      'ct state established,related accept',
      'ct state invalid drop',
      clearMark(Marks.accept | Marks.pass),
    ];
    for (const tier of d.tiers) lines.push(...tierLines(tier, dir));
    lines.push(...profileLines(d.profiles, dir));
    lines.push('drop comment "no policy or profile allowed"');
    return lines;
  };

  /** An endpoint chain: its own lines depend only on the plan; the chains it jumps to are ensured. */
  const endpointChainLines = (name: string, plan: EndpointPlan, dir: 'in' | 'out'): readonly string[] => {
    if (cache === undefined) return endpointLines(plan, dir);
    let fresh = false;
    const lines = cache.memo(`nft-endpoint:${name}`, plan, () => {
      fresh = true;
      return Object.freeze(endpointLines(plan, dir));
    });
    if (!fresh) {
      const d = dir === 'in' ? plan.ingress : plan.egress;
      for (const tier of d.tiers) for (const pol of tier.policies) policyChainOf(pol.id, dir);
      for (const name of d.profiles) profileChainOf(name, dir);
    }
    return lines;
  };

  const plans = [...snapshot.plans].sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : 1));
  const toMap: string[] = [];
  const fromMap: string[] = [];
  for (const plan of plans) {
    if (plan.kind !== 'workload') continue; // host endpoints: hostLayout below
    const tw = endpointChain(plan.interfaceName, 'to');
    const fw = endpointChain(plan.interfaceName, 'from');
    chains.set(tw, endpointChainLines(tw, plan, 'in'));
    chains.set(fw, endpointChainLines(fw, plan, 'out'));
    toMap.push(`${q(plan.interfaceName)} : goto ${tw}`);
    fromMap.push(`${q(plan.interfaceName)} : goto ${fw}`);
  }
  // A verdict map dispatches in one lookup; an unknown workload interface is dropped (Felix).
  const dispatch = (key: 'iifname' | 'oifname', entries: string[]) => [
    ...(entries.length === 0 ? [] : [`${key} vmap { ${entries.join(', ')} }`]),
    'drop comment "unknown interface"',
  ];
  chains.set(Chains.toWlDispatch, dispatch('oifname', toMap));
  chains.set(Chains.fromWlDispatch, dispatch('iifname', fromMap));

  const layout = hostLayout(plans, {
    workloadIfacePrefix: ifacePrefix,
    config: snapshot.hostConfig ?? defaultHostConfig(),
  });
  warnings.push(...layout.warnings);
  for (const [table, layoutChains] of layout.tables)
    for (const [name, ops] of layoutChains)
      chains.set(
        nftChainName(table, name),
        ops.flatMap((op) => {
          if (op.op === 'rule') return [nftOpText(table, op.match, op.action, op.comment)];
          if (op.op === 'profiles') return profileLines(op.profiles, op.dir);
          return op.tiers.flatMap((t) => tierLines(t, op.dir, op.untracked));
        }),
      );

  // Set specs are kept while the members the snapshot gives are equal (they are fresh arrays).
  const sets = new Map<string, NftSetSpec>();
  for (const id of usedSets) {
    const members = snapshot.ipSets.get(id) ?? [];
    const spec = (): NftSetSpec => ({ id, type: 'ipv4_addr', members: setMembers(members) });
    sets.set(
      ipSetName(id),
      cache === undefined ? spec() : cache.memo(`nft-set:${id}`, members, spec, sameValue),
    );
  }
  for (const id of usedNamedPortSets) {
    const members = snapshot.namedPortSets?.get(id) ?? [];
    const spec = (): NftSetSpec => ({
      id,
      type: 'ipv4_addr . inet_proto . inet_service',
      members: namedPortMembers(id, members).map((m) => {
        const [addr, pp] = m.split(',') as [string, string];
        const [proto, port] = pp.split(':') as [string, string];
        return `${addr} . ${proto} . ${port}`;
      }),
    });
    sets.set(
      namedPortSetName(id),
      cache === undefined ? spec() : cache.memo(`nft-ports:${id}`, members, spec, sameNamedPortMember),
    );
  }
  const sortedChains = sortedMap(chains);
  const sortedSets = sortedMap(sets);
  const body = tableBody(sortedChains, sortedSets);
  const hash = createHash('sha256').update(body.join('\n')).digest('base64url').slice(0, 22);
  return {
    chains: sortedChains,
    sets: sortedSets,
    text: [`table ${TABLE_FAMILY} ${TABLE_NAME} {`, `\tcomment "tabby:${hash}"`, ...body, '}', ''].join('\n'),
    hash,
    warnings: [...new Set(warnings)].sort(),
  };
}

/** The set elements line alone, so a membership change touches exactly one line per set. */
export const elementsLine = (members: readonly string[]): string =>
  members.length === 0 ? '' : `\t\telements = { ${members.join(', ')} }`;

function tableBody(chains: ReadonlyMap<string, readonly string[]>, sets: ReadonlyMap<string, NftSetSpec>) {
  const out: string[] = [];
  for (const [name, spec] of sets) {
    out.push(`\tset ${name} {`, `\t\ttype ${spec.type}`, '\t\tflags interval');
    // auto-merge is for plain intervals; a concatenated set keeps its elements as given.
    if (spec.type === 'ipv4_addr') out.push('\t\tauto-merge');
    if (spec.members.length > 0) out.push(elementsLine(spec.members));
    out.push('\t}');
  }
  // Base chains first, for reading; then the regular chains in name order.
  const bases = new Set(BASE_CHAINS.map((b) => b.name));
  for (const b of BASE_CHAINS)
    out.push(
      `\tchain ${b.name} {`,
      `\t\ttype filter ${b.spec}; policy accept;`,
      ...(chains.get(b.name) ?? []).map((r) => `\t\t${r}`),
      '\t}',
    );
  for (const [name, rules] of chains)
    if (!bases.has(name)) out.push(`\tchain ${name} {`, ...rules.map((r) => `\t\t${r}`), '\t}');
  return out;
}

/**
 * One `nft -f` transaction that replaces the table atomically: the bodiless `table` creates it
 * when absent (so the delete cannot fail), the delete drops the old one, the definition follows.
 */
export function renderReplace(rendered: RenderedNftables): string {
  return `table ${TABLE_FAMILY} ${TABLE_NAME}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n${rendered.text}`;
}

/** One transaction that removes the table (and nothing else), whether or not it exists. */
export function renderCleanup(): string {
  return `table ${TABLE_FAMILY} ${TABLE_NAME}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n`;
}

/** The hash a live table carries in its comment (`nft list table ip tabby` output), if any. */
export function parseTableHash(listing: string): string | undefined {
  return /comment "tabby:([A-Za-z0-9_-]+)"/.exec(listing)?.[1];
}
