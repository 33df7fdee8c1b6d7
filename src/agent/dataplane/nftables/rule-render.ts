// One parsed rule (calc RuleProgram) to one nft rule, with the iptables renderer's semantics:
// Allow sets the accept mark and returns, Pass sets the pass mark and returns, Deny drops, Log
// logs and goes on. nft has anonymous sets, so an OR of nets or ports (and a negated list) is
// one match: no 15-port chunks, as the iptables encoding needs. Named ports match named sets of
// `ipv4_addr . inet_proto . inet_service`; a rule whose ports are numeric ports OR named ports
// (or several named-port sets) ORs them with the scratch mark bits, as the iptables renderer.

import type { NamedPortMatch, ParsedRule, SideMatch } from '../../calc/index.js';
import { hex, ipSetName, Marks, namedPortSetName } from '../iptables/names.js';
import { namedPortKey } from '../named-port.js';
import type { RuleChainEntry } from '../render-cache.js';
import { renderRuleChain as renderChain } from '../rule-chain.js';

type ModelPort = number | string;

/** `meta mark set meta mark | bit` then a verdict: one rule where iptables needs two. */
export const setMark = (bit: number): string => `meta mark set meta mark | ${hex(bit)}`;
/** Clears bits: `meta mark set meta mark & ~bits`. */
export const clearMark = (bits: number): string => `meta mark set meta mark & ${hex(~bits >>> 0)}`;
export const markSet = (bit: number): string => `meta mark & ${hex(bit)} == ${hex(bit)}`;
export const markClear = (bit: number): string => `meta mark & ${hex(bit)} == 0x0`;

