// `k8s:<namespace>/<service>`: the Service whose EndpointSlices list the Tabby replicas
// (agents' --discovery-service, a replica's view of its peers). Parsed in one place.

export interface ServiceRef {
  namespace: string;
  service: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Parses `k8s:<namespace>/<service>`; undefined if it is not one. */
export function parseServiceRef(spec: string): ServiceRef | undefined {
  const m = /^k8s:([^/]+)\/([^/]+)$/.exec(spec.trim());
  if (!m || !DNS_LABEL.test(m[1]!) || !DNS_LABEL.test(m[2]!)) return undefined;
  return { namespace: m[1]!, service: m[2]! };
}
