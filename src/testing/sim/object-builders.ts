// Small constructors for the API objects the simulator writes: Calico CRDs
// (crd.projectcalico.org/v1 with v3 specs, as the Calico API server stores them) and core
// Kubernetes objects. Every call builds a fresh object; shared parts are frozen.

import type { KubeObject, ObjectMeta } from '../../datastore/kube/object.js';

export const CRD_API = 'crd.projectcalico.org/v1';

interface MetaExtra {
  namespace?: string;
  labels?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

export function meta(name: string, extra: MetaExtra = {}): ObjectMeta {
  const m: ObjectMeta = { name };
  if (extra.namespace !== undefined) m.namespace = extra.namespace;
  if (extra.labels !== undefined && Object.keys(extra.labels).length > 0) m.labels = { ...extra.labels };
  if (extra.annotations !== undefined && Object.keys(extra.annotations).length > 0)
    m.annotations = { ...extra.annotations };
  return m;
}

/** A Calico custom resource. */
export function crd(kind: string, name: string, spec: unknown, extra: MetaExtra = {}): KubeObject {
  return { apiVersion: CRD_API, kind, metadata: meta(name, extra), spec };
}

/** A networking.k8s.io/v1 NetworkPolicy. */
export function k8sNetworkPolicy(name: string, namespace: string, spec: unknown): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(name, { namespace }),
    spec,
  };
}

/** Deep-freezes plain data shared between many objects (e.g. a workload's containers). */
export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
