// Turns the simulator's state into KVs: one function per key kind, each building a fresh
// value (emitted values are never mutated afterwards, since caches keep them by reference).
// v1-model keys get v1-model values; /calico/resources/v3 keys get v3 objects, as Typha sends.

import { Keys } from '../../model/keys.js';
import type { JsonValue, KV } from '../../model/types.js';
import type { Cluster, SimNode, SimPod } from './cluster.js';
import type { Block } from './ipam.js';
import { policyKey, toModelPolicy } from './policy-convert.js';
import {
  BGP_PEERS,
  bgpConfigurationSpec,
  globalConfig,
  type IpPoolSpec,
  RESERVATION,
  ROUTE_REFLECTOR_CLUSTER_ID,
  TIERS,
} from './seed-resources.js';
import type { NamespaceDef } from './workloads.js';

const V3 = 'projectcalico.org/v3';
/** Which rack subnet mask node addresses carry (10.0.<rack>.0/24). */
const NODE_PREFIX = 24;

const v3 = (kind: string, name: string, spec: JsonValue, labels?: Record<string, string>): JsonValue => ({
  kind,
  apiVersion: V3,
  metadata: labels === undefined ? { name } : { name, labels: { ...labels } },
  spec,
});

export function nodeKV(n: SimNode): KV {
  const bgp: Record<string, JsonValue> = { ipv4Address: `${n.ip}/${NODE_PREFIX}` };
  if (n.asNumber !== undefined) bgp['asNumber'] = n.asNumber;
  if (n.routeReflector) bgp['routeReflectorClusterID'] = ROUTE_REFLECTOR_CLUSTER_ID;
  // No wireguard fields: agents publish their public keys once they are up.
  const spec = {
    bgp,
    addresses: [
      { address: `${n.ip}/${NODE_PREFIX}`, type: 'CalicoNodeIP' },
      { address: n.ip, type: 'InternalIP' },
    ],
    orchRefs: [{ nodeName: n.name, orchestrator: 'k8s' }],
  };
  return { key: Keys.node(n.name), value: v3('Node', n.name, spec, n.labels) };
}

export function wepKV(p: SimPod): KV {
  const sa = p.workload.template.serviceAccount;
  const value = {
    state: 'active',
    name: p.iface,
    mac: p.mac,
    profileIds: [`kns.${p.namespace}`, `ksa.${p.namespace}.${sa}`],
    ipv4Nets: [`${p.ip}/32`],
    ipv6Nets: [],
    labels: {
      ...p.labels,
      'projectcalico.org/namespace': p.namespace,
      'projectcalico.org/orchestrator': 'k8s',
      'projectcalico.org/serviceaccount': sa,
    },
    // numorstring.Protocol.ToV1() lowercases; unnamed container ports are dropped by Calico.
    ports: p.workload.template.ports.map((x) => ({
      name: x.name,
      protocol: x.protocol.toLowerCase(),
      port: x.port,
    })),
  };
  return { key: Keys.workloadEndpoint(p.node.name, p.namespace, p.name), value };
}

export const wepDeleteKV = (p: SimPod): KV => ({
  key: Keys.workloadEndpoint(p.node.name, p.namespace, p.name),
  value: null,
});

/** Calico's AllocationBlock (handle_id spelled handleId; no timestamps, to stay deterministic). */
export function blockKV(b: Block): KV {
  const value = {
    cidr: b.cidr,
    affinity: `host:${b.node}`,
    strictAffinity: false,
    allocations: [...b.allocations],
    unallocated: [...b.unallocated],
    attributes: b.attributes.map((a) => ({
      handleId: a.handleId,
      secondary: { namespace: a.namespace, node: a.node, pod: a.pod },
    })),
    deleted: false,
    sequenceNumber: b.sequenceNumber,
  };
  return { key: Keys.ipamBlock(b.cidr), value };
}

export const affinityKV = (b: Block): KV => ({
  key: Keys.blockAffinity(b.node, b.cidr),
  value: { state: 'confirmed', deleted: false },
});

/** IPPool: the v1 pool key, with the v3 spec's field names (and its name) as the value. */
export function poolKV(p: IpPoolSpec): KV {
  const value = {
    name: p.name,
    cidr: p.cidr,
    blockSize: p.blockSize,
    ipipMode: p.ipipMode,
    vxlanMode: p.vxlanMode,
    natOutgoing: p.natOutgoing,
    disabled: false,
    disableBGPExport: false,
    nodeSelector: p.nodeSelector,
    allowedUses: ['Workload', 'Tunnel'],
  };
  return { key: Keys.ipPool(p.cidr), value };
}

/** kns.<ns>: allow-all rules, namespace labels under the pcns. prefix (NamespaceToProfile). */
export function namespaceProfileKV(ns: NamespaceDef): KV {
  const labels: Record<string, string> = { 'pcns.projectcalico.org/name': ns.name };
  for (const [k, v] of Object.entries(ns.labels)) labels[`pcns.${k}`] = v;
  return {
    key: Keys.profile(`kns.${ns.name}`),
    value: { labels, inboundRules: [{ action: 'allow' }], outboundRules: [{ action: 'allow' }] },
  };
}

/** ksa.<ns>.<sa>: labels only, no rules (ServiceAccountToProfile). */
export function serviceAccountProfileKV(namespace: string, sa: string): KV {
  return {
    key: Keys.profile(`ksa.${namespace}.${sa}`),
    value: { labels: { 'pcsa.projectcalico.org/name': sa }, inboundRules: [], outboundRules: [] },
  };
}

export function serviceAccounts(ns: NamespaceDef): string[] {
  return [...new Set(['default', ...ns.workloads.map((w) => w.serviceAccount)])].sort();
}

export function renderState(c: Cluster): KV[] {
  const out: KV[] = [];
  for (const [name, value] of Object.entries(globalConfig(c.opts.wireguardEnabled, c.clusterGuid))) {
    out.push({ key: Keys.globalConfig(name), value });
  }
  for (const t of TIERS)
    out.push({ key: Keys.tier(t.name), value: { order: t.order, defaultAction: t.defaultAction } });
  for (const p of c.pools) out.push(poolKV(p));
  out.push({
    key: Keys.ipReservation(RESERVATION.name),
    value: v3('IPReservation', RESERVATION.name, { reservedCIDRs: [...RESERVATION.reservedCIDRs] }),
  });
  out.push({
    key: Keys.bgpConfiguration('default'),
    value: v3('BGPConfiguration', 'default', bgpConfigurationSpec(c.opts.nodeToNodeMesh)),
  });
  for (const peer of BGP_PEERS)
    out.push({ key: Keys.bgpPeer(peer.name), value: v3('BGPPeer', peer.name, { ...peer.spec }) });
  for (const n of c.nodes) out.push(nodeKV(n));
  for (const b of c.ipam.blocks()) out.push(affinityKV(b));
  for (const b of c.ipam.blocks()) out.push(blockKV(b));
  for (const ns of c.namespaces) {
    out.push(namespaceProfileKV(ns));
    for (const sa of serviceAccounts(ns)) out.push(serviceAccountProfileKV(ns.name, sa));
  }
  for (const { spec } of c.policies.values()) out.push({ key: policyKey(spec), value: toModelPolicy(spec) });
  for (const p of c.pods.values()) out.push(wepKV(p));
  return out;
}
