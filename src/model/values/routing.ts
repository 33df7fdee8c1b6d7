// Routing values: nodes, IP pools, IPAM blocks and affinities, WireGuard keys and the v3 BGP
// resources, as src/datastore/convert stores them (`…Kv`) and as the parse functions return them
// after checking (`…Info`). A value that does not parse yields undefined.

import { addressAt, type Cidr, formatCidr, parseNet } from '../net/cidr.js';
import { parseIp } from '../net/ip.js';
import { parseSelector, type Selector } from '../selector/index.js';
import type { JsonValue } from '../types.js';
import { isObject, wireOrUndefined } from './read.js';

type Labels = Readonly<Record<string, string>>;
type Json = { readonly [k: string]: JsonValue };

/** A v3 resource stored whole (Node, BGPConfiguration, BGPPeer, BGPFilter, IPReservation). */
export interface V3Kv<Kind extends string, Spec> {
  readonly kind: Kind;
  readonly apiVersion: 'projectcalico.org/v3';
  readonly metadata: { readonly name: string; readonly labels?: Labels };
  readonly spec: Spec;
}

export interface NodeBgpKv {
  /** "addr/len" as configured. */
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
  readonly asNumber?: number;
  readonly routeReflectorClusterID?: string;
  readonly ipv4IPIPTunnelAddr?: string;
}

export interface NodeSpecKv {
  readonly bgp?: NodeBgpKv;
  readonly addresses?: readonly { readonly address: string; readonly type: string }[];
  readonly orchRefs: readonly { readonly nodeName: string; readonly orchestrator: string }[];
  readonly wireguard?: { readonly interfaceIPv4Address?: string; readonly interfaceIPv6Address?: string };
  readonly ipv4VXLANTunnelAddr?: string;
  readonly vxlanTunnelMACAddr?: string;
  readonly ipv6VXLANTunnelAddr?: string;
  readonly vxlanTunnelMACAddrV6?: string;
}

export type NodeKv = V3Kv<'Node', NodeSpecKv> & {
  readonly status?: {
    readonly wireguardPublicKey?: string;
    readonly wireguardPublicKeyV6?: string;
    readonly podCIDRs?: readonly string[];
  };
};

/** BGPConfiguration, BGPPeer and BGPFilter: the v3 spec, copied with AS numbers as numbers. */
export type BgpResourceKv = V3Kv<'BGPConfiguration' | 'BGPPeer' | 'BGPFilter', Json>;

export type IpReservationKv = V3Kv<'IPReservation', { readonly reservedCIDRs: readonly string[] }>;

export type EncapMode = 'Never' | 'Always' | 'CrossSubnet';

/** libcalico-go model.IPPool. */
export interface IpPoolKv {
  readonly name: string;
  readonly cidr: string;
  readonly blockSize: number;
  readonly ipipMode: EncapMode;
  readonly vxlanMode: EncapMode;
  readonly natOutgoing: boolean;
  readonly disabled: boolean;
  readonly disableBGPExport: boolean;
  readonly nodeSelector: string;
  readonly allowedUses: readonly string[];
  readonly assignmentMode: 'Automatic' | 'Manual';
  readonly namespaceSelector?: string;
}

export interface IpamAttributeKv {
  readonly handleId?: string;
  readonly secondary?: JsonValue;
  readonly alternateOwnerAttrs?: JsonValue;
  readonly releasedAt?: JsonValue;
}

/** libcalico-go model.AllocationBlock. */
export interface IpamBlockKv {
  readonly cidr: string;
  readonly strictAffinity: boolean;
  /** Per ordinal: an index into `attributes`, or null when free. */
  readonly allocations: readonly (number | null)[];
  readonly unallocated: readonly number[];
  readonly attributes: readonly IpamAttributeKv[];
  readonly deleted: boolean;
  readonly sequenceNumber: number;
  /** "host:<node>". */
  readonly affinity?: string;
  readonly sequenceNumberForAllocation?: JsonValue;
}

export interface BlockAffinityKv {
  readonly state: string;
  readonly deleted: boolean;
}

