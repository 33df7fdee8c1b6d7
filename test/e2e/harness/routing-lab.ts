// The Kubernetes objects a namespace Lab stands for when the agents route it: one core Node
// per lab node (BGP address and ASN as Calico's node annotations), one IP pool, one /26 IPAM
// block per node with its confirmed affinity and one allocation per lab pod, and the default
// BGPConfiguration and FelixConfiguration. All addresses are the lab's own (addressing.ts).

import type { KubeObject } from '../../../src/datastore/kube/object.js';
import { POD_POOL_CIDR, UNDERLAY_CIDR } from './addressing.js';
import type { Lab, LabNode } from './topology.js';

const CRD = 'crd.projectcalico.org/v1';
const A = 'projectcalico.org/';
const UNDERLAY_LEN = UNDERLAY_CIDR.split('/')[1];

export const DEFAULT_ASN = 64512;

export function crd(kind: string, name: string, spec: unknown, labels?: Record<string, string>): KubeObject {
  return {
    apiVersion: CRD,
    kind,
    metadata: labels ? { name, labels } : { name },
    spec,
  } as unknown as KubeObject;
}

export function nodeObject(
  n: LabNode,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: { 'kubernetes.io/hostname': n.name, ...extra.labels },
      annotations: { [`${A}IPv4Address`]: `${n.ip}/${UNDERLAY_LEN}`, ...extra.annotations },
    },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: n.ip }] },
  } as unknown as KubeObject;
}

const blockName = (cidr: string) => cidr.replace(/[./]/g, '-');

/** The node's block with its lab pods allocated (ordinal j+1 = pod j, as addressing.podIp). */
export function blockObjects(n: LabNode): KubeObject[] {
  const size = 64;
  const allocations: (number | null)[] = new Array(size).fill(null);
  const attributes = n.pods.map((p, j) => {
    allocations[j + 1] = j;
    return {
      handle_id: `k8s-pod-network.${p.name}`,
      secondary: { namespace: 'default', node: n.name, pod: p.name },
    };
  });
  const unallocated = allocations.flatMap((a, i) => (a === null ? [i] : []));
  return [
    crd('IPAMBlock', blockName(n.podCidr), {
      cidr: n.podCidr,
      affinity: `host:${n.name}`,
      allocations,
      unallocated,
      attributes,
      deleted: false,
      strictAffinity: false,
    }),
    crd('BlockAffinity', `${n.name}-${blockName(n.podCidr)}`, {
      node: n.name,
      cidr: n.podCidr,
      state: 'confirmed',
      deleted: 'false',
    }),
  ];
}

/** Everything but policy: nodes, pool, blocks, BGP and Felix defaults. */
export function routingLabObjects(
  lab: Lab,
  opts: { mesh?: boolean; wireguard?: boolean } = {},
): KubeObject[] {
  return [
    ...lab.nodes.map((n) => nodeObject(n)),
    crd('IPPool', 'default-ipv4-ippool', {
      cidr: POD_POOL_CIDR,
      blockSize: 26,
      ipipMode: 'Never',
      vxlanMode: 'Never',
      natOutgoing: false,
      nodeSelector: 'all()',
    }),
    ...lab.nodes.flatMap(blockObjects),
    crd('BGPConfiguration', 'default', {
      nodeToNodeMeshEnabled: opts.mesh ?? true,
      asNumber: DEFAULT_ASN,
      logSeverityScreen: 'Info',
    }),
    crd('FelixConfiguration', 'default', { wireguardEnabled: opts.wireguard ?? false }),
    crd('ClusterInformation', 'default', { datastoreReady: true }),
  ];
}
