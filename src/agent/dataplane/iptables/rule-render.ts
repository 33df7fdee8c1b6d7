// One parsed rule (calc RuleProgram) to iptables rule specs, after felix/rules/policy.go.
// Allow sets the accept mark and RETURNs, Pass sets the pass mark and RETURNs, Deny DROPs,
// Log LOGs and goes on. Matches that need an OR (several nets, more than 15 multiport slots,
// numeric ports or named-port sets) or a negated list use two scratch mark bits: each OR group
// ANDs into the running bit. Named ports match hash:ip,port sets (`dst,dst` / `src,src`).

import type { NamedPortMatch, ParsedRule, SideMatch } from '../../calc/index.js';
import { namedPortKey } from '../named-port.js';
import type { RuleChainEntry } from '../render-cache.js';
import { renderRuleChain as renderChain } from '../rule-chain.js';
import { hex, ipSetName, Marks, namedPortSetName } from './names.js';

type ModelPort = number | string;

/** What an action does once the rule matched: final spec suffix(es). */
function actionLines(action: ParsedRule['action'], match: string): string[] {
  const m = match === '' ? '' : `${match} `;
  switch (action) {
    case 'allow':
      return [
        `${m}-j MARK --set-xmark ${hex(Marks.accept)}/${hex(Marks.accept)}`,
        `-m mark --mark ${hex(Marks.accept)}/${hex(Marks.accept)} -j RETURN`,
      ];
    case 'next-tier':
      return [
        `${m}-j MARK --set-xmark ${hex(Marks.pass)}/${hex(Marks.pass)}`,
        `-m mark --mark ${hex(Marks.pass)}/${hex(Marks.pass)} -j RETURN`,
      ];
    case 'deny':
      return [`${m}-j DROP`];
    case 'log':
      return [`${m}-j LOG --log-prefix "tabby-packet: " --log-level 5`];
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
const portText = (p: ModelPort): string => String(p);
const slots = (p: ModelPort): number => (typeof p === 'string' && p.includes(':') ? 2 : 1);

/** multiport takes at most 15 slots per match; a range counts two. */
function portChunks(ports: readonly ModelPort[]): string[] {
  const chunks: string[] = [];
  let cur: string[] = [];
  let used = 0;
  for (const p of ports) {
    if (used + slots(p) > 15) {
      chunks.push(cur.join(','));
      cur = [];
      used = 0;
    }
    cur.push(portText(p));
    used += slots(p);
  }
  if (cur.length > 0) chunks.push(cur.join(','));
  return chunks;
}

export interface RuleContext {
  /** IP set id -> kernel set name. */
  readonly setName: (id: string) => string;
  /** Named-port set id (namedPortKey()) -> kernel set name; default names.namedPortSetName. */
  readonly namedPortSetName?: (id: string) => string;
}

/** The rule as iptables specs (without `-A chain`), or a reason it cannot be rendered. */
export type RenderedRule = { readonly lines: string[] } | { readonly skipped: string };

interface Parts {
  base: string[];
  /** Each group: at least one alternative must match. */
  any: string[][];
  /** Each group: no alternative may match. */
  none: string[][];
}

function side(m: SideMatch, which: 'src' | 'dst', proto: string | undefined, ctx: RuleContext, out: Parts) {
  const flag = which === 'src' ? '-s' : '-d';
  const nets = m.nets.filter((n) => !isV6(n));
  const notNets = m.notNets.filter((n) => !isV6(n));
  if (nets.length === 1) out.base.push(`${flag} ${nets[0]}`);
  else if (nets.length > 1) out.any.push(nets.map((n) => `${flag} ${n}`));
  if (notNets.length === 1 && nets.length !== 1) out.base.push(`! ${flag} ${notNets[0]}`);
  else if (notNets.length > 0) out.none.push(notNets.map((n) => `${flag} ${n}`));
  for (const id of m.ipSets) out.base.push(`-m set --match-set ${ctx.setName(id)} ${which}`);
  for (const id of m.notIpSets) out.base.push(`-m set ! --match-set ${ctx.setName(id)} ${which}`);
  const portFlag = which === 'src' ? '--sports' : '--dports';
  if ((m.ports.length > 0 || m.notPorts.length > 0) && (proto === undefined || !PORT_PROTOCOLS.has(proto)))
    throw new Skip('ports need protocol tcp, udp, sctp or udplite');
  // Felix: the rule's ports are its numeric ports OR its named ports.
  const chunks = portChunks(m.ports);
  const dir = `${which},${which}`;
  const npName = (n: NamedPortMatch) => (ctx.namedPortSetName ?? namedPortSetName)(namedPortKey(n));
  const named = m.namedPorts.map((n) => `-m set --match-set ${npName(n)} ${dir}`);
  if (chunks.length === 1 && named.length === 0) out.base.push(`-m multiport ${portFlag} ${chunks[0]}`);
  else if (chunks.length === 0 && named.length === 1) out.base.push(named[0]!);
  // OR-group lines stand alone, and multiport needs the protocol on its own line.
  else if (chunks.length + named.length > 1)
    out.any.push([...chunks.map((c) => `-p ${proto} -m multiport ${portFlag} ${c}`), ...named]);
  for (const c of portChunks(m.notPorts)) out.base.push(`-m multiport ! ${portFlag} ${c}`);
  for (const n of m.notNamedPorts) out.base.push(`-m set ! --match-set ${npName(n)} ${dir}`);
  // A destination service: (address, protocol, port) in the service's hash:ip,port set.
  for (const id of m.ipPortSets ?? [])
    out.base.push(`-m set --match-set ${(ctx.namedPortSetName ?? namedPortSetName)(id)} ${dir}`);
}

class Skip extends Error {}

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
  if (proto !== undefined) parts.base.push(`-p ${proto}`);
  else if (notProto !== undefined) parts.base.push(`! -p ${notProto}`);
  if (rule.icmpType !== undefined || rule.notIcmpType !== undefined) {
    if (proto !== 'icmp') throw new Skip('ICMP type needs protocol icmp');
    const t = (type: number, code: number | undefined) =>
      code === undefined ? `${type}` : `${type}/${code}`;
    if (rule.icmpType !== undefined)
      parts.base.push(`-m icmp --icmp-type ${t(rule.icmpType, rule.icmpCode)}`);
    if (rule.notIcmpType !== undefined)
      parts.base.push(`-m icmp ! --icmp-type ${t(rule.notIcmpType, rule.notIcmpCode)}`);
  }
  side(rule.src, 'src', proto, ctx, parts);
  side(rule.dst, 'dst', proto, ctx, parts);
  if (parts.any.length === 0 && parts.none.length === 0)
    return actionLines(rule.action, parts.base.join(' '));

  // OR groups: the running scratch bit means "every group so far matched".
  const bits = [Marks.scratch0, Marks.scratch1];
  const lines = [`-j MARK --set-xmark 0x0/${hex(Marks.scratch0 | Marks.scratch1)}`];
  let cur: number | undefined;
  for (const group of parts.any) {
    const next = cur === bits[0] ? bits[1]! : bits[0]!;
    if (cur !== undefined) lines.push(`-j MARK --set-xmark 0x0/${hex(next)}`);
    const guard = cur === undefined ? '' : `-m mark --mark ${hex(cur)}/${hex(cur)} `;
    for (const alt of group) lines.push(`${guard}${alt} -j MARK --set-xmark ${hex(next)}/${hex(next)}`);
    cur = next;
  }
  if (cur === undefined) {
    cur = bits[0]!;
    lines.push(`-j MARK --set-xmark ${hex(cur)}/${hex(cur)}`);
  }
  const running = `-m mark --mark ${hex(cur)}/${hex(cur)}`;
  for (const group of parts.none)
    for (const alt of group) lines.push(`${running} ${alt} -j MARK --set-xmark 0x0/${hex(cur)}`);
  lines.push(...actionLines(rule.action, [...parts.base, running].join(' ')));
  return lines;
}

/** Renders one policy/profile direction's rules, recording the sets they reference. */
export function renderRuleChain(rules: readonly ParsedRule[], what: string): RuleChainEntry {
  return renderChain(rules, what, { renderRule, ipSetName, namedPortSetName });
}