/** libcalico-go model.Wireguard. */
export interface WireguardKv {
  readonly interfaceIPv4Address?: string;
  readonly publicKey?: string;
  readonly interfaceIPv6Address?: string;
  readonly publicKeyV6?: string;
}

export interface NodeInfo {
  readonly name: string;
  readonly labels: Labels;
  /** The node's BGP/host IPv4 address (no prefix), e.g. "10.250.0.1". */
  readonly ipv4?: string;
  /** The same with its subnet as configured, e.g. "10.250.0.1/24". */
  readonly ipv4Cidr?: string;
  readonly ipv6?: string;
  /** Node.spec.bgp.asNumber; undefined = the cluster default applies. */
  readonly asNumber?: number;
  readonly routeReflectorClusterId?: string;
  readonly ipipTunnelAddr?: string;
  /** True when the node has a spec.bgp section (Calico runs BGP only for those). */
  readonly bgpEnabled: boolean;
}

/** A pool as read: the stored fields the agent uses, its CIDR parsed, its selector compiled. */
export interface PoolInfo
  extends Pick<
    IpPoolKv,
    'name' | 'cidr' | 'blockSize' | 'ipipMode' | 'vxlanMode' | 'natOutgoing' | 'disabled' | 'disableBGPExport'
  > {
  readonly net: Cidr;
  readonly nodeSelector: Selector;
  readonly allowedUses: readonly string[];
}

/** An address of a block allocated to a node other than the block's affine node. */
export interface BorrowedAddress {
  readonly ip: string;
  readonly node: string;
}

export interface BlockInfo {
  readonly cidr: string;
  readonly net: Cidr;
  /** The affine node ("host:<node>"), if any. */
  readonly node?: string;
  readonly allocated: number;
  readonly size: number;
  readonly borrowed: readonly BorrowedAddress[];
}

export interface AffinityInfo {
  readonly node: string;
  readonly cidr: string;
  readonly state: string;
  readonly deleted: boolean;
}

export interface WireguardInfo {
  readonly node: string;
  readonly publicKey?: string;
  readonly interfaceIPv4Address?: string;
}

/** A v3 resource passed through unconverted (BGPConfiguration, BGPPeer, BGPFilter). */
export interface V3Resource {
  readonly name: string;
  readonly labels: Labels;
  readonly spec: Json;
}

const str = (v: JsonValue | undefined): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;
const num = (v: JsonValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);

function labelsOf(meta: JsonValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const labels = isObject(meta) ? meta['labels'] : undefined;
  if (isObject(labels)) for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  return out;
}

export function parseNode(raw: JsonValue): NodeInfo | undefined {
  const v = wireOrUndefined<NodeKv>(raw);
  const meta = v?.metadata;
  const name = isObject(meta) ? str(meta['name']) : undefined;
  const spec = wireOrUndefined<NodeSpecKv>(v?.spec);
  if (name === undefined || spec === undefined) return undefined;
  const bgp = wireOrUndefined<NodeBgpKv>(spec.bgp);
  const v4 = str(bgp?.ipv4Address);
  const v6 = str(bgp?.ipv6Address);
  const strip = (s: string | undefined) => s?.split('/')[0];
  const node: NodeInfo = {
    name,
    labels: labelsOf(meta),
    bgpEnabled: bgp !== undefined,
    ipv4: strip(v4),
    ipv4Cidr: v4,
    ipv6: strip(v6),
    asNumber: num(bgp?.asNumber),
    routeReflectorClusterId: str(bgp?.routeReflectorClusterID),
    ipipTunnelAddr: str(bgp?.ipv4IPIPTunnelAddr),
  };
  if (node.ipv4 === undefined) {
    // Without Calico BGP data, a Kubernetes InternalIP is still the node's address.
    const addrs = Array.isArray(spec.addresses) ? spec.addresses : [];
    for (const a of addrs)
      if (
        isObject(a) &&
        a['type'] === 'InternalIP' &&
        typeof a['address'] === 'string' &&
        !a['address'].includes(':')
      )
        return { ...node, ipv4: a['address'] };
  }
  if (node.ipv4 !== undefined && parseIp(node.ipv4, 'lenient') === undefined) return undefined;
  return node;
}

