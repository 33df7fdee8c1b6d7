// The rule model in nft syntax: one model rule to one nft rule (matches, verdict, comment last),
// except a dispatch, which becomes one verdict-map lookup. nft has anonymous sets, so an OR of
// nets or ports is one match (NFTABLES below); the model splits only what needs scratch marks.

import type { ParsedRule } from '../../calc/index.js';
import {
  type Capabilities,
  hex,
  type RenderedRule,
  type Rule,
  type RuleContext,
  type Table,
  type Term,
  translateRule,
} from '../rules/index.js';
import { nftChainName } from './names.js';

export const NFTABLES: Capabilities = {
  name: 'nftables',
  netsPerTerm: Number.POSITIVE_INFINITY,
  netAndNotNet: true,
  portSlotsPerTerm: Number.POSITIVE_INFINITY,
};

/** `meta mark set meta mark | bit` then a verdict: one rule where iptables needs two. */
export const setMark = (bit: number): string => `meta mark set meta mark | ${hex(bit)}`;
/** Clears bits: `meta mark set meta mark & ~bits`. */
export const clearMark = (bits: number): string => `meta mark set meta mark & ${hex(~bits >>> 0)}`;

export const q = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;
/** `value` for one item, `{ a, b }` for several (an anonymous set: any of them). */
const oneOrSet = (items: readonly string[]): string =>
  items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
const neq = (t: { readonly not?: boolean }): string => (t.not ? '!= ' : '');
const addr = (side: 'src' | 'dst'): string => (side === 'src' ? 'ip saddr' : 'ip daddr');
const port = (side: 'src' | 'dst'): string => (side === 'src' ? 'sport' : 'dport');
/** iptables' trailing '+' is nft's '*'. */
const glob = (i: string): string => q(i.endsWith('+') ? `${i.slice(0, -1)}*` : i);

function termText(term: Term): string {
  switch (term.t) {
    case 'iif':
      return `iifname ${glob(term.name)}`;
    case 'oif':
      return `oifname ${glob(term.name)}`;
    case 'net':
      return `${addr(term.side)} ${neq(term)}${oneOrSet(term.nets)}`;
    case 'set':
      return `${addr(term.side)} ${neq(term)}@${term.set}`;
    case 'port-set':
      return `${addr(term.side)} . meta l4proto . th ${port(term.side)} ${neq(term)}@${term.set}`;
    case 'proto':
      return `meta l4proto ${neq(term)}${term.proto}`;
    case 'ports':
      return `${term.proto} ${port(term.side)} ${neq(term)}${oneOrSet(term.ports.map((p) => String(p).replace(':', '-')))}`;
    case 'l4':
      if (term.dport === undefined && term.sport === undefined) return `meta l4proto ${term.proto}`;
      return [
        ...(term.dport === undefined ? [] : [`${term.proto} dport ${term.dport}`]),
        ...(term.sport === undefined ? [] : [`${term.proto} sport ${term.sport}`]),
      ].join(' ');
    case 'icmp':
      // Not (type and code) is one concatenated match; iptables' `! --icmp-type t/c` means the same.
      if (!term.not)
        return `icmp type ${term.type}${term.code === undefined ? '' : ` icmp code ${term.code}`}`;
      return term.code === undefined
        ? `icmp type != ${term.type}`
        : `icmp type . icmp code != { ${term.type} . ${term.code} }`;
    case 'ct':
      return `ct state ${term.state === 'established' ? 'established,related' : 'invalid'}`;
    case 'not-dnat':
      return 'ct status & dnat == 0';
    case 'mark':
      return `meta mark & ${hex(term.bits)} == ${term.clear ? '0x0' : hex(term.bits)}`;
  }
}

/** The verdict part; jumps name chains as this table's chains are named in the one nft table. */
function actionText(rule: Rule, table: Table): string | undefined {
  const a = rule.action;
  switch (a.t) {
    case 'accept':
    case 'drop':
    case 'return':
    case 'notrack':
      return a.t;
    case 'jump':
    case 'goto':
      return `${a.t} ${nftChainName(table, a.chain)}`;
    case 'set-mark':
      return setMark(a.bits);
    case 'clear-mark':
      return clearMark(a.bits);
    case 'mark-return':
      return `${setMark(a.bits)} return`;
    case 'log':
      return `log prefix ${q(a.prefix)} level notice`;
    case 'dispatch': {
      // A verdict map dispatches in one lookup.
      if (a.to.length === 0) return undefined;
      const entries = a.to.map(([iface, chain]) => `${q(iface)} : goto ${nftChainName(table, chain)}`);
      return `${a.side}name vmap { ${entries.join(', ')} }`;
    }
  }
}

/** One model rule as nft rules (none for a dispatch to no interface). */
export function ruleLines(rule: Rule, table: Table = 'filter'): string[] {
  const action = actionText(rule, table);
  if (action === undefined) return [];
  const parts = rule.match.map(termText);
  parts.push(action);
  if (rule.comment !== undefined) parts.push(`comment ${q(rule.comment)}`);
  return [parts.join(' ')];
}

/** The rule as nft rules, or a reason it cannot be rendered. */
export const renderRule = (rule: ParsedRule, ctx: RuleContext): RenderedRule =>
  translateRule(rule, ctx, NFTABLES, (r) => ruleLines(r));
