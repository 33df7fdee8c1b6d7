// Calico NetworkPolicy and GlobalNetworkPolicy to model policies, after Calico's
// libcalico-go/lib/backend/syncersv1/updateprocessors/networkpolicyprocessor.go and
// globalnetworkpolicyprocessor.go, with api/pkg/defaults (types) and k8s/resources name rules.

import type { KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { PolicyKv } from '../../model/values/policy.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { type Fields, fields, list, optBool, optNumber, optString, show, stringList } from './fields.js';
import { convertRules, NAMESPACE_LABEL } from './rules.js';
import { checkSelector, prefixAndAppend } from './selectors.js';

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const SUBDOMAIN = `${LABEL}(\\.${LABEL})*`;
const TIER_NAME = new RegExp(`^${LABEL}$`);
/** validator/v3: "name" or "tier.name", or knp.default./ossg.default. + a DNS subdomain. */
const NP_NAME = new RegExp(`^((${LABEL})(\\.${LABEL})?|((knp|ossg)\\.default\\.(${SUBDOMAIN})))$`);
const GNP_NAME = new RegExp(`^(${LABEL}\\.)?${LABEL}$`);
const METADATA_ANNOTATION = 'projectcalico.org/metadata';

export type PolicyKind = 'NetworkPolicy' | 'GlobalNetworkPolicy' | 'KubernetesNetworkPolicy';
export type PolicyType = 'Ingress' | 'Egress';

/** The parts of a policy every kind shares, already checked. */
export interface PolicyParts {
  readonly kind: PolicyKind;
  readonly namespace: string;
  readonly name: string;
  readonly tier: string;
  readonly order: number | undefined;
  /** The model selector (namespace and service-account parts already folded in). */
  readonly selector: string;
  readonly ingress: readonly unknown[];
  readonly egress: readonly unknown[];
  readonly types: readonly PolicyType[];
  readonly applyOnForward: boolean;
  readonly doNotTrack?: boolean;
  readonly preDNAT?: boolean;
  readonly performanceHints?: readonly string[];
}

/** The model value and key of a policy (rules are converted here). */
export function policyKV(p: PolicyParts): KV {
  // Fields in the order they are stored: the encoded bytes and the golden frames depend on it.
  const value: PolicyKv = {
    ...(p.namespace !== '' ? { namespace: p.namespace } : {}),
    tier: p.tier,
    ...(p.order !== undefined ? { order: p.order } : {}),
    selector: p.selector,
    inboundRules: convertRules(p.ingress, p.namespace, 'ingress'),
    outboundRules: convertRules(p.egress, p.namespace, 'egress'),
    types: p.types.map((t) => t.toLowerCase() as Lowercase<PolicyType>),
    applyOnForward: p.applyOnForward,
    ...(p.doNotTrack ? { doNotTrack: true } : {}),
    ...(p.preDNAT ? { preDNAT: true } : {}),
    ...(p.performanceHints !== undefined && p.performanceHints.length > 0
      ? { performanceHints: [...p.performanceHints] }
      : {}),
  };
  return modelKV('policy', [p.kind, p.namespace, p.name], value);
}

/** api/pkg/defaults defaultPolicyTypesField, after checking the values given. */
export function policyTypes(
  spec: Fields,
  ingress: readonly unknown[],
  egress: readonly unknown[],
): PolicyType[] {
  const types = stringList(spec, 'types', 'spec');
  const seen = new Set<PolicyType>();
  for (const t of types) {
    if (t !== 'Ingress' && t !== 'Egress')
      throw new Invalid(`spec.types: expected Ingress or Egress, got ${show(t)}`);
    if (seen.has(t)) throw new Invalid(`spec.types: '${t}' type specified more than once`);
    seen.add(t);
  }
  if (types.length > 0) return [...seen];
  if (egress.length === 0) return ['Ingress'];
  return ingress.length === 0 ? ['Egress'] : ['Ingress', 'Egress'];
}

/**
 * The v3 name of a stored policy: the projectcalico.org/metadata annotation's name if set,
 * else the object's name with a "default." prefix dropped for default-tier policies.
 */
function policyName(obj: KubeObject, tier: string): string {
  const meta = obj.metadata.annotations?.[METADATA_ANNOTATION];
  if (meta !== undefined && meta !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(meta);
    } catch {
      throw new Invalid(`metadata.annotations[${METADATA_ANNOTATION}]: invalid JSON`);
    }
    const name = optString(fields(parsed, METADATA_ANNOTATION), 'name', METADATA_ANNOTATION);
    if (name) return name;
  }
  return tier === 'default' ? obj.metadata.name.replace(/^default\./, '') : obj.metadata.name;
}