const MODES: readonly EncapMode[] = ['Never', 'Always', 'CrossSubnet'];

export function parsePool(raw: JsonValue): PoolInfo | undefined {
  const v = wireOrUndefined<IpPoolKv>(raw);
  if (v === undefined) return undefined;
  const cidr = str(v.cidr);
  const net = cidr ? parseNet(cidr) : undefined;
  const blockSize = num(v.blockSize);
  if (cidr === undefined || net === undefined || blockSize === undefined) return undefined;
  const mode = (m: JsonValue | undefined): EncapMode | undefined =>
    m === undefined || m === null ? 'Never' : MODES.find((x) => x === m);
  const ipipMode = mode(v.ipipMode);
  const vxlanMode = mode(v.vxlanMode);
  if (ipipMode === undefined || vxlanMode === undefined) return undefined;
  let nodeSelector: Selector;
  try {
    nodeSelector = parseSelector(str(v.nodeSelector) ?? 'all()');
  } catch {
    return undefined;
  }
  const uses = Array.isArray(v.allowedUses) ? v.allowedUses.filter((u) => typeof u === 'string') : [];
  return {
    name: str(v.name) ?? formatCidr(net),
    cidr: formatCidr(net),
    net,
    blockSize,
    ipipMode,
    vxlanMode,
    natOutgoing: v.natOutgoing === true,
    disabled: v.disabled === true,
    disableBGPExport: v.disableBGPExport === true,
    nodeSelector,
    allowedUses: uses.length > 0 ? (uses as string[]) : ['Workload', 'Tunnel'],
  };
}

export function parseBlock(raw: JsonValue): BlockInfo | undefined {
  const v = wireOrUndefined<IpamBlockKv>(raw);
  if (v === undefined) return undefined;
  const cidr = str(v.cidr);
  const net = cidr ? parseNet(cidr) : undefined;
  if (cidr === undefined || net === undefined || v.deleted === true) return undefined;
  const affinity = str(v.affinity);
  const node = affinity?.startsWith('host:') ? affinity.slice(5) : undefined;
  const allocations = Array.isArray(v.allocations) ? v.allocations : [];
  const attributes = Array.isArray(v.attributes) ? v.attributes : [];
  const borrowed: BorrowedAddress[] = [];
  let allocated = 0;
  allocations.forEach((a, ordinal) => {
    if (typeof a !== 'number') return;
    allocated++;
    const attr = wireOrUndefined<IpamAttributeKv>(attributes[a]);
    const secondary = attr !== undefined && isObject(attr.secondary) ? attr.secondary : undefined;
    const owner = str(secondary?.['node']);
    if (owner !== undefined && owner !== node) borrowed.push({ ip: addressAt(net, ordinal), node: owner });
  });
  return { cidr: formatCidr(net), net, node, allocated, size: allocations.length, borrowed };
}

/** A stored v3 resource (BGPConfiguration, BGPPeer, BGPFilter) as name, labels and spec. */
export function parseV3(raw: JsonValue): V3Resource | undefined {
  const v = wireOrUndefined<BgpResourceKv>(raw);
  const meta = v?.metadata;
  const name = isObject(meta) ? str(meta['name']) : undefined;
  const spec = v?.spec;
  return name === undefined || !isObject(spec) ? undefined : { name, labels: labelsOf(meta), spec };
}

export function parseWireguard(node: string, raw: JsonValue): WireguardInfo | undefined {
  const v = wireOrUndefined<WireguardKv>(raw);
  if (v === undefined) return undefined;
  return { node, publicKey: str(v.publicKey), interfaceIPv4Address: str(v.interfaceIPv4Address) };
}

/** A block affinity's value, or undefined if it has no state. */
export function parseAffinity(node: string, cidr: string, raw: JsonValue): AffinityInfo | undefined {
  const v = wireOrUndefined<BlockAffinityKv>(raw);
  if (v === undefined || typeof v.state !== 'string') return undefined;
  return { node, cidr, state: v.state, deleted: v.deleted === true };
}
