// Key builders and the one table that says which syncer receives which kind of key.
// Key shapes follow Calico's libcalico-go model paths so operators recognise them;
// name parts are escaped so that a '/' inside a name can never forge a path segment.

import type { SyncerType } from './types.js';

const esc = (s: string): string => encodeURIComponent(s);
/** CIDRs are written as Calico does: 10.244.0.0/26 -> 10.244.0.0-26. */
const cidrPart = (cidr: string): string => cidr.replace('/', '-');
/** The address family path segment Calico uses for IPAM keys ("4" or "6"). */
const family = (cidr: string): string => (cidr.includes(':') ? '6' : '4');

export const Keys = {
  node: (name: string) => `/calico/resources/v3/projectcalico.org/nodes/${esc(name)}`,
  workloadEndpoint: (node: string, namespace: string, pod: string, endpoint = 'eth0') =>
    `/calico/v1/host/${esc(node)}/workload/k8s/${esc(`${namespace}/${pod}`)}/endpoint/${esc(endpoint)}`,
  hostEndpoint: (node: string, name: string) => `/calico/v1/host/${esc(node)}/endpoint/${esc(name)}`,
  hostConfig: (node: string, name: string) => `/calico/v1/host/${esc(node)}/config/${esc(name)}`,
  globalConfig: (name: string) => `/calico/v1/config/${esc(name)}`,
  tier: (name: string) => `/calico/v1/policy/tier/${esc(name)}`,
  /** kind: NetworkPolicy | GlobalNetworkPolicy | KubernetesNetworkPolicy (namespace '' for global). */
  policy: (kind: string, namespace: string, name: string) =>
    namespace === ''
      ? `/calico/v1/policy/${esc(kind)}/${esc(name)}`
      : `/calico/v1/policy/${esc(kind)}/${esc(namespace)}/${esc(name)}`,
  profile: (name: string) => `/calico/v1/policy/profile/${esc(name)}`,
  networkSet: (name: string) => `/calico/v1/netset/${esc(name)}`,
  ipPool: (cidr: string) => `/calico/v1/ipam/v${family(cidr)}/pool/${cidrPart(cidr)}`,
  ipReservation: (name: string) => `/calico/resources/v3/projectcalico.org/ipreservations/${esc(name)}`,
  ipamBlock: (cidr: string) => `/calico/ipam/v2/assignment/ipv${family(cidr)}/block/${cidrPart(cidr)}`,
  blockAffinity: (node: string, cidr: string) =>
    `/calico/ipam/v2/host/${esc(node)}/ipv${family(cidr)}/block/${cidrPart(cidr)}`,
  bgpConfiguration: (name: string) => `/calico/resources/v3/projectcalico.org/bgpconfigurations/${esc(name)}`,
  bgpPeer: (name: string) => `/calico/resources/v3/projectcalico.org/bgppeers/${esc(name)}`,
  bgpFilter: (name: string) => `/calico/resources/v3/projectcalico.org/bgpfilters/${esc(name)}`,
  wireguard: (node: string) => `/calico/v1/host/${esc(node)}/wireguard`,
  /** ClusterInformation's datastoreReady (Calico's ReadyFlagKey). */
  readyFlag: () => '/calico/v1/Ready',
  /** Kubernetes Services and EndpointSlices, under Calico's resource plurals for them. */
  service: (namespace: string, name: string) =>
    `/calico/resources/v3/projectcalico.org/kubernetesservice/${esc(namespace)}/${esc(name)}`,
  endpointSlice: (namespace: string, name: string) =>
    `/calico/resources/v3/projectcalico.org/kubernetesendpointslices/${esc(namespace)}/${esc(name)}`,
} as const;

export type KeyKind =
  | 'node'
  | 'workloadEndpoint'
  | 'hostEndpoint'
  | 'hostConfig'
  | 'globalConfig'
  | 'tier'
  | 'policy'
  | 'profile'
  | 'networkSet'
  | 'ipPool'
  | 'ipReservation'
  | 'ipamBlock'
  | 'blockAffinity'
  | 'bgpConfiguration'
  | 'bgpPeer'
  | 'bgpFilter'
  | 'wireguard'
  | 'readyFlag'
  | 'service'
  | 'endpointSlice';

