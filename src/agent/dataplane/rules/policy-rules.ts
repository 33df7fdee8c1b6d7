// One parsed policy rule (calc RuleProgram) to model rules, after felix/rules/policy.go:
// Allow sets the accept mark and returns, Pass sets the pass mark and returns, Deny drops, Log
// logs and goes on. What the translator cannot say in one rule (several nets, too many port
// slots, numeric ports OR named-port sets, negated lists beside a positive one) becomes OR
// groups over two scratch mark bits: each group ANDs into the running bit. IPv4 only.

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';
import type { NamedPortMatch, ParsedRule, SideMatch } from '../../calc/index.js';
import { namedPortKey } from '../named-port.js';
import type { Action, Capabilities, Rule, Side, Term } from './model.js';
import { Marks, namedPortSetName } from './names.js';

/** Set id -> kernel name; the caller records which sets the rules reference. */
export interface RuleNames {
  readonly setName: (id: string) => string;
  /** Named-port set id (namedPortKey()) or service set id -> kernel name. */
  readonly portSetName: (id: string) => string;
}

export type LoweredRule = { readonly rules: readonly Rule[] } | { readonly skipped: string };

class Skip extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.RuleSkipped, message);
  }
}

const PROTOCOL_NAMES: Readonly<Record<string, string>> = {
  tcp: 'tcp',
  udp: 'udp',
  icmp: 'icmp',
  sctp: 'sctp',
  udplite: 'udplite',
  icmpv6: 'ipv6-icmp',
};
const PROTOCOL_NUMBERS: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 132: 'sctp' };
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'udplite']);

function protocolName(p: string | number): string {
  if (typeof p === 'number') return PROTOCOL_NUMBERS[p] ?? String(p);
  const lower = p.toLowerCase();
  if (/^\d+$/.test(lower)) return PROTOCOL_NUMBERS[Number(lower)] ?? lower;
  return PROTOCOL_NAMES[lower] ?? lower;
}

const isV6 = (net: string): boolean => net.includes(':');
const slots = (p: number | string): number => (typeof p === 'string' && p.includes(':') ? 2 : 1);