function actionText(action: ParsedRule['action']): string {
  switch (action) {
    case 'allow':
      return `${setMark(Marks.accept)} return`;
    case 'next-tier':
      return `${setMark(Marks.pass)} return`;
    case 'deny':
      return 'drop';
    case 'log':
      return 'log prefix "tabby-packet: " level notice';
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
const portText = (p: ModelPort): string => String(p).replace(':', '-');

/** `value` for one item, `{ a, b }` for several (an anonymous set: any of them). */
const oneOrSet = (items: readonly string[]): string =>
  items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;

export interface RuleContext {
  /** IP set id -> kernel set name. */
  readonly setName: (id: string) => string;
  /** Named-port set id (namedPortKey()) -> set name; default names.namedPortSetName. */
  readonly namedPortSetName?: (id: string) => string;
}

/**
 * The rule as nft rules (one, unless an OR of numeric and named ports needs scratch marks), or
 * a reason it cannot be rendered.
 */
export type RenderedRule = { readonly lines: readonly string[] } | { readonly skipped: string };

class Skip extends Error {}

interface Parts {
  base: string[];
  /** Each group: at least one alternative must match. */
  any: string[][];
}

function side(m: SideMatch, which: 'src' | 'dst', proto: string | undefined, ctx: RuleContext, out: Parts) {
  const addr = which === 'src' ? 'ip saddr' : 'ip daddr';
  const nets = m.nets.filter((n) => !isV6(n));
  const notNets = m.notNets.filter((n) => !isV6(n));
  if (nets.length > 0) out.base.push(`${addr} ${oneOrSet(nets)}`);
  if (notNets.length > 0) out.base.push(`${addr} != ${oneOrSet(notNets)}`);
  for (const id of m.ipSets) out.base.push(`${addr} @${ctx.setName(id)}`);
  for (const id of m.notIpSets) out.base.push(`${addr} != @${ctx.setName(id)}`);
  if ((m.ports.length > 0 || m.notPorts.length > 0) && (proto === undefined || !PORT_PROTOCOLS.has(proto)))
    throw new Skip('ports need protocol tcp, udp, sctp or udplite');
  const field = `${proto} ${which === 'src' ? 'sport' : 'dport'}`;
  const key = `${addr} . meta l4proto . th ${which === 'src' ? 'sport' : 'dport'}`;
  const npName = (n: NamedPortMatch) => (ctx.namedPortSetName ?? namedPortSetName)(namedPortKey(n));
  // Felix: the rule's ports are its numeric ports OR its named ports.
  const alts = [
    ...(m.ports.length > 0 ? [`${field} ${oneOrSet(m.ports.map(portText))}`] : []),
    ...m.namedPorts.map((n) => `${key} @${npName(n)}`),
  ];
  if (alts.length === 1) out.base.push(alts[0]!);
  else if (alts.length > 1) out.any.push(alts);
  if (m.notPorts.length > 0) out.base.push(`${field} != ${oneOrSet(m.notPorts.map(portText))}`);
  for (const n of m.notNamedPorts) out.base.push(`${key} != @${npName(n)}`);
  // A destination service: (address, protocol, port) in the service's set.
  for (const id of m.ipPortSets ?? [])
    out.base.push(`${key} @${(ctx.namedPortSetName ?? namedPortSetName)(id)}`);
}

export function renderRule(rule: ParsedRule, ctx: RuleContext): RenderedRule {
  try {
    return { lines: render(rule, ctx) };
  } catch (err) {
    if (err instanceof Skip) return { skipped: err.message };
    throw err;
  }
}

function render(rule: ParsedRule, ctx: RuleContext): string[] {
  if (rule.ipVersion === 6) throw new Skip('IPv6 rule (IPv4 table)');
  for (const s of [rule.src, rule.dst]) {
    if (s.nets.length > 0 && s.nets.every(isV6)) throw new Skip('IPv6 nets only');
    if (s.notNets.includes('0.0.0.0/0')) throw new Skip('notNets 0.0.0.0/0 never matches');
  }
  const proto = rule.protocol === undefined ? undefined : protocolName(rule.protocol);
  const notProto = rule.notProtocol === undefined ? undefined : protocolName(rule.notProtocol);
  if (proto === 'ipv6-icmp' || (proto !== undefined && proto === notProto))
    throw new Skip('protocol never matches IPv4');
  const parts: string[] = [];
  const out: Parts = { base: parts, any: [] };
  if (proto !== undefined) parts.push(`meta l4proto ${proto}`);
  else if (notProto !== undefined) parts.push(`meta l4proto != ${notProto}`);
  if (rule.icmpType !== undefined || rule.notIcmpType !== undefined) {
    if (proto !== 'icmp') throw new Skip('ICMP type needs protocol icmp');
    if (rule.icmpType !== undefined) {
      parts.push(`icmp type ${rule.icmpType}`);
      if (rule.icmpCode !== undefined) parts.push(`icmp code ${rule.icmpCode}`);
    }
    // Not (type and code) is one concatenated match; iptables' `! --icmp-type t/c` means the same.
    if (rule.notIcmpType !== undefined)
      parts.push(
        rule.notIcmpCode === undefined
          ? `icmp type != ${rule.notIcmpType}`
          : `icmp type . icmp code != { ${rule.notIcmpType} . ${rule.notIcmpCode} }`,
      );
  }
  side(rule.src, 'src', proto, ctx, out);
  side(rule.dst, 'dst', proto, ctx, out);
  if (out.any.length === 0) return [[...parts, actionText(rule.action)].join(' ')];

  // OR groups: the running scratch bit means "every group so far matched".
  const bits = [Marks.scratch0, Marks.scratch1];
  const lines = [clearMark(Marks.scratch0 | Marks.scratch1)];
  let cur: number | undefined;
  for (const group of out.any) {
    const next = cur === bits[0] ? bits[1]! : bits[0]!;
    if (cur !== undefined) lines.push(clearMark(next));
    const guard = cur === undefined ? '' : `${markSet(cur)} `;
    for (const alt of group) lines.push(`${guard}${alt} ${setMark(next)}`);
    cur = next;
  }
  lines.push([...parts, markSet(cur!), actionText(rule.action)].join(' '));
  return lines;
}

/** Renders one policy/profile direction's rules, recording the sets they reference. */
export function renderRuleChain(rules: readonly ParsedRule[], what: string): RuleChainEntry {
  return renderChain(rules, what, { renderRule, ipSetName, namedPortSetName });
}
