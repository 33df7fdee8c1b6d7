// The fixed part of the simulated cluster, taken from the seed lab (kind "calico-lab" with
// tiers security/platform/application, the finance pool, the BGP examples), written as the
// Calico objects an operator would apply. Pure data and constructors; no randomness.

import type { KubeObject } from '../../datastore/kube/object.js';
import { crd, k8sNetworkPolicy } from './object-builders.js';

export const CLUSTER_ASN = 64512;
/** The seed's per-node ASN override (`worker-rack2-01`). */
export const RACK2_ASN = 64513;
export const ROUTE_REFLECTOR_CLUSTER_ID = '224.0.0.1';
export const RR_LABEL = 'calico-route-reflector';
export const ASN_OVERRIDE_NODE = 'worker-rack2-01';
export const SERVICE_CLUSTER_CIDR = '10.96.0.0/12';
export const SERVICE_EXTERNAL_CIDR = '192.168.100.0/24';
export const SERVICE_LB_CIDR = '192.168.200.0/24';

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

export const poolObject = (p: IpPoolSpec): KubeObject =>
  crd('IPPool', p.name, {
    cidr: p.cidr,
    blockSize: p.blockSize,
    ipipMode: p.ipipMode,
    vxlanMode: p.vxlanMode,
    natOutgoing: p.natOutgoing,
    nodeSelector: p.nodeSelector,
  });

export const tierObjects = (): KubeObject[] =>
  TIERS.map((t) => crd('Tier', t.name, { order: t.order, defaultAction: t.defaultAction }));

export const reservationObject = (): KubeObject =>
  crd('IPReservation', RESERVATION.name, { reservedCIDRs: [...RESERVATION.reservedCIDRs] });

const nsName = (ns: string) => `projectcalico.org/name == "${ns}"`;
const tcp = { action: 'Allow', protocol: 'TCP' } as const;

/**
 * The seed lab's policies. Two repairs, so that Calico accepts them (the fixtures in
 * test/fixtures/seeds keep them as written, and are rejected): the lab's application-tier
 * policies repeat `destination:` (YAML keeps the last, losing the selector), so the two are
 * merged; and rules with numeric ports get `protocol: TCP`, which Calico's validation requires.
 */
export function seedPolicyObjects(): KubeObject[] {
  const egressOnly = (tier: string, order: number, selector: string, egress: unknown[]) => ({
    tier,
    order,
    selector,
    types: ['Egress'],
    egress,
  });
  return [
    crd(
      'GlobalNetworkPolicy',
      'security.block-metadata',
      egressOnly('security', 10, 'all()', [
        { action: 'Deny', destination: { nets: ['169.254.169.254/32'] } },
        { action: 'Pass' },
      ]),
    ),
    crd(
      'GlobalNetworkPolicy',
      'platform.allow-dns',
      egressOnly('platform', 10, 'all()', [
        { action: 'Allow', protocol: 'UDP', destination: { ports: [53] } },
        { action: 'Allow', protocol: 'TCP', destination: { ports: [53] } },
        { action: 'Pass' },
      ]),
    ),
    crd(
      'NetworkPolicy',
      'application.frontend-policy',
      egressOnly('application', 10, 'app == "frontend"', [
        {
          ...tcp,
          destination: { selector: 'app == "api"', namespaceSelector: nsName('backend'), ports: [80] },
        },
        { action: 'Deny' },
      ]),
      { namespace: 'frontend' },
    ),
    crd(
      'NetworkPolicy',
      'application.api-policy',
      egressOnly('application', 20, 'app == "api"', [
        {
          ...tcp,
          destination: { selector: 'app == "db"', namespaceSelector: nsName('database'), ports: [80] },
        },
        { action: 'Deny' },
      ]),
      { namespace: 'backend' },
    ),
    crd(
      'NetworkPolicy',
      'application.db-policy',
      {
        tier: 'application',
        order: 30,
        selector: 'app == "db"',
        types: ['Ingress'],
        ingress: [
          {
            ...tcp,
            source: { selector: 'app == "api"', namespaceSelector: nsName('backend') },
            destination: { ports: [80] },
          },
          { action: 'Deny' },
        ],
      },
      { namespace: 'database' },
    ),
    // The first seed's example: no tier (default) and no order (+Inf).
    crd(
      'NetworkPolicy',
      'allow-frontend-to-api',
      {
        selector: 'app == "web-api"',
        types: ['Ingress'],
        ingress: [{ ...tcp, source: { selector: 'app == "frontend"' }, destination: { ports: [8080] } }],
      },
      { namespace: 'app' },
    ),
    // The second seed's networking.k8s.io example, pointed at the lab's api pods.
    k8sNetworkPolicy('allow-frontend-to-api', 'backend', {
      podSelector: { matchLabels: { app: 'api' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            {
              podSelector: { matchLabels: { app: 'frontend' } },
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'frontend' } },
            },
          ],
          ports: [{ protocol: 'TCP', port: 80 }],
        },
      ],
    }),
    k8sNetworkPolicy('default-deny-ingress', 'finance', { podSelector: {}, policyTypes: ['Ingress'] }),
  ];
}

/** BGPConfiguration `default`, from the seed (mesh left on for the default sim). */
export function bgpConfigurationObject(nodeToNodeMesh: boolean): KubeObject {
  return crd('BGPConfiguration', 'default', {
    logSeverityScreen: 'Info',
    nodeToNodeMeshEnabled: nodeToNodeMesh,
    asNumber: CLUSTER_ASN,
    serviceClusterIPs: [{ cidr: SERVICE_CLUSTER_CIDR }],
    serviceExternalIPs: [{ cidr: SERVICE_EXTERNAL_CIDR }],
    serviceLoadBalancerIPs: [{ cidr: SERVICE_LB_CIDR }],
    communities: [{ name: 'cluster-pods', value: '64512:100' }],
    prefixAdvertisements: [{ cidr: DEFAULT_POOL.cidr, communities: ['cluster-pods'] }],
  });
}

export const bgpPeerObjects = (): KubeObject[] => [
  crd('BGPPeer', 'peer-to-rr', { nodeSelector: `!has(${RR_LABEL})`, peerSelector: `has(${RR_LABEL})` }),
  crd('BGPPeer', 'rr-to-rr-mesh', { nodeSelector: `has(${RR_LABEL})`, peerSelector: `has(${RR_LABEL})` }),
  crd('BGPPeer', 'rack1-tor', { nodeSelector: 'rack == "rack1"', peerIP: '10.0.1.1', asNumber: CLUSTER_ASN }),
];

/** FelixConfiguration `default` as the operator creates it, plus the seed's WireGuard switch. */
export function felixConfigurationObject(wireguardEnabled: boolean): KubeObject {
  return crd('FelixConfiguration', 'default', {
    bpfEnabled: false,
    defaultEndpointToHostAction: 'Drop',
    floatingIPs: 'Disabled',
    healthPort: 9099,
    iptablesBackend: 'Auto',
    logSeverityScreen: 'Info',
    reportingInterval: '0s',
    wireguardEnabled,
    wireguardEnabledV6: false,
  });
}

export function clusterInformationObject(clusterGuid: string): KubeObject {
  return crd('ClusterInformation', 'default', {
    calicoVersion: 'v3.31.0',
    clusterGUID: clusterGuid,
    clusterType: 'k8s,bgp,kubeadm,kdd,typha',
    datastoreReady: true,
  });
}