function chunks<T>(items: readonly T[], max: number, size: (item: T) => number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let used = 0;
  for (const item of items) {
    if (used + size(item) > max) {
      out.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(item);
    used += size(item);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

interface Parts {
  readonly base: Term[];
  /** Each group: at least one alternative must match. */
  readonly any: Term[][];
  /** Each group: no alternative may match. */
  readonly none: Term[][];
}

const netTerm = (side: Side, nets: readonly string[], not?: boolean): Term =>
  not ? { t: 'net', side, nets, not } : { t: 'net', side, nets };

const portTerms = (
  side: Side,
  proto: string,
  ports: readonly (number | string)[],
  caps: Capabilities,
  not?: boolean,
): Term[] =>
  chunks(ports, caps.portSlotsPerTerm, slots).map((c) =>
    not ? { t: 'ports', side, proto, ports: c, not } : { t: 'ports', side, proto, ports: c },
  );

function portSet(side: Side, n: NamedPortMatch, names: RuleNames, not?: boolean): Term {
  const set = names.portSetName(namedPortKey(n));
  return not ? { t: 'port-set', side, set, not } : { t: 'port-set', side, set };
}

const one = (): number => 1;

const isEmpty = (m: SideMatch): boolean =>
  m.nets.length === 0 &&
  m.notNets.length === 0 &&
  m.ipSets.length === 0 &&
  m.notIpSets.length === 0 &&
  m.ports.length === 0 &&
  m.notPorts.length === 0 &&
  m.namedPorts.length === 0 &&
  m.notNamedPorts.length === 0 &&
  (m.ipPortSets === undefined || m.ipPortSets.length === 0);

function side(
  m: SideMatch,
  which: Side,
  proto: string | undefined,
  caps: Capabilities,
  names: RuleNames,
  out: Parts,
) {
  if (isEmpty(m)) return; // most sides: nothing to match, nothing to allocate
  const nets = m.nets.filter((n) => !isV6(n));
  const notNets = m.notNets.filter((n) => !isV6(n));
  const netsInBase = nets.length > 0 && nets.length <= caps.netsPerTerm;
  if (netsInBase) out.base.push(netTerm(which, nets));
  else if (nets.length > 0) out.any.push(chunks(nets, caps.netsPerTerm, one).map((c) => netTerm(which, c)));
  if (notNets.length > 0 && notNets.length <= caps.netsPerTerm && (caps.netAndNotNet || !netsInBase))
    out.base.push(netTerm(which, notNets, true));
  else if (notNets.length > 0)
    out.none.push(chunks(notNets, caps.netsPerTerm, one).map((c) => netTerm(which, c)));
  for (const id of m.ipSets) out.base.push({ t: 'set', side: which, set: names.setName(id) });
  for (const id of m.notIpSets) out.base.push({ t: 'set', side: which, set: names.setName(id), not: true });
  if ((m.ports.length > 0 || m.notPorts.length > 0) && (proto === undefined || !PORT_PROTOCOLS.has(proto)))
    throw new Skip('ports need protocol tcp, udp, sctp or udplite');
  // Felix: the rule's ports are its numeric ports OR its named ports (ports need a protocol).
  const alts = [
    ...(m.ports.length === 0 ? [] : portTerms(which, proto!, m.ports, caps)),
    ...m.namedPorts.map((n) => portSet(which, n, names)),
  ];
  if (alts.length === 1) out.base.push(alts[0]!);
  else if (alts.length > 1) out.any.push(alts);
  if (m.notPorts.length > 0) out.base.push(...portTerms(which, proto!, m.notPorts, caps, true));
  for (const n of m.notNamedPorts) out.base.push(portSet(which, n, names, true));
  // A destination service: (address, protocol, port) in the service's set.
  for (const id of m.ipPortSets ?? [])
    out.base.push({ t: 'port-set', side: which, set: names.portSetName(id) });
}

function verdict(action: ParsedRule['action']): Action {
  switch (action) {
    case 'allow':
      return { t: 'mark-return', bits: Marks.accept };
    case 'next-tier':
      return { t: 'mark-return', bits: Marks.pass };
    case 'deny':
      return { t: 'drop' };
    case 'log':
      return { t: 'log', prefix: 'tabby-packet: ' };
  }
}

function lower(rule: ParsedRule, caps: Capabilities, names: RuleNames): Rule[] {
  if (rule.ipVersion === 6) throw new Skip('IPv6 rule (IPv4 table)');
  for (const s of [rule.src, rule.dst]) {
    // A rule whose nets are all of the other family is omitted (Felix), as is one whose
    // notNets exclude every address.
    if (s.nets.length > 0 && s.nets.every(isV6)) throw new Skip('IPv6 nets only');
    if (s.notNets.includes('0.0.0.0/0')) throw new Skip('notNets 0.0.0.0/0 never matches');
  }
  const proto = rule.protocol === undefined ? undefined : protocolName(rule.protocol);
  const notProto = rule.notProtocol === undefined ? undefined : protocolName(rule.notProtocol);
  if (proto === 'ipv6-icmp' || (proto !== undefined && proto === notProto))
    throw new Skip('protocol never matches IPv4');
  const parts: Parts = { base: [], any: [], none: [] };
  if (proto !== undefined) parts.base.push({ t: 'proto', proto });
  else if (notProto !== undefined) parts.base.push({ t: 'proto', proto: notProto, not: true });
  if (rule.icmpType !== undefined || rule.notIcmpType !== undefined) {
    if (proto !== 'icmp') throw new Skip('ICMP type needs protocol icmp');
    const icmp = (type: number, code: number | undefined, not: boolean): Term => ({
      t: 'icmp',
      type,
      ...(code === undefined ? {} : { code }),
      ...(not ? { not } : {}),
    });
    if (rule.icmpType !== undefined) parts.base.push(icmp(rule.icmpType, rule.icmpCode, false));
    if (rule.notIcmpType !== undefined) parts.base.push(icmp(rule.notIcmpType, rule.notIcmpCode, true));
  }
  side(rule.src, 'src', proto, caps, names, parts);
  side(rule.dst, 'dst', proto, caps, names, parts);
  const action = verdict(rule.action);
  if (parts.any.length === 0 && parts.none.length === 0) return [{ match: parts.base, action }];

  // OR groups: the running scratch bit means "every group so far matched".
  const bits = [Marks.scratch0, Marks.scratch1] as const;
  const out: Rule[] = [{ match: [], action: { t: 'clear-mark', bits: Marks.scratch0 | Marks.scratch1 } }];
  let cur: number | undefined;
  for (const group of parts.any) {
    const next = cur === bits[0] ? bits[1] : bits[0];
    if (cur !== undefined) out.push({ match: [], action: { t: 'clear-mark', bits: next } });
    const guard: Term[] = cur === undefined ? [] : [{ t: 'mark', bits: cur }];
    for (const alt of group) out.push({ match: [...guard, alt], action: { t: 'set-mark', bits: next } });
    cur = next;
  }
  if (cur === undefined) {
    cur = bits[0];
    out.push({ match: [], action: { t: 'set-mark', bits: cur } });
  }
  const running: Term = { t: 'mark', bits: cur };
  for (const group of parts.none)
    for (const alt of group) out.push({ match: [running, alt], action: { t: 'clear-mark', bits: cur } });
  out.push({ match: [...parts.base, running], action });
  return out;
}

/** The rule as model rules, or the reason the IPv4 dataplanes leave it out. */
export function lowerRule(rule: ParsedRule, caps: Capabilities, names: RuleNames): LoweredRule {
  try {
    return { rules: lower(rule, caps, names) };
  } catch (err) {
    if (err instanceof Skip) return { skipped: err.message };
    throw err;
  }
}

/** One policy/profile direction as a chain, with the sets its rules reference. */
export interface RuleChain {
  readonly rules: readonly Rule[];
  readonly warnings: readonly string[];
  /** Selector IP set ids / named-port and service set ids the rules reference. */
  readonly sets: readonly string[];
  readonly portSets: readonly string[];
}

export function lowerRuleChain(
  rules: readonly ParsedRule[],
  what: string,
  caps: Capabilities,
  names: { setName(id: string): string; portSetName(id: string): string },
): RuleChain {
  const sets = new Set<string>();
  const portSets = new Set<string>();
  const recording: RuleNames = {
    setName: (id) => {
      sets.add(id);
      return names.setName(id);
    },
    portSetName: (id) => {
      portSets.add(id);
      return names.portSetName(id);
    },
  };
  const out: Rule[] = [];
  const warnings: string[] = [];
  for (const [i, rule] of rules.entries()) {
    const r = lowerRule(rule, caps, recording);
    if ('skipped' in r) warnings.push(`${what} rule ${i}: skipped (${r.skipped})`);
    else out.push(...r.rules);
  }
  return Object.freeze({ rules: Object.freeze(out), warnings, sets: [...sets], portSets: [...portSets] });
}

export interface RuleContext {
  /** IP set id -> kernel set name. */
  readonly setName: (id: string) => string;
  /** Named-port set id (namedPortKey()) -> kernel set name; default names.namedPortSetName. */
  readonly namedPortSetName?: (id: string) => string;
}

/** A rule in a translator's syntax, or a reason it cannot be rendered. */
export type RenderedRule = { readonly lines: string[] } | { readonly skipped: string };

/** One parsed rule through the model into a translator's lines (for tests and tools). */
export function translateRule(
  rule: ParsedRule,
  ctx: RuleContext,
  caps: Capabilities,
  lines: (rule: Rule) => readonly string[],
): RenderedRule {
  const r = lowerRule(rule, caps, {
    setName: ctx.setName,
    portSetName: ctx.namedPortSetName ?? namedPortSetName,
  });
  return 'skipped' in r ? r : { lines: r.rules.flatMap(lines) };
}
