// Kubernetes NetworkPolicy (networking.k8s.io/v1) to a model policy: Calico's
// K8sNetworkPolicyToCalico (libcalico-go/lib/backend/k8s/conversion/conversion.go) makes a
// v3 policy in tier default at order 1000, which networkpolicyprocessor.go then converts.

import { formatCidr, masked } from '../../model/net/cidr.js';
import type { KV } from '../../model/types.js';
import type { ModelPort } from '../../model/values/policy.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid, within } from './errors.js';
import { type Fields, fields, list, optInt, optString, show, stringList, stringMap } from './fields.js';
import { cidrOf } from './net.js';
import { policyKV } from './policy.js';
import { canonicalProtocolName, isNamedPort, parsePort } from './ports.js';
import { NAMESPACE_LABEL } from './rules.js';
import { checkSelector, quoteSafe } from './selectors.js';

/** Calico puts every Kubernetes NetworkPolicy at this order in the default tier. */
export const KNP_ORDER = 1000;
const ORCHESTRATOR_TERM = "projectcalico.org/orchestrator == 'k8s'";

export function convertKubernetesNetworkPolicy(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const spec = fields(obj.spec, 'spec');
  const podSelector = within('spec.podSelector', () => labelSelector(spec['podSelector'], 'pod'));
  checkSelector(podSelector, 'spec.podSelector');
  const ingress = list(spec, 'ingress', 'spec').flatMap((r, i) =>
    within(`spec.ingress[${i}]`, () => rules(fields(r, 'rule'), 'from', true)),
  );
  const egress = list(spec, 'egress', 'spec').flatMap((r, i) =>
    within(`spec.egress[${i}]`, () => rules(fields(r, 'rule'), 'to', false)),
  );
  const declared = stringList(spec, 'policyTypes', 'spec');
  for (const t of declared)
    if (t !== 'Ingress' && t !== 'Egress') throw new Invalid(`spec.policyTypes: unknown type ${show(t)}`);
  // Only the declared types. convertObject has applied the API server's default first
  // (api-defaults.ts: Ingress, plus Egress with egress rules); a bare call falls back to Ingress.
  const types = (['Ingress', 'Egress'] as const).filter((t) => declared.includes(t));
  const selector = `(${podSelector}) && ${NAMESPACE_LABEL} == '${ns}'`;
  return [
    policyKV({
      kind: 'KubernetesNetworkPolicy',
      namespace: ns,
      name: obj.metadata.name,
      tier: 'default',
      order: KNP_ORDER,
      selector,
      ingress,
      egress,
      types: types.length === 0 ? ['Ingress'] : types,
      applyOnForward: false,
    }),
  ];
}

/**
 * k8sSelectorToCalico: matchLabels (sorted) and matchExpressions as Calico selector terms.
 * A pod selector always starts with the orchestrator term; an empty namespace selector
 * means every namespace (all()); an absent one is ''.
 */
function labelSelector(raw: unknown, type: 'pod' | 'namespace'): string {
  const terms = type === 'pod' ? [ORCHESTRATOR_TERM] : [];
  if (raw === undefined || raw === null) return terms.join(' && ');
  const s = fields(raw, 'selector');
  const labels = stringMap(s, 'matchLabels', 'selector');
  const expressions = list(s, 'matchExpressions', 'selector');
  if (type === 'namespace' && Object.keys(labels).length === 0 && expressions.length === 0) return 'all()';
  for (const k of Object.keys(labels).sort())
    terms.push(`${k} == '${quoteSafe(labels[k]!, `matchLabels.${k}`)}'`);
  expressions.forEach((e, i) => {
    const where = `matchExpressions[${i}]`;
    const f = fields(e, where);
    const key = optString(f, 'key', where);
    if (!key) throw new Invalid(`${where}.key: required`);
    const values = stringList(f, 'values', where).map((v) => quoteSafe(v, `${where}.values`));
    const op = optString(f, 'operator', where);
    const set = `{ '${values.join("', '")}' }`;
    if ((op === 'In' || op === 'NotIn') && values.length === 0)
      throw new Invalid(`${where}.values: required for operator ${op}`);
    if (op === 'In') terms.push(`${key} in ${set}`);
    else if (op === 'NotIn') terms.push(`${key} not in ${set}`);
    else if (op === 'Exists') terms.push(`has(${key})`);
    else if (op === 'DoesNotExist') terms.push(`! has(${key})`);
    else throw new Invalid(`${where}.operator: expected In, NotIn, Exists or DoesNotExist, got ${show(op)}`);
  });
  return terms.join(' && ');
}

interface PeerFields {
  selector?: string;
  namespaceSelector?: string;
  nets?: string[];
  notNets?: string[];
}

