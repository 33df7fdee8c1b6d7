// The fixed part of the simulated cluster, taken from the seed lab (kind "calico-lab" with
// tiers security/platform/application, the finance pool, the BGP examples): pools, the
// reservation, tiers, seed policies, BGP and Felix configuration. Pure data; no randomness.

import type { PolicySpec } from './policy-convert.js';

export const CLUSTER_ASN = 64512;
/** The seed's per-node ASN override (`worker-rack2-01`). */
export const RACK2_ASN = 64513;
export const ROUTE_REFLECTOR_CLUSTER_ID = '224.0.0.1';
export const RR_LABEL = 'calico-route-reflector';
export const ASN_OVERRIDE_NODE = 'worker-rack2-01';
export const SERVICE_CLUSTER_CIDR = '10.96.0.0/12';

export interface IpPoolSpec {
  readonly name: string;
  readonly cidr: string;
  readonly blockSize: number;
  readonly ipipMode: 'Never' | 'Always' | 'CrossSubnet';
  readonly vxlanMode: 'Never' | 'Always' | 'CrossSubnet';
  readonly natOutgoing: boolean;
  readonly nodeSelector: string;
}

export const DEFAULT_POOL: IpPoolSpec = {
  name: 'default-pool',
  cidr: '10.244.0.0/16',
  blockSize: 26,
  ipipMode: 'Never',
  vxlanMode: 'Never',
  natOutgoing: true,
  nodeSelector: 'all()',
};

export const FINANCE_POOL: IpPoolSpec = {
  name: 'finance-pool',
  cidr: '10.245.0.0/24',
  blockSize: 28,
  ipipMode: 'Never',
  vxlanMode: 'Never',
  natOutgoing: true,
  nodeSelector: 'all()',
};

/**
 * Not in the seed: a /16 holds only 1,024 /26 blocks, fewer than a 5,000-node cluster needs,
 * so big simulations add this pool (as a real operator would) once the nodes outgrow it.
 */
export const SCALE_POOL: IpPoolSpec = { ...DEFAULT_POOL, name: 'scale-pool', cidr: '172.16.0.0/12' };
export const SCALE_POOL_MIN_NODES = 500;

export const RESERVATION = {
  name: 'reserved-ips',
  reservedCIDRs: ['10.244.0.1/32', '10.244.0.2/32', '10.244.100.0/24'],
} as const;

/**
 * Tier orders: the seed's security/platform/application, plus Calico's built-ins. OSS
 * Calico (>= v3.29) creates `default` with order 1,000,000 (not nil/last any more), and
 * `kube-admin`/`kube-baseline` (Pass) for Kubernetes ClusterNetworkPolicy.
 */
export const TIERS: readonly { name: string; order: number; defaultAction: 'Deny' | 'Pass' }[] = [
  { name: 'security', order: 100, defaultAction: 'Deny' },
  { name: 'platform', order: 200, defaultAction: 'Deny' },
  { name: 'application', order: 300, defaultAction: 'Deny' },
  { name: 'kube-admin', order: 1_000, defaultAction: 'Pass' },
  { name: 'default', order: 1_000_000, defaultAction: 'Deny' },
  { name: 'kube-baseline', order: 10_000_000, defaultAction: 'Pass' },
];

const nsName = (ns: string) => `projectcalico.org/name == "${ns}"`;

/**
 * The seed lab's policies. Two repairs, so that Calico would accept them: the seed's
 * frontend-policy has two `destination:` keys (YAML keeps the last, losing the selector), so
 * they are merged; and rules with ports get `protocol: TCP`, which Calico's validation requires.
 */
