// The simulator's state as the API objects a real cluster would hold: Nodes with Calico's
// BGP annotations, Pods with their IPs, Namespaces, ServiceAccounts, and the IPAM CRDs in
// Calico's stored format. One function per kind; each call builds a fresh object.

import type { KubeObject } from '../../datastore/kube/object.js';
import type { Cluster, SimNode, SimPod, Workload } from './cluster.js';
import type { Block } from './ipam.js';
import { crd, deepFreeze, meta } from './object-builders.js';
import {
  bgpConfigurationObject,
  bgpPeerObjects,
  clusterInformationObject,
  felixConfigurationObject,
  poolObject,
  ROUTE_REFLECTOR_CLUSTER_ID,
  reservationObject,
  tierObjects,
} from './seed-resources.js';
import { serviceObjects } from './services.js';
import type { NamespaceDef } from './workloads.js';

/** The rack subnet mask node addresses carry (10.0.<rack>.0/24). */
const NODE_PREFIX = 24;

export function nodeObject(n: SimNode): KubeObject {
  const annotations: Record<string, string> = { 'projectcalico.org/IPv4Address': `${n.ip}/${NODE_PREFIX}` };
  if (n.asNumber !== undefined) annotations['projectcalico.org/ASNumber'] = String(n.asNumber);
  if (n.routeReflector) annotations['projectcalico.org/RouteReflectorClusterID'] = ROUTE_REFLECTOR_CLUSTER_ID;
  // No WireGuard key: agents publish theirs once they are up.
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: meta(n.name, { labels: n.labels, annotations }),
    spec: {},
    status: {
      addresses: [
        { type: 'InternalIP', address: n.ip },
        { type: 'Hostname', address: n.name },
      ],
    },
  };
}

/** A workload's containers, shared (frozen) by all its pods. */
const containersOf = new WeakMap<Workload, readonly unknown[]>();
function containers(w: Workload): readonly unknown[] {
  let c = containersOf.get(w);
  if (c === undefined) {
    const t = w.template;
    const ports = t.ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol }));
    c = deepFreeze([{ name: t.name, image: `registry.example/${t.name}:1.0`, ports }]);
    containersOf.set(w, c);
  }
  return c;
}

/** A running pod as kubelet and the Calico CNI leave it. */
export function podObject(p: SimPod): KubeObject {
  const cidr = `${p.ip}/32`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(p.name, {
      namespace: p.namespace,
      labels: p.labels,
      annotations: { 'cni.projectcalico.org/podIP': cidr, 'cni.projectcalico.org/podIPs': cidr },
    }),
    spec: {
      nodeName: p.node.name,
      serviceAccountName: p.workload.template.serviceAccount,
      containers: containers(p.workload),
    },
    status: { phase: 'Running', hostIP: p.node.ip, podIP: p.ip, podIPs: [{ ip: p.ip }] },
  };
}

/** Calico's names.CIDRToName: 10.244.0.64/26 -> 10-244-0-64-26. */
export const cidrToName = (cidr: string): string => cidr.replace(/[.:/]/g, '-');

/** IPAMBlock as Calico's IPAM writes it (no timestamps, to stay deterministic). */
export function blockObject(b: Block): KubeObject {
  return crd('IPAMBlock', cidrToName(b.cidr), {
    cidr: b.cidr,
    affinity: `host:${b.node}`,
    allocations: [...b.allocations],
    unallocated: [...b.unallocated],
    attributes: b.attributes.map((a) => ({
      handle_id: a.handleId,
      secondary: { namespace: a.namespace, node: a.node, pod: a.pod },
    })),
    deleted: false,
    strictAffinity: false,
    sequenceNumber: b.sequenceNumber,
  });
}

/** BlockAffinity in the CRD's format (deleted is a string there). */
export function affinityObject(b: Block): KubeObject {
  return crd('BlockAffinity', `${b.node}-${cidrToName(b.cidr)}`, {
    state: 'confirmed',
    node: b.node,
    cidr: b.cidr,
    deleted: 'false',
  });
}

export function namespaceObject(ns: NamespaceDef): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: meta(ns.name, { labels: ns.labels, annotations: ns.annotations }),
  };
}

export function serviceAccountObjects(ns: NamespaceDef): KubeObject[] {
  const names = [...new Set(['default', ...ns.workloads.map((w) => w.serviceAccount)])].sort();
  return names.map((sa) => ({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: meta(sa, { namespace: ns.name }),
  }));
}

/**
 * Every object of the cluster, in the order a full list would be sent (config first, pods
 * last), made one at a time so that a caller converting them never holds them all.
 */
export function* clusterObjects(c: Cluster): Generator<KubeObject> {
  yield clusterInformationObject(c.clusterGuid);
  yield felixConfigurationObject(c.opts.wireguardEnabled);
  yield* tierObjects();
  for (const p of c.pools) yield poolObject(p);
  yield reservationObject();
  yield bgpConfigurationObject(c.opts.nodeToNodeMesh);
  yield* bgpPeerObjects();
  for (const n of c.nodes) yield nodeObject(n);
  for (const b of c.ipam.blocks()) yield affinityObject(b);
  for (const b of c.ipam.blocks()) yield blockObject(b);
  for (const ns of c.namespaces) {
    yield namespaceObject(ns);
    yield* serviceAccountObjects(ns);
  }
  for (const p of c.policies.values()) yield p.object;
  yield* serviceObjects(c);
  for (const p of c.pods.values()) yield podObject(p);
}
