// What the API server (and calicoctl, reading a manifest) does to an object before anyone
// reads it, for the objects that reach Tabby without one: manifest files (the file
// datastore, `explain --path`, `lint -f`), the emulator, the simulator. convertObject applies
// it to every object, so there is one place; on an object an API server has stored it
// changes nothing (the API server has already done all of it).
//   - NetworkPolicy without spec.policyTypes: [Ingress], plus Egress when spec.egress has
//     rules (SetDefaults_NetworkPolicy, pkg/apis/networking/v1/defaults.go).
//   - Namespace: the label kubernetes.io/metadata.name = its name, on every namespace (the
//     namespace strategy sets it since 1.21, GA in 1.22; namespaceSelectors use it).
//   - Service of type NodePort or LoadBalancer without externalTrafficPolicy: Cluster
//     (SetDefaults_Service, pkg/apis/core/v1/defaults.go).
//   - A scalar label value written unquoted (`routeReflector: true`, `replicas: 5`) is the
//     string calicoctl reads from it. Maps, lists and null stay as they are, so metadata.ts
//     rejects the object by name.

import type { KubeObject } from '../kube/object.js';
import { isFields } from './fields.js';

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Label values as calicoctl reads them: numbers and booleans as their YAML text. */
function stringScalars(labels: unknown): unknown {
  if (!isFields(labels)) return labels;
  if (!Object.values(labels).some((v) => typeof v === 'number' || typeof v === 'boolean')) return labels;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(labels))
    out[k] = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
  return out;
}

function policyTypesDefault(spec: unknown): unknown {
  if (!isFields(spec)) return spec;
  const declared = spec['policyTypes'];
  if (declared !== undefined && declared !== null && !(Array.isArray(declared) && declared.length === 0))
    return spec;
  const egress = spec['egress'];
  const types = Array.isArray(egress) && egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  return { ...spec, policyTypes: types };
}

function trafficPolicyDefault(spec: unknown): unknown {
  if (!isFields(spec) || (spec['type'] !== 'NodePort' && spec['type'] !== 'LoadBalancer')) return spec;
  const etp = spec['externalTrafficPolicy'];
  return etp === undefined || etp === null || etp === ''
    ? { ...spec, externalTrafficPolicy: 'Cluster' }
    : spec;
}

/** The object as an API server would hand it out (a shallow copy where anything changes). */
export function withApiServerDefaults(obj: KubeObject): KubeObject {
  let meta = obj.metadata;
  const labels = stringScalars(meta.labels);
  if (labels !== meta.labels) meta = { ...meta, labels: labels as Record<string, string> };
  // Labels that are not a map are left for metadata.ts to reject.
  const isNamespace = obj.apiVersion === 'v1' && obj.kind === 'Namespace';
  if (
    isNamespace &&
    (meta.labels == null || isFields(meta.labels)) &&
    meta.labels?.[NAMESPACE_NAME_LABEL] !== meta.name
  )
    meta = { ...meta, labels: { ...meta.labels, [NAMESPACE_NAME_LABEL]: meta.name } };
  let spec = obj.spec;
  if (obj.apiVersion === 'networking.k8s.io/v1' && obj.kind === 'NetworkPolicy')
    spec = policyTypesDefault(spec) as typeof spec;
  if (obj.apiVersion === 'v1' && obj.kind === 'Service') spec = trafficPolicyDefault(spec) as typeof spec;
  return meta === obj.metadata && spec === obj.spec ? obj : { ...obj, metadata: meta, spec };
}
