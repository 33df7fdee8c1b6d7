// Calico v3 rules to the model rules agents evaluate, after Calico's
// libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go (RuleAPIV3ToBackend,
// getEndpointSelector), with the checks of lib/validator/v3 validateRule applied first.

import { formatCidr, masked, parseCidr } from '../../model/net/cidr.js';
import { namespaceSelectorToEndpointSelector, parseSelector } from '../../model/selector/index.js';
import type { HttpPathKv, ModelPort, RuleKv } from '../../model/values/policy.js';
import { Invalid, within } from './errors.js';
import { type Fields, fields, list, optInt, optString, show, stringList, stringMap } from './fields.js';
import { cidrOf } from './net.js';
import { isNamedPort, parsePort, parseProtocol, protocolToModel, supportsPorts } from './ports.js';
import { checkSelector, prefixedSelector } from './selectors.js';

/** A rule being built, in the order its fields are stored. */
type Out = { -readonly [K in keyof RuleKv]?: RuleKv[K] } & Pick<RuleKv, 'action'>;
const ACTIONS = ['Allow', 'Deny', 'Log', 'Pass'] as const;
export const NAMESPACE_LABEL = 'projectcalico.org/namespace';
const SA_LABEL = 'projectcalico.org/serviceaccount';
const RULE_FIELDS = [
  'action',
  'ipVersion',
  'protocol',
  'notProtocol',
  'icmp',
  'notICMP',
  'source',
  'destination',
];
const ENTITY_FIELDS = [
  'nets',
  'notNets',
  'selector',
  'notSelector',
  'namespaceSelector',
  'ports',
  'notPorts',
];

/**
 * Fields the v3 API does not have are refused rather than dropped: a misspelt "destinaton",
 * or Calico Enterprise's "domains", would otherwise widen an Allow rule to everything.
 */
function checkKnown(f: Fields, known: readonly string[], where: string): void {
  for (const k of Object.keys(f))
    if (!known.includes(k) && f[k] !== undefined) throw new Invalid(`${where}${k}: unknown field`);
}

/** Converts `rules` (a policy's ingress or egress list); `ns` is '' for global policies. */
export function convertRules(
  rules: readonly unknown[],
  ns: string,
  direction: 'ingress' | 'egress',
): RuleKv[] {
  return rules.map((r, i) => within(`rule ${direction}[${i}]`, () => convertRule(r, ns, direction), ' '));
}

function convertRule(raw: unknown, ns: string, direction: 'ingress' | 'egress'): Out {
  const r = fields(raw, 'rule');
  checkKnown(r, [...RULE_FIELDS, 'http', 'metadata'], '');
  const action = optString(r, 'action', '');
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action))
    throw new Invalid(`action: expected one of ${ACTIONS.join(', ')}, got ${show(r['action'])}`);
  const lower = action.toLowerCase() as Lowercase<Exclude<(typeof ACTIONS)[number], 'Pass'>>;
  const out: Out = { action: action === 'Pass' ? 'next-tier' : lower };

  const ipVersion = optInt(r, 'ipVersion', '', 4, 6);
  if (ipVersion === 5) throw new Invalid('ipVersion: expected 4 or 6');
  if (ipVersion !== undefined) out['ipVersion'] = ipVersion as 4 | 6;
  const protocol = r['protocol'] == null ? undefined : parseProtocol(r['protocol'], 'protocol');
  const notProtocol = r['notProtocol'] == null ? undefined : parseProtocol(r['notProtocol'], 'notProtocol');
  if (protocol !== undefined) out['protocol'] = protocolToModel(protocol);
  if (notProtocol !== undefined) out['notProtocol'] = protocolToModel(notProtocol);
  const isIcmp = (p: unknown) => p === 'ICMP' || p === 'ICMPv6' || p === 1 || p === 58;
  if ((r['icmp'] != null && !isIcmp(protocol)) || (r['notICMP'] != null && !isIcmp(protocol)))
    throw new Invalid('icmp: ICMP fields require protocol to be ICMP or ICMPv6');
  icmp(r, 'icmp', out, 'icmp');
  icmp(r, 'notICMP', out, 'notIcmp');

  const src = fields(r['source'], 'source');
  const dst = fields(r['destination'], 'destination');
  const family = { v4: false, v6: false, ipVersion };
  entity(src, 'source', 'src', ns, protocol, family, out);
  entity(dst, 'destination', 'dst', ns, protocol, family, out);

  if (r['http'] != null) {
    if (direction === 'egress') throw new Invalid('http: not allowed in egress rules');
    if (action !== 'Allow') throw new Invalid('http: only valid on Allow rules');
    if (protocol !== undefined && protocol !== 'TCP' && protocol !== 6)
      throw new Invalid('http: rules with an HTTP match must have protocol TCP or none');
    const http = fields(r['http'], 'http');
    const paths = list(http, 'paths', 'http').map((p, i): HttpPathKv => {
      const f = fields(p, `http.paths[${i}]`);
      const exact = optString(f, 'exact', `http.paths[${i}]`);
      const prefix = optString(f, 'prefix', `http.paths[${i}]`);
      if ((exact === undefined) === (prefix === undefined))
        throw new Invalid(`http.paths[${i}]: exactly one of exact and prefix`);
      return exact !== undefined ? { exact } : { prefix: prefix! };
    });
    out['httpMatch'] = { methods: stringList(http, 'methods', 'http'), paths };
  }
  const meta = fields(r['metadata'], 'metadata');
  if (meta['annotations'] != null)
    out['metadata'] = { annotations: stringMap(meta, 'annotations', 'metadata') };
  return out;
}