function peer(raw: unknown): PeerFields {
  const p = fields(raw, 'peer');
  if (p['ipBlock'] != null) {
    const b = fields(p['ipBlock'], 'ipBlock');
    const cidr = optString(b, 'cidr', 'ipBlock');
    if (!cidr) throw new Invalid('ipBlock.cidr: required');
    const net = (s: string, what: string) => formatCidr(masked(cidrOf(s, what)));
    const out: PeerFields = { nets: [net(cidr, 'ipBlock.cidr')] };
    const except = stringList(b, 'except', 'ipBlock').map((e, i) => net(e, `ipBlock.except[${i}]`));
    if (except.length > 0) out.notNets = except;
    return out;
  }
  const out: PeerFields = {};
  const selector = within('podSelector', () => labelSelector(p['podSelector'], 'pod'));
  const nsSelector = within('namespaceSelector', () => labelSelector(p['namespaceSelector'], 'namespace'));
  if (selector !== '') out.selector = selector;
  if (nsSelector !== '') out.namespaceSelector = nsSelector;
  return out;
}

/** One Allow rule per (protocol, peer), protocols in sorted order, ports merged into ranges. */
function rules(r: Fields, peersKey: 'from' | 'to', ingress: boolean): Fields[] {
  const peers: (PeerFields | undefined)[] = list(r, peersKey, '').map((p, i) =>
    within(`${peersKey}[${i}]`, () => peer(p)),
  );
  if (peers.length === 0) peers.push(undefined);
  // protocol -> ports; null = every port of that protocol; '' = no protocol (no ports given).
  let byProtocol = new Map<string, ModelPort[] | null>();
  const ports = list(r, 'ports', '');
  for (let i = 0; i < ports.length; i++) {
    const p = fields(ports[i], `ports[${i}]`);
    const protocol = canonicalProtocolName(optString(p, 'protocol', `ports[${i}]`) ?? 'TCP');
    if (!['TCP', 'UDP', 'SCTP'].includes(protocol))
      throw new Invalid(`ports[${i}].protocol: expected TCP, UDP or SCTP, got ${show(p['protocol'])}`);
    const endPort = optInt(p, 'endPort', `ports[${i}]`, 1, 65535);
    let port: ModelPort | null = null;
    if (p['port'] != null) {
      const text = endPort === undefined ? String(p['port']) : `${String(p['port'])}:${endPort}`;
      port = parsePort(
        typeof p['port'] === 'number' && endPort === undefined ? p['port'] : text,
        `ports[${i}]`,
      );
    } else if (endPort !== undefined) throw new Invalid(`ports[${i}].endPort: needs a port`);
    const have = byProtocol.get(protocol);
    if (port === null) byProtocol.set(protocol, null);
    else if (have === undefined) byProtocol.set(protocol, [port]);
    else if (have !== null) have.push(port);
  }
  if (ports.length === 0) byProtocol = new Map([['', null]]);
  const out: Fields[] = [];
  for (const protocol of [...byProtocol.keys()].sort()) {
    const list = byProtocol.get(protocol);
    const merged = list === null || list === undefined ? [] : simplifyPorts(list);
    for (const p of peers) {
      const them: Fields = { ...p };
      const us: Fields = merged.length > 0 ? { ports: merged } : {};
      const rule: Record<string, unknown> = { action: 'Allow' };
      if (protocol !== '') rule['protocol'] = protocol;
      if (ingress) {
        rule['source'] = them;
        rule['destination'] = us;
      } else {
        rule['destination'] = { ...us, ...them };
      }
      out.push(rule);
    }
  }
  return out;
}

/**
 * SimplifyPorts: the fewest ranges covering the numeric ports, after the named ports in
 * their order. Fewer than two numeric ports are returned as given.
 */
export function simplifyPorts(ports: readonly ModelPort[]): ModelPort[] {
  if (ports.length <= 1) return [...ports];
  const named = ports.filter(isNamedPort);
  const ranges = ports
    .filter((p) => !isNamedPort(p))
    .map((p) => (typeof p === 'number' ? [p, p] : p.split(':').map(Number)) as [number, number]);
  const count = ranges.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
  if (count <= 1) return [...ports];
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: ModelPort[] = [...named];
  let [lo, hi] = ranges[0]!;
  for (const [a, b] of ranges.slice(1)) {
    if (a > hi + 1) {
      out.push(lo === hi ? lo : `${lo}:${hi}`);
      [lo, hi] = [a, b];
    } else hi = Math.max(hi, b);
  }
  out.push(lo === hi ? lo : `${lo}:${hi}`);
  return out;
}
