// Policies are written here as their users write them (Calico v3 specs, Kubernetes
// NetworkPolicies) and converted to the v1 model Typha sends, following libcalico-go's
// update processors (updateprocessors/rules.go, networkpolicyprocessor.go, k8s conversion).
// Field names are camelCase (Calico's own JSON tags for model.Policy/Rule are snake_case).

import { Keys } from '../../model/keys.js';
import type { JsonValue } from '../../model/types.js';

export type Action = 'Allow' | 'Deny' | 'Pass' | 'Log';
export type Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP';
export type PolicyType = 'Ingress' | 'Egress';
/** A port number, a "lo:hi" range or a named port. */
export type PortSpec = number | string;

export interface EntityRule {
  readonly selector?: string;
  readonly namespaceSelector?: string;
  readonly nets?: readonly string[];
  readonly ports?: readonly PortSpec[];
}

export interface RuleSpec {
  readonly action: Action;
  readonly protocol?: Protocol;
  readonly source?: EntityRule;
  readonly destination?: EntityRule;
}

export interface CalicoPolicySpec {
  readonly kind: 'NetworkPolicy' | 'GlobalNetworkPolicy';
  readonly name: string;
  /** '' for a GlobalNetworkPolicy. */
  readonly namespace: string;
  readonly tier: string;
  /** Absent = +Inf (sorted last in its tier). */
  readonly order?: number;
  readonly selector: string;
  readonly types: readonly PolicyType[];
  readonly ingress?: readonly RuleSpec[];
  readonly egress?: readonly RuleSpec[];
  readonly applyOnForward?: boolean;
}

export interface K8sPeer {
  readonly podSelector?: Readonly<Record<string, string>>;
  readonly namespaceSelector?: Readonly<Record<string, string>>;
  readonly ipBlock?: { readonly cidr: string };
}

export interface K8sPort {
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  readonly port: number | string;
}

export interface K8sRule {
  readonly peers?: readonly K8sPeer[];
  readonly ports?: readonly K8sPort[];
}

/** A networking.k8s.io/v1 NetworkPolicy (matchLabels only: that is all the sim writes). */
export interface K8sPolicySpec {
  readonly kind: 'KubernetesNetworkPolicy';
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: Readonly<Record<string, string>>;
  readonly policyTypes: readonly PolicyType[];
  readonly ingress?: readonly K8sRule[];
  readonly egress?: readonly K8sRule[];
}

export type PolicySpec = CalicoPolicySpec | K8sPolicySpec;

export const policyKey = (p: PolicySpec): string => Keys.policy(p.kind, p.namespace, p.name);

const NS_LABEL = 'projectcalico.org/namespace';
/** Kubernetes NetworkPolicies land in the default tier at order 1000 (conversion.go). */
export const K8S_POLICY_ORDER = 1000;

export function toModelPolicy(p: PolicySpec): JsonValue {
  return p.kind === 'KubernetesNetworkPolicy' ? calicoToModel(k8sToCalico(p)) : calicoToModel(p);
}

function calicoToModel(p: CalicoPolicySpec): JsonValue {
  const namespaced = p.namespace !== '';
  const nsTerm = `${NS_LABEL} == '${p.namespace}'`;
  let selector = p.selector;
  if (namespaced) selector = selector === '' ? nsTerm : `(${selector}) && ${nsTerm}`;
  const out: Record<string, JsonValue> = {};
  if (namespaced) out['namespace'] = p.namespace;
  out['tier'] = p.tier;
  if (p.order !== undefined) out['order'] = p.order;
  out['selector'] = selector;
  out['inboundRules'] = (p.ingress ?? []).map((r) => modelRule(r, p.namespace));
  out['outboundRules'] = (p.egress ?? []).map((r) => modelRule(r, p.namespace));
  out['types'] = p.types.map((t) => t.toLowerCase());
  // The NetworkPolicy processor always sets applyOnForward; for a GNP it is the spec's value.
  out['applyOnForward'] = namespaced ? true : (p.applyOnForward ?? false);
  return out;
}

function modelRule(r: RuleSpec, ns: string): JsonValue {
  const out: Record<string, JsonValue> = {
    action: r.action === 'Pass' ? 'next-tier' : r.action.toLowerCase(),
  };
  // numorstring.Protocol.ToV1() lowercases protocol names.
  if (r.protocol !== undefined) out['protocol'] = r.protocol.toLowerCase();
  entity(out, 'src', r.source, ns);
  entity(out, 'dst', r.destination, ns);
  return out;
}