export const SEED_POLICIES: readonly PolicySpec[] = [
  {
    kind: 'GlobalNetworkPolicy',
    name: 'security.block-metadata',
    namespace: '',
    tier: 'security',
    order: 10,
    selector: 'all()',
    types: ['Egress'],
    egress: [{ action: 'Deny', destination: { nets: ['169.254.169.254/32'] } }, { action: 'Pass' }],
  },
  {
    kind: 'GlobalNetworkPolicy',
    name: 'platform.allow-dns',
    namespace: '',
    tier: 'platform',
    order: 10,
    selector: 'all()',
    types: ['Egress'],
    egress: [
      { action: 'Allow', protocol: 'UDP', destination: { ports: [53] } },
      { action: 'Allow', protocol: 'TCP', destination: { ports: [53] } },
      { action: 'Pass' },
    ],
  },
  {
    kind: 'NetworkPolicy',
    name: 'application.frontend-policy',
    namespace: 'frontend',
    tier: 'application',
    order: 10,
    selector: 'app == "frontend"',
    types: ['Egress'],
    egress: [
      {
        action: 'Allow',
        protocol: 'TCP',
        destination: { selector: 'app == "api"', namespaceSelector: nsName('backend'), ports: [80] },
      },
      { action: 'Deny' },
    ],
  },
  {
    kind: 'NetworkPolicy',
    name: 'application.api-policy',
    namespace: 'backend',
    tier: 'application',
    order: 20,
    selector: 'app == "api"',
    types: ['Egress'],
    egress: [
      {
        action: 'Allow',
        protocol: 'TCP',
        destination: { selector: 'app == "db"', namespaceSelector: nsName('database'), ports: [80] },
      },
      { action: 'Deny' },
    ],
  },
  {
    kind: 'NetworkPolicy',
    name: 'application.db-policy',
    namespace: 'database',
    tier: 'application',
    order: 30,
    selector: 'app == "db"',
    types: ['Ingress'],
    ingress: [
      {
        action: 'Allow',
        protocol: 'TCP',
        source: { selector: 'app == "api"', namespaceSelector: nsName('backend') },
        destination: { ports: [80] },
      },
      { action: 'Deny' },
    ],
  },
  {
    // The first seed's example: no tier (default) and no order (+Inf).
    kind: 'NetworkPolicy',
    name: 'allow-frontend-to-api',
    namespace: 'app',
    tier: 'default',
    selector: 'app == "web-api"',
    types: ['Ingress'],
    ingress: [
      {
        action: 'Allow',
        protocol: 'TCP',
        source: { selector: 'app == "frontend"' },
        destination: { ports: [8080] },
      },
    ],
  },
  {
    // The second seed's networking.k8s.io example, pointed at the lab's api pods.
    kind: 'KubernetesNetworkPolicy',
    name: 'allow-frontend-to-api',
    namespace: 'backend',
    podSelector: { app: 'api' },
    policyTypes: ['Ingress'],
    ingress: [
      {
        peers: [
          {
            podSelector: { app: 'frontend' },
            namespaceSelector: { 'kubernetes.io/metadata.name': 'frontend' },
          },
        ],
        ports: [{ protocol: 'TCP', port: 80 }],
      },
    ],
  },
  {
    kind: 'KubernetesNetworkPolicy',
    name: 'default-deny-ingress',
    namespace: 'finance',
    podSelector: {},
    policyTypes: ['Ingress'],
  },
];

/** BGPConfiguration `default` spec, from the seed (mesh left on for the default sim). */
export function bgpConfigurationSpec(nodeToNodeMesh: boolean) {
  return {
    logSeverityScreen: 'Info',
    nodeToNodeMeshEnabled: nodeToNodeMesh,
    asNumber: CLUSTER_ASN,
    serviceClusterIPs: [{ cidr: SERVICE_CLUSTER_CIDR }],
    serviceExternalIPs: [{ cidr: '192.168.100.0/24' }],
    serviceLoadBalancerIPs: [{ cidr: '192.168.200.0/24' }],
    communities: [{ name: 'cluster-pods', value: '64512:100' }],
    prefixAdvertisements: [{ cidr: DEFAULT_POOL.cidr, communities: ['cluster-pods'] }],
  };
}

export const BGP_PEERS: readonly { name: string; spec: Record<string, string | number> }[] = [
  { name: 'peer-to-rr', spec: { nodeSelector: `!has(${RR_LABEL})`, peerSelector: `has(${RR_LABEL})` } },
  { name: 'rr-to-rr-mesh', spec: { nodeSelector: `has(${RR_LABEL})`, peerSelector: `has(${RR_LABEL})` } },
  { name: 'rack1-tor', spec: { nodeSelector: 'rack == "rack1"', peerIP: '10.0.1.1', asNumber: CLUSTER_ASN } },
];

/**
 * FelixConfiguration `default` (as the operator creates it, plus the seed's WireGuard switch)
 * and ClusterInformation, as v1 global config keys: one key per field, string values.
 */
export function globalConfig(wireguardEnabled: boolean, clusterGuid: string): Record<string, string> {
  return {
    BPFEnabled: 'false',
    CalicoVersion: 'v3.31.0',
    ClusterGUID: clusterGuid,
    ClusterType: 'k8s,bgp,kubeadm,kdd,typha',
    DefaultEndpointToHostAction: 'Drop',
    FloatingIPs: 'Disabled',
    HealthPort: '9099',
    IptablesBackend: 'Auto',
    LogSeverityScreen: 'Info',
    ReportingIntervalSecs: '0',
    WireguardEnabled: String(wireguardEnabled),
    WireguardEnabledV6: 'false',
  };
}
