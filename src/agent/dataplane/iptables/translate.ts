// The rule model in iptables syntax: one model rule to its rule specs (without `-A chain`).
// Comments come first; a set-mark-and-return verdict takes two rules (MARK, then RETURN if
// marked); a dispatch takes one goto rule per interface. What iptables cannot say in one rule
// (several CIDRs, more than 15 multiport slots) the model has already split (IPTABLES below).

import type { ParsedRule } from '../../calc/index.js';
import {
  type Action,
  type Capabilities,
  hex,
  type RenderedRule,
  type Rule,
  type RuleContext,
  type Term,
  translateRule,
} from '../rules/index.js';

/** iptables: one CIDR per -s/-d and no `-s a ! -s b`; multiport takes 15 slots. */
export const IPTABLES: Capabilities = {
  name: 'iptables',
  netsPerTerm: 1,
  netAndNotNet: false,
  portSlotsPerTerm: 15,
};

const not = (t: { readonly not?: boolean }): string => (t.not ? '! ' : '');
const markMatch = (bits: number, clear?: boolean): string =>
  `-m mark --mark ${clear ? '0x0' : hex(bits)}/${hex(bits)}`;

function termText(term: Term, rule: Rule): string {
  switch (term.t) {
    case 'iif':
      return `-i ${term.name}`;
    case 'oif':
      return `-o ${term.name}`;
    case 'net':
      if (term.nets.length !== 1) throw new Error('iptables net term with other than one CIDR');
      return `${not(term)}${term.side === 'src' ? '-s' : '-d'} ${term.nets[0]}`;
    case 'set':
      return `-m set ${not(term)}--match-set ${term.set} ${term.side}`;
    case 'port-set':
      return `-m set ${not(term)}--match-set ${term.set} ${term.side},${term.side}`;
    case 'proto':
      return `${not(term)}-p ${term.proto}`;
    case 'ports': {
      // multiport needs the protocol in the same rule: an OR-group rule has none of its own.
      const proto = rule.match.some((m) => m.t === 'proto') ? '' : `-p ${term.proto} `;
      const flag = term.side === 'src' ? '--sports' : '--dports';
      return `${proto}-m multiport ${not(term)}${flag} ${term.ports.join(',')}`;
    }
    case 'l4':
      return [
        `-p ${term.proto} -m ${term.proto}`,
        ...(term.dport === undefined ? [] : [`--dport ${term.dport}`]),
        ...(term.sport === undefined ? [] : [`--sport ${term.sport}`]),
      ].join(' ');
    case 'icmp':
      return `-m icmp ${not(term)}--icmp-type ${term.type}${term.code === undefined ? '' : `/${term.code}`}`;
    case 'ct':
      return `-m conntrack --ctstate ${term.state === 'established' ? 'RELATED,ESTABLISHED' : 'INVALID'}`;
    case 'not-dnat':
      return '-m conntrack ! --ctstate DNAT';
    case 'mark':
      return markMatch(term.bits, term.clear);
  }
}

/** The action's target(s); each entry is one rule's tail, the first one after the matches. */
function actionTexts(action: Exclude<Action, { t: 'dispatch' }>): string[] {
  switch (action.t) {
    case 'accept':
      return ['-j ACCEPT'];
    case 'drop':
      return ['-j DROP'];
    case 'return':
      return ['-j RETURN'];
    case 'notrack':
      return ['-j CT --notrack'];
    case 'jump':
      return [`-j ${action.chain}`];
    case 'goto':
      return [`-g ${action.chain}`];
    case 'set-mark':
      return [`-j MARK --set-xmark ${hex(action.bits)}/${hex(action.bits)}`];
    case 'clear-mark':
      return [`-j MARK --set-xmark 0x0/${hex(action.bits)}`];
    case 'mark-return':
      return [
        `-j MARK --set-xmark ${hex(action.bits)}/${hex(action.bits)}`,
        `${markMatch(action.bits)} -j RETURN`,
      ];
    case 'log':
      return [`-j LOG --log-prefix "${action.prefix}" --log-level 5`];
  }
}

/** One model rule as iptables rule specs. */
export function ruleLines(rule: Rule): string[] {
  const head: string[] = [];
  if (rule.comment !== undefined) head.push(`-m comment --comment "${rule.comment}"`);
  for (const term of rule.match) head.push(termText(term, rule));
  const action = rule.action;
  if (action.t === 'dispatch') {
    const flag = action.side === 'iif' ? '-i' : '-o';
    return action.to.map(([iface, chain]) => [...head, `${flag} ${iface} -g ${chain}`].join(' '));
  }
  const [first, ...rest] = actionTexts(action);
  return [[...head, first].join(' '), ...rest];
}

/** The rule as iptables specs (without `-A chain`), or a reason it cannot be rendered. */
export const renderRule = (rule: ParsedRule, ctx: RuleContext): RenderedRule =>
  translateRule(rule, ctx, IPTABLES, ruleLines);
