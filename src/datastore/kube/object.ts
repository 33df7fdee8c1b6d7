// The shape of a Kubernetes API object as every datastore sees it (Kubernetes watch, YAML
// files, the emulator, the simulated cluster): only the fields we rely on are typed.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

/**
 * "group/kind/namespace/name": unique across every resource type we handle. calicoctl's
 * projectcalico.org/v3 and the CRDs' crd.projectcalico.org/v1 name the same objects.
 */
export function objectId(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  let group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
  if (group === 'projectcalico.org') group = 'crd.projectcalico.org';
  return `${group}/${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}
