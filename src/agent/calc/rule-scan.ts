// Model rules to parsed rules whose selector matches are IP set ids, after Felix's
// felix/calc/rule_scanner.go: a notSelector is folded into the positive selector when there
// is one, "(pos) && (!(neg))" (it then only narrows known endpoints); without one it stays a
// separate negated set, which also matches non-Calico addresses. Named ports are kept as
// (name, protocol, selector) matches; numeric ports and nets stay literal. A `services` match
// is a service set: the service's addresses for a source, its (address, protocol, port)
// members for a destination (rule_scanner's ServiceIncludePorts).

import { parseSelector, type Selector } from '../../model/selector/index.js';
import { type ModelPort, type ModelRule, selectorOf } from '../../model/values/policy.js';
import { serviceSetId } from './service-index.js';

export interface NamedPortMatch {
  readonly name: string;
  /** tcp unless the rule's protocol is udp or sctp (rule_scanner namedPortProto). */
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  /** The rule's positive selector for that side, or all(): only its endpoints' ports count. */
  readonly selector: string;
}

export interface SideMatch {
  readonly nets: readonly string[];
  readonly notNets: readonly string[];
  /** Numeric ports and "lo:hi" ranges. */
  readonly ports: readonly ModelPort[];
  readonly notPorts: readonly ModelPort[];
  readonly namedPorts: readonly NamedPortMatch[];
  readonly notNamedPorts: readonly NamedPortMatch[];
  /** Selector or source-service set ids the address must be in (at most one). */
  readonly ipSets: readonly string[];
  /**
   * Destination-service set ids (serviceSetId(svc, true)) that (address, protocol, port) must
   * be in; absent when the rule has no destination service.
   */
  readonly ipPortSets?: readonly string[];
  /** Selector IP set ids the address must not be in. */
  readonly notIpSets: readonly string[];
}

/** A model rule with its source/destination matches resolved to IP sets and literals. */
export interface ParsedRule
  extends Pick<
    ModelRule,
    | 'action'
    | 'ipVersion'
    | 'protocol'
    | 'notProtocol'
    | 'icmpType'
    | 'icmpCode'
    | 'notIcmpType'
    | 'notIcmpCode'
  > {
  readonly src: SideMatch;
  readonly dst: SideMatch;
}

const ALL = parseSelector('all()');

const isNamed = (p: ModelPort): p is string => typeof p === 'string' && !/^\d+:\d+$/.test(p);

function namedPortProtocol(rule: ModelRule): 'tcp' | 'udp' | 'sctp' {
  const p = rule.protocol;
  if (p === 'udp' || p === 17) return 'udp';
  if (p === 'sctp' || p === 132) return 'sctp';
  return 'tcp';
}

/** combineMatchesIfPossible: [positive, negated] selector texts ('' = none). */
function foldSelectors(pos: string | undefined, neg: string | undefined): [string, string] {
  if (!pos) return ['', neg ?? ''];
  if (neg) return [`(${pos}) && (!(${neg}))`, ''];
  return [pos, ''];
}

function side(rule: ModelRule, which: 'src' | 'dst', used: Map<string, Selector>): SideMatch {
  const S = which === 'src' ? 'Src' : 'Dst';
  const r = rule as unknown as Record<string, unknown>;
  const [posText, negText] = foldSelectors(r[`${which}Selector`] as string, r[`not${S}Selector`] as string);
  const pos = posText === '' ? undefined : selectorOf(posText);
  const neg = negText === '' ? undefined : selectorOf(negText);
  const ports = (r[`${which}Ports`] as ModelPort[] | undefined) ?? [];
  const notPorts = (r[`not${S}Ports`] as ModelPort[] | undefined) ?? [];
  const proto = namedPortProtocol(rule);
  const named = (list: readonly ModelPort[]): NamedPortMatch[] =>
    list.filter(isNamed).map((name) => ({ name, protocol: proto, selector: (pos ?? ALL).toString() }));
  const numeric = ports.filter((p) => !isNamed(p));
  const namedPorts = named(ports);
  const ipSets: string[] = [];
  // As Felix: with only named ports the named-port match already applies the selector.
  if (pos !== undefined && (numeric.length > 0 || namedPorts.length === 0)) {
    ipSets.push(pos.uniqueId());
    used.set(pos.uniqueId(), pos);
  }
  const notIpSets: string[] = [];
  if (neg !== undefined) {
    notIpSets.push(neg.uniqueId());
    used.set(neg.uniqueId(), neg);
  }
  // The converter allows no selector beside a service, so a source service is the only set.
  const service = r[`${which}Service`] as string | undefined;
  const svcNs = (r[`${which}ServiceNamespace`] as string | undefined) ?? '';
  const svc = service === undefined ? undefined : `${svcNs}/${service}`;
  if (svc !== undefined && which === 'src') ipSets.push(serviceSetId(svc, false));
  return {
    ...(svc !== undefined && which === 'dst' && { ipPortSets: [serviceSetId(svc, true)] }),
    nets: (r[`${which}Nets`] as string[] | undefined) ?? [],
    notNets: (r[`not${S}Nets`] as string[] | undefined) ?? [],
    ports: numeric,
    notPorts: notPorts.filter((p) => !isNamed(p)),
    namedPorts,
    notNamedPorts: named(notPorts),
    ipSets,
    notIpSets,
  };
}

/** Parses one rule; selectors it needs as IP sets are added to `used` (id -> selector). */
export function scanRule(rule: ModelRule, used: Map<string, Selector>): ParsedRule {
  const out: Record<string, unknown> = { action: rule.action };
  for (const k of [
    'ipVersion',
    'protocol',
    'notProtocol',
    'icmpType',
    'icmpCode',
    'notIcmpType',
    'notIcmpCode',
  ] as const)
    if (rule[k] !== undefined) out[k] = rule[k];
  out['src'] = side(rule, 'src', used);
  out['dst'] = side(rule, 'dst', used);
  return out as unknown as ParsedRule;
}

/** A policy's or profile's rules, parsed: what a renderer turns into one chain per direction. */
export interface RuleProgram {
  readonly id: string;
  readonly inbound: readonly ParsedRule[];
  readonly outbound: readonly ParsedRule[];
}

export function scanRules(
  id: string,
  inbound: readonly ModelRule[],
  outbound: readonly ModelRule[],
): { program: RuleProgram; used: Map<string, Selector> } {
  const used = new Map<string, Selector>();
  const program = deepFreeze({
    id,
    inbound: inbound.map((r) => scanRule(r, used)),
    outbound: outbound.map((r) => scanRule(r, used)),
  });
  return { program, used };
}

export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