function icmp(r: Fields, key: string, out: Out, model: 'icmp' | 'notIcmp'): void {
  if (r[key] == null) return;
  const f = fields(r[key], key);
  const type = optInt(f, 'type', key, 0, 254);
  const code = optInt(f, 'code', key, 0, 255);
  if (code !== undefined && type === undefined) throw new Invalid(`${key}: code needs a type`);
  if (type !== undefined) out[`${model}Type`] = type;
  if (code !== undefined) out[`${model}Code`] = code;
}

interface Family {
  v4: boolean;
  v6: boolean;
  readonly ipVersion: number | undefined;
}

function entity(
  e: Fields,
  where: string,
  side: 'src' | 'dst',
  ns: string,
  protocol: string | number | undefined,
  family: Family,
  out: Out,
): void {
  const Side = side === 'src' ? ('Src' as const) : ('Dst' as const);
  checkKnown(e, [...ENTITY_FIELDS, 'serviceAccounts', 'services'], `${where}.`);
  const selector = optString(e, 'selector', where) ?? '';
  const notSelector = optString(e, 'notSelector', where) ?? '';
  const nsSelector = optString(e, 'namespaceSelector', where) ?? '';
  for (const [text, what] of [
    [selector, `${where} selector`],
    [notSelector, `${where} notSelector`],
  ] as const) {
    if (text !== '' && checkSelector(text, what).usesGlobal())
      throw new Invalid(`${what}: global() can only be used in a namespaceSelector`);
  }

  const nets = netList(e, 'nets', where, family);
  const notNets = netList(e, 'notNets', where, family);
  const ports = portList(e, 'ports', where, protocol);
  const notPorts = portList(e, 'notPorts', where, protocol);

  let saSel = '';
  let saNames: string[] | undefined;
  let saSelector: string | undefined;
  if (e['serviceAccounts'] != null) {
    const sa = fields(e['serviceAccounts'], `${where}.serviceAccounts`);
    saNames = stringList(sa, 'names', `${where}.serviceAccounts`);
    saSelector = optString(sa, 'selector', `${where}.serviceAccounts`);
    saSel = serviceAccountSelector(saNames, saSelector ?? '', `${where} serviceAccounts`);
  }
  let service: { name: string; namespace: string } | undefined;
  if (e['services'] != null) {
    const s = fields(e['services'], `${where}.services`);
    const name = optString(s, 'name', `${where}.services`);
    if (name === undefined || name === '') throw new Invalid(`${where}.services.name: required`);
    if (selector || nsSelector || nets.length > 0 || saSel)
      throw new Invalid(`${where}.services: cannot be combined with selectors, nets or service accounts`);
    service = { name, namespace: optString(s, 'namespace', `${where}.services`) ?? ns };
  }

  if (nets.length > 0) out[`${side}Nets`] = nets;
  const sel = endpointSelector(nsSelector, selector, saSel, notSelector, ns, `${where} namespaceSelector`);
  if (sel !== '') out[`${side}Selector`] = sel;
  if (ports.length > 0) out[`${side}Ports`] = ports;
  if (service) {
    out[`${side}Service`] = service.name;
    if (service.namespace !== '') out[`${side}ServiceNamespace`] = service.namespace;
  }
  const not = side === 'src' ? ('notSrc' as const) : ('notDst' as const);
  if (notNets.length > 0) out[`${not}Nets`] = notNets;
  if (notSelector !== '') out[`${not}Selector`] = notSelector;
  if (notPorts.length > 0) out[`${not}Ports`] = notPorts;
  if (selector !== '') out[`original${Side}Selector`] = selector;
  if (nsSelector !== '') out[`original${Side}NamespaceSelector`] = nsSelector;
  if (notSelector !== '') out[`originalNot${Side}Selector`] = notSelector;
  if (saNames !== undefined && saNames.length > 0) out[`original${Side}ServiceAccountNames`] = saNames;
  if (saSelector) out[`original${Side}ServiceAccountSelector`] = saSelector;
}

