// One parsed rule (calc RuleProgram) to one nft rule, with the iptables renderer's semantics:
// Allow sets the accept mark and returns, Pass sets the pass mark and returns, Deny drops, Log
// logs and goes on. nft has anonymous sets, so an OR of nets or ports (and a negated list) is
// one match: no scratch marks and no 15-port chunks, as the iptables encoding needs.

import type { ParsedRule, SideMatch } from '../../calc/index.js';
import { hex, Marks } from '../iptables/names.js';

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
}

/** The rule as one nft rule statement list, or a reason it cannot be rendered. */
export type RenderedRule = { readonly line: string } | { readonly skipped: string };

class Skip extends Error {}

function side(m: SideMatch, which: 'src' | 'dst', proto: string | undefined, ctx: RuleContext): string[] {
  const addr = which === 'src' ? 'ip saddr' : 'ip daddr';
  const out: string[] = [];
  const nets = m.nets.filter((n) => !isV6(n));
  const notNets = m.notNets.filter((n) => !isV6(n));
  if (nets.length > 0) out.push(`${addr} ${oneOrSet(nets)}`);
  if (notNets.length > 0) out.push(`${addr} != ${oneOrSet(notNets)}`);
  for (const id of m.ipSets) out.push(`${addr} @${ctx.setName(id)}`);
  for (const id of m.notIpSets) out.push(`${addr} != @${ctx.setName(id)}`);
  if (m.ports.length === 0 && m.notPorts.length === 0) return out;
  if (proto === undefined || !PORT_PROTOCOLS.has(proto))
    throw new Skip('ports need protocol tcp, udp, sctp or udplite');
  const field = `${proto} ${which === 'src' ? 'sport' : 'dport'}`;
  if (m.ports.length > 0) out.push(`${field} ${oneOrSet(m.ports.map(portText))}`);
  if (m.notPorts.length > 0) out.push(`${field} != ${oneOrSet(m.notPorts.map(portText))}`);
  return out;
}

export function renderRule(rule: ParsedRule, ctx: RuleContext): RenderedRule {
  try {
    return { line: render(rule, ctx) };
  } catch (err) {
    if (err instanceof Skip) return { skipped: err.message };
    throw err;
  }
}

function render(rule: ParsedRule, ctx: RuleContext): string {
  if (rule.unsupported !== undefined) throw new Skip(`${rule.unsupported} matches are not rendered`);
  if (rule.ipVersion === 6) throw new Skip('IPv6 rule (IPv4 table)');
  for (const s of [rule.src, rule.dst]) {
    if (s.namedPorts.length > 0 || s.notNamedPorts.length > 0)
      throw new Skip('named ports need ip,port sets (not rendered)');
    if (s.nets.length > 0 && s.nets.every(isV6)) throw new Skip('IPv6 nets only');
    if (s.notNets.includes('0.0.0.0/0')) throw new Skip('notNets 0.0.0.0/0 never matches');
  }
  const proto = rule.protocol === undefined ? undefined : protocolName(rule.protocol);
  const notProto = rule.notProtocol === undefined ? undefined : protocolName(rule.notProtocol);
  if (proto === 'ipv6-icmp' || (proto !== undefined && proto === notProto))
    throw new Skip('protocol never matches IPv4');
  const parts: string[] = [];
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
  parts.push(...side(rule.src, 'src', proto, ctx), ...side(rule.dst, 'dst', proto, ctx));
  parts.push(actionText(rule.action));
  return parts.join(' ');
}