function entity(
  out: Record<string, JsonValue>,
  side: 'src' | 'dst',
  e: EntityRule | undefined,
  ns: string,
): void {
  if (e === undefined) return;
  const cap = side === 'src' ? 'Src' : 'Dst';
  if (e.nets !== undefined && e.nets.length > 0) out[`${side}Nets`] = [...e.nets];
  const sel = entitySelector(e, ns);
  if (sel !== '') out[`${side}Selector`] = sel;
  if (e.ports !== undefined && e.ports.length > 0) out[`${side}Ports`] = [...e.ports];
  if (e.selector !== undefined) out[`original${cap}Selector`] = e.selector;
  if (e.namespaceSelector !== undefined) out[`original${cap}NamespaceSelector`] = e.namespaceSelector;
}

/** getEndpointSelector without service accounts: the namespace part ANDs with the selector. */
function entitySelector(e: EntityRule, ns: string): string {
  let nsSel = '';
  if (e.namespaceSelector !== undefined && e.namespaceSelector !== '') {
    nsSel = prefixSelector(e.namespaceSelector, 'pcns.')
      .replaceAll('all()', `has(${NS_LABEL})`)
      .replaceAll('global()', `!has(${NS_LABEL})`);
  } else if (ns !== '') {
    nsSel = `${NS_LABEL} == '${ns}'`;
  }
  const sel = e.selector ?? '';
  if (nsSel === '') return sel;
  if (sel !== '') return `(${nsSel}) && (${sel})`;
  return e.namespaceSelector !== undefined && e.namespaceSelector !== '' ? nsSel : '';
}

const TERM_EQ = /^([A-Za-z0-9_./-]+) == (?:"([^"]*)"|'([^']*)')$/;
const TERM_HAS = /^has\(([A-Za-z0-9_./-]+)\)$/;

/**
 * Re-renders a selector with every label prefixed, in the canonical form libcalico's parser
 * prints. Only `all()`, `has(l)`, `l == "v"` and their `&&` are supported: all the sim writes.
 */
export function prefixSelector(selector: string, prefix: string): string {
  const terms = selector.split('&&').map((t) => t.trim());
  const out = terms.map((t) => {
    if (t === 'all()') return t;
    const has = TERM_HAS.exec(t);
    if (has !== null) return `has(${prefix}${has[1]})`;
    const eq = TERM_EQ.exec(t);
    if (eq !== null) return `${prefix}${eq[1]} == "${eq[2] ?? eq[3]}"`;
    throw new RangeError(`selector form not supported by the sim: ${t}`);
  });
  return out.length === 1 ? out[0]! : `(${out.join(' && ')})`;
}

function k8sSelector(labels: Readonly<Record<string, string>>, pod: boolean): string {
  const terms = pod ? ["projectcalico.org/orchestrator == 'k8s'"] : [];
  for (const k of Object.keys(labels).sort()) terms.push(`${k} == '${labels[k]}'`);
  return terms.length === 0 ? 'all()' : terms.join(' && ');
}

/** K8sNetworkPolicyToCalico: one Allow rule per (protocol, peer); default protocol TCP. */
function k8sToCalico(p: K8sPolicySpec): CalicoPolicySpec {
  const rules = (list: readonly K8sRule[] | undefined, ingress: boolean): RuleSpec[] =>
    (list ?? []).flatMap((r) => k8sRule(r, ingress));
  return {
    kind: 'NetworkPolicy',
    name: p.name,
    namespace: p.namespace,
    tier: 'default',
    order: K8S_POLICY_ORDER,
    selector: k8sSelector(p.podSelector, true),
    types: p.policyTypes.length === 0 ? ['Ingress'] : p.policyTypes,
    ingress: rules(p.ingress, true),
    egress: rules(p.egress, false),
  };
}

function k8sRule(r: K8sRule, ingress: boolean): RuleSpec[] {
  const byProto = new Map<Protocol | undefined, PortSpec[]>();
  for (const port of r.ports ?? []) {
    const proto = port.protocol ?? 'TCP';
    byProto.set(proto, [...(byProto.get(proto) ?? []), port.port]);
  }
  if (byProto.size === 0) byProto.set(undefined, []);
  const peers: (K8sPeer | undefined)[] =
    r.peers !== undefined && r.peers.length > 0 ? [...r.peers] : [undefined];
  const out: RuleSpec[] = [];
  for (const [protocol, ports] of byProto) {
    for (const peer of peers) {
      const them: EntityRule = peer === undefined ? {} : k8sPeer(peer);
      const us: EntityRule = ports.length > 0 ? { ports } : {};
      out.push({
        action: 'Allow',
        ...(protocol === undefined ? {} : { protocol }),
        source: ingress ? them : us,
        destination: ingress ? us : them,
      });
    }
  }
  return out;
}

function k8sPeer(peer: K8sPeer): EntityRule {
  if (peer.ipBlock !== undefined) return { nets: [peer.ipBlock.cidr] };
  return {
    ...(peer.podSelector === undefined ? {} : { selector: k8sSelector(peer.podSelector, true) }),
    ...(peer.namespaceSelector === undefined
      ? {}
      : { namespaceSelector: k8sSelector(peer.namespaceSelector, false) }),
  };
}
