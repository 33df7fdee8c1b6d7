// The one table of Kubernetes resource types Tabby watches: the Kubernetes datastore opens
// exactly one List+Watch per row, the API emulator serves exactly these, and the RBAC in
// deploy/ grants get/list/watch on exactly these (plus the Node patch for reports).

export interface ResourceType {
  /** API group ('' = core). */
  group: string;
  version: string;
  /** URL path segment. */
  plural: string;
  kind: string;
  namespaced: boolean;
}

/** Calico's CRDs are served under this group; `projectcalico.org/v3` (calicoctl) files map onto it. */
export const CALICO_CRD_GROUP = 'crd.projectcalico.org';
export const CALICO_V3_API = 'projectcalico.org/v3';

const calico = (plural: string, kind: string, namespaced = false): ResourceType => ({
  group: CALICO_CRD_GROUP,
  version: 'v1',
  plural,
  kind,
  namespaced,
});

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    kind: 'EndpointSlice',
    namespaced: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
  },
  calico('networkpolicies', 'NetworkPolicy', true),
  calico('globalnetworkpolicies', 'GlobalNetworkPolicy'),
  calico('tiers', 'Tier'),
  calico('networksets', 'NetworkSet', true),
  calico('globalnetworksets', 'GlobalNetworkSet'),
  calico('hostendpoints', 'HostEndpoint'),
  calico('ippools', 'IPPool'),
  calico('ipreservations', 'IPReservation'),
  calico('ipamblocks', 'IPAMBlock'),
  calico('blockaffinities', 'BlockAffinity'),
  calico('bgpconfigurations', 'BGPConfiguration'),
  calico('bgppeers', 'BGPPeer'),
  calico('bgpfilters', 'BGPFilter'),
  calico('felixconfigurations', 'FelixConfiguration'),
  calico('clusterinformations', 'ClusterInformation'),
];

export const apiVersionOf = (r: ResourceType): string => (r.group ? `${r.group}/${r.version}` : r.version);

/** The type of an object by apiVersion and kind; calicoctl's projectcalico.org/v3 maps to the CRD group. */
export function resourceTypeOf(apiVersion: string, kind: string): ResourceType | undefined {
  const group =
    apiVersion === CALICO_V3_API
      ? CALICO_CRD_GROUP
      : apiVersion.includes('/')
        ? apiVersion.split('/')[0]
        : '';
  return RESOURCE_TYPES.find((r) => r.group === group && r.kind === kind);
}

/** Collection path, e.g. /api/v1/pods or /apis/crd.projectcalico.org/v1/namespaces/ns/networkpolicies. */
export function collectionPath(r: ResourceType, namespace?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return namespace && r.namespaced ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}