/**
 * getEndpointSelector: the rule's selector limited to the policy's namespace (or to the
 * namespaces its namespaceSelector picks) whenever any selector field is used.
 */
function endpointSelector(
  nsSelector: string,
  selector: string,
  saSelector: string,
  notSelector: string,
  ns: string,
  what: string,
): string {
  let nsSel = '';
  if (nsSelector !== '') {
    nsSel = namespaceSelectorToEndpointSelector(checkSelector(nsSelector, what)).toString();
  } else if (ns !== '') {
    nsSel = `${NAMESPACE_LABEL} == '${ns}'`;
  }
  const parts = [saSelector, selector].filter((s) => s !== '');
  const sel = parts.length === 2 ? `(${parts[0]}) && (${parts[1]})` : (parts[0] ?? '');
  if (nsSel !== '' && (sel !== '' || notSelector !== '' || nsSelector !== '')) {
    return sel !== '' ? `(${nsSel}) && (${sel})` : nsSel;
  }
  return sel;
}

/** parseServiceAccounts: the pcsa.-prefixed selector AND the names as an `in` set. */
function serviceAccountSelector(names: readonly string[], selector: string, what: string): string {
  const prefixed = selector === '' ? '' : prefixedSelector(selector, 'pcsa.', `${what} selector`);
  if (names.length === 0) return prefixed;
  for (const n of names) if (/['"]/.test(n)) throw new Invalid(`${what}: invalid name ${JSON.stringify(n)}`);
  const set = parseSelector(`${SA_LABEL} in { '${names.join("', '")}' }`).toString();
  return prefixed === '' ? set : `(${prefixed}) && (${set})`;
}

function netList(e: Fields, key: string, where: string, family: Family): string[] {
  const out = stringList(e, key, where).map((n, i) => {
    const c = parseCidr(n, { bare: true }) ?? cidrOf(n, `${where}.${key}[${i}]`);
    if (key === 'notNets' && c.prefix === 0)
      throw new Invalid(`${where}.${key}[${i}]: catch-all CIDR in negation matches no traffic`);
    if (family.ipVersion !== undefined && family.ipVersion !== c.version)
      throw new Invalid(`${where}.${key}[${i}]: rule IP version doesn't match CIDR version`);
    if (c.version === 4) family.v4 = true;
    else family.v6 = true;
    return formatCidr(masked(c));
  });
  if (family.v4 && family.v6) throw new Invalid(`${where}.${key}: rule contains both IPv4 and IPv6 CIDRs`);
  return out;
}

function portList(e: Fields, key: string, where: string, protocol: string | number | undefined): ModelPort[] {
  const ports = list(e, key, where).map((p, i) => parsePort(p, `${where}.${key}[${i}]`));
  if (ports.length === 0) return ports;
  if (protocol === undefined && !ports.every(isNamedPort))
    throw new Invalid(`${where}.${key}: protocol must be TCP, UDP or SCTP when numeric ports are used`);
  if (protocol !== undefined && !supportsPorts(protocol))
    throw new Invalid(`${where}.${key}: protocol ${protocol} does not take ports`);
  return ports;
}