// Order matters: more specific patterns first.
const PATTERNS: ReadonlyArray<readonly [RegExp, KeyKind]> = [
  [/^\/calico\/v1\/host\/[^/]+\/workload\//, 'workloadEndpoint'],
  [/^\/calico\/v1\/host\/[^/]+\/endpoint\//, 'hostEndpoint'],
  [/^\/calico\/v1\/host\/[^/]+\/config\//, 'hostConfig'],
  [/^\/calico\/v1\/host\/[^/]+\/wireguard$/, 'wireguard'],
  [/^\/calico\/v1\/config\//, 'globalConfig'],
  [/^\/calico\/v1\/policy\/tier\//, 'tier'],
  [/^\/calico\/v1\/policy\/profile\//, 'profile'],
  [/^\/calico\/v1\/policy\//, 'policy'],
  [/^\/calico\/v1\/netset\//, 'networkSet'],
  [/^\/calico\/v1\/ipam\/v[46]\/pool\//, 'ipPool'],
  [/^\/calico\/ipam\/v2\/assignment\//, 'ipamBlock'],
  [/^\/calico\/ipam\/v2\/host\//, 'blockAffinity'],
  [/^\/calico\/resources\/v3\/projectcalico\.org\/nodes\//, 'node'],
  [/^\/calico\/resources\/v3\/projectcalico\.org\/ipreservations\//, 'ipReservation'],
  [/^\/calico\/resources\/v3\/projectcalico\.org\/bgpconfigurations\//, 'bgpConfiguration'],
  [/^\/calico\/resources\/v3\/projectcalico\.org\/bgppeers\//, 'bgpPeer'],
  [/^\/calico\/resources\/v3\/projectcalico\.org\/bgpfilters\//, 'bgpFilter'],
  [/^\/calico\/resources\/v3\/projectcalico\.org\/kubernetesservice\//, 'service'],
  [/^\/calico\/resources\/v3\/projectcalico\.org\/kubernetesendpointslices\//, 'endpointSlice'],
  [/^\/calico\/v1\/Ready$/, 'readyFlag'],
];

export function keyKind(key: string): KeyKind | undefined {
  for (const [re, kind] of PATTERNS) if (re.test(key)) return kind;
  return undefined;
}

/**
 * Which syncer receives which kind of key — the one table (mirrors Calico's felix and bgp
 * syncers: Felix needs policy, endpoints, pools, nodes and blocks; BIRD's config generator
 * needs nodes, pools, BGP resources, block affinities and, for service advertisement,
 * Services and EndpointSlices (confd watches those itself), and nothing about pods).
 */
export const SYNCER_TABLE: Readonly<Record<KeyKind, readonly SyncerType[]>> = {
  node: ['felix', 'bgp'],
  workloadEndpoint: ['felix'],
  hostEndpoint: ['felix'],
  hostConfig: ['felix'],
  globalConfig: ['felix'],
  tier: ['felix'],
  policy: ['felix'],
  profile: ['felix'],
  networkSet: ['felix'],
  ipPool: ['felix', 'bgp'],
  ipReservation: ['felix'],
  ipamBlock: ['felix'],
  blockAffinity: ['bgp'],
  bgpConfiguration: ['felix', 'bgp'],
  bgpPeer: ['felix', 'bgp'],
  // Only BIRD's configuration uses them (Calico's bgpsyncer; Felix never sees them).
  bgpFilter: ['bgp'],
  wireguard: ['felix'],
  readyFlag: ['felix'],
  // Felix: service rules and the BPF proxy; confd: per-service route advertisement, which
  // also needs the slices (a Local service is advertised only where it has a ready endpoint).
  service: ['felix', 'bgp'],
  endpointSlice: ['felix', 'bgp'],
};

export function syncersForKey(key: string): readonly SyncerType[] {
  const kind = keyKind(key);
  return kind === undefined ? [] : SYNCER_TABLE[kind];
}