function common(obj: KubeObject, global: boolean) {
  const spec = fields(obj.spec, 'spec');
  const tier = optString(spec, 'tier', 'spec') || 'default';
  if (!TIER_NAME.test(tier)) throw new Invalid(`spec.tier: invalid tier name ${show(tier)}`);
  const name = policyName(obj, tier);
  if (!(global ? GNP_NAME : NP_NAME).test(name) || name.length > 253)
    throw new Invalid(`metadata.name: invalid policy name ${show(name)}`);
  const selector = optString(spec, 'selector', 'spec') ?? '';
  if (checkSelector(selector, 'selector').usesGlobal())
    throw new Invalid('selector: global() can only be used in a rule namespaceSelector');
  const saSelector = optString(spec, 'serviceAccountSelector', 'spec') ?? '';
  if (saSelector !== '' && checkSelector(saSelector, 'serviceAccountSelector').usesGlobal())
    throw new Invalid('serviceAccountSelector: global() can only be used in a rule namespaceSelector');
  const ingress = list(spec, 'ingress', 'spec');
  const egress = list(spec, 'egress', 'spec');
  const hints = stringList(spec, 'performanceHints', 'spec');
  for (const h of hints)
    if (h !== 'AssumeNeededOnEveryNode') throw new Invalid(`spec.performanceHints: unknown hint ${show(h)}`);
  return {
    spec,
    tier,
    name,
    selector,
    saSelector,
    ingress,
    egress,
    order: optNumber(spec, 'order', 'spec'),
    types: policyTypes(spec, ingress, egress),
    performanceHints: hints,
  };
}

/** projectcalico.org/v3 (or CRD) NetworkPolicy. */
export function convertNetworkPolicy(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const c = common(obj, false);
  const nsTerm = `${NAMESPACE_LABEL} == '${ns}'`;
  let selector = c.selector === '' ? nsTerm : `(${c.selector}) && ${nsTerm}`;
  selector = prefixAndAppend(selector, c.saSelector, 'pcsa.', 'serviceAccountSelector');
  return [
    policyKV({
      kind: 'NetworkPolicy',
      namespace: ns,
      name: c.name,
      tier: c.tier,
      order: c.order,
      selector,
      ingress: c.ingress,
      egress: c.egress,
      types: c.types,
      applyOnForward: false,
      performanceHints: c.performanceHints,
    }),
  ];
}

/** projectcalico.org/v3 (or CRD) GlobalNetworkPolicy. */
export function convertGlobalNetworkPolicy(obj: KubeObject): KV[] {
  const c = common(obj, true);
  const doNotTrack = optBool(c.spec, 'doNotTrack', 'spec') ?? false;
  const preDNAT = optBool(c.spec, 'preDNAT', 'spec') ?? false;
  const applyOnForward = optBool(c.spec, 'applyOnForward', 'spec') ?? false;
  if (doNotTrack && preDNAT) throw new Invalid('spec: preDNAT and doNotTrack cannot both be true');
  if (preDNAT && (c.egress.length > 0 || c.types.includes('Egress')))
    throw new Invalid('spec: a preDNAT policy cannot have egress rules or the Egress type');
  if ((doNotTrack || preDNAT) && !applyOnForward)
    throw new Invalid('spec.applyOnForward: must be true if either preDNAT or doNotTrack is true');
  const nsSelector = optString(c.spec, 'namespaceSelector', 'spec') ?? '';
  if (nsSelector !== '' && checkSelector(nsSelector, 'namespaceSelector').usesGlobal())
    throw new Invalid('namespaceSelector: global() can only be used in a rule namespaceSelector');
  // Calico rewrites all() in the whole combined text, the policy's own selector included.
  let selector = c.selector;
  if (nsSelector !== '') {
    selector = prefixAndAppend(selector, nsSelector, 'pcns.', 'namespaceSelector');
    selector = selector.replaceAll('all()', `has(${NAMESPACE_LABEL})`);
  }
  if (c.saSelector !== '') {
    selector = prefixAndAppend(selector, c.saSelector, 'pcsa.', 'serviceAccountSelector');
    selector = selector.replaceAll('all()', 'has(projectcalico.org/serviceaccount)');
  }
  return [
    policyKV({
      kind: 'GlobalNetworkPolicy',
      namespace: '',
      name: c.name,
      tier: c.tier,
      order: c.order,
      selector,
      ingress: c.ingress,
      egress: c.egress,
      types: c.types,
      applyOnForward,
      doNotTrack,
      preDNAT,
      performanceHints: c.performanceHints,
    }),
  ];
}
