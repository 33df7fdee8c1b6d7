// The routing view of the KV model: nodes (address, ASN, reflector cluster, WireGuard key),
// IP pools, IPAM blocks and affinities, BGP configuration and peers, Felix configuration.
// Both streams feed it (the bgp stream for BIRD, the felix stream for routes and
// WireGuard); each consumer reads only what its stream carries. A value that does not
// parse is dropped (treated as deleted) and reported, as the policy calculation does.

import { keyKind } from '../../../model/keys.js';
import { addressAt, type Cidr, formatCidr, parseNet } from '../../../model/net/cidr.js';
import { parseIp } from '../../../model/net/ip.js';
import { parseSelector, type Selector } from '../../../model/selector/index.js';
import type { JsonValue, KV } from '../../../model/types.js';
import { parseService, parseSlice, type ServiceInfo, type SliceInfo } from './services.js';

type Obj = { readonly [k: string]: JsonValue };
const isObj = (v: JsonValue | undefined): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: JsonValue | undefined): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;
const num = (v: JsonValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);

export interface NodeInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
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

export type EncapMode = 'Never' | 'Always' | 'CrossSubnet';

export interface PoolInfo {
  readonly name: string;
  readonly cidr: string;
  readonly net: Cidr;
  readonly blockSize: number;
  readonly ipipMode: EncapMode;
  readonly vxlanMode: EncapMode;
  readonly natOutgoing: boolean;
  readonly disabled: boolean;
  readonly disableBGPExport: boolean;
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
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: Obj;
}

export type RoutingAspect =
  | 'nodes'
  | 'pools'
  | 'blocks'
  | 'affinities'
  | 'bgp'
  | 'wireguard'
  | 'config'
  | 'services';

export interface RoutingUpdate {
  readonly changed: ReadonlySet<RoutingAspect>;
  /** Keys whose values did not parse (now treated as deleted). */
  readonly invalid: readonly string[];
}

function labelsOf(meta: JsonValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const labels = isObj(meta) ? meta['labels'] : undefined;
  if (isObj(labels)) for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  return out;
}

function parseNode(v: Obj): NodeInfo | undefined {
  const meta = v['metadata'];
  const name = isObj(meta) ? str(meta['name']) : undefined;
  const spec = v['spec'];
  if (name === undefined || !isObj(spec)) return undefined;
  const bgp = isObj(spec['bgp']) ? spec['bgp'] : undefined;
  const v4 = str(bgp?.['ipv4Address']);
  const v6 = str(bgp?.['ipv6Address']);
  const strip = (s: string | undefined) => s?.split('/')[0];
  const node: NodeInfo = {
    name,
    labels: labelsOf(meta),
    bgpEnabled: bgp !== undefined,
    ipv4: strip(v4),
    ipv4Cidr: v4,
    ipv6: strip(v6),
    asNumber: num(bgp?.['asNumber']),
    routeReflectorClusterId: str(bgp?.['routeReflectorClusterID']),
    ipipTunnelAddr: str(bgp?.['ipv4IPIPTunnelAddr']),
  };
  if (node.ipv4 === undefined) {
    // Without Calico BGP data, a Kubernetes InternalIP is still the node's address.
    const addrs = Array.isArray(spec['addresses']) ? spec['addresses'] : [];
    for (const a of addrs)
      if (
        isObj(a) &&
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

function parsePool(v: Obj): PoolInfo | undefined {
  const cidr = str(v['cidr']);
  const net = cidr ? parseNet(cidr) : undefined;
  const blockSize = num(v['blockSize']);
  if (cidr === undefined || net === undefined || blockSize === undefined) return undefined;
  const mode = (m: JsonValue | undefined): EncapMode | undefined =>
    m === undefined || m === null ? 'Never' : MODES.find((x) => x === m);
  const ipipMode = mode(v['ipipMode']);
  const vxlanMode = mode(v['vxlanMode']);
  if (ipipMode === undefined || vxlanMode === undefined) return undefined;
  let nodeSelector: Selector;
  try {
    nodeSelector = parseSelector(str(v['nodeSelector']) ?? 'all()');
  } catch {
    return undefined;
  }
  const uses = Array.isArray(v['allowedUses']) ? v['allowedUses'].filter((u) => typeof u === 'string') : [];
  return {
    name: str(v['name']) ?? formatCidr(net),
    cidr: formatCidr(net),
    net,
    blockSize,
    ipipMode,
    vxlanMode,
    natOutgoing: v['natOutgoing'] === true,
    disabled: v['disabled'] === true,
    disableBGPExport: v['disableBGPExport'] === true,
    nodeSelector,
    allowedUses: uses.length > 0 ? (uses as string[]) : ['Workload', 'Tunnel'],
  };
}

function parseBlock(v: Obj): BlockInfo | undefined {
  const cidr = str(v['cidr']);
  const net = cidr ? parseNet(cidr) : undefined;
  if (cidr === undefined || net === undefined || v['deleted'] === true) return undefined;
  const affinity = str(v['affinity']);
  const node = affinity?.startsWith('host:') ? affinity.slice(5) : undefined;
  const allocations = Array.isArray(v['allocations']) ? v['allocations'] : [];
  const attributes = Array.isArray(v['attributes']) ? v['attributes'] : [];
  const borrowed: BorrowedAddress[] = [];
  let allocated = 0;
  allocations.forEach((a, ordinal) => {
    if (typeof a !== 'number') return;
    allocated++;
    const attr = attributes[a];
    const secondary = isObj(attr) && isObj(attr['secondary']) ? attr['secondary'] : undefined;
    const owner = str(secondary?.['node']);
    if (owner !== undefined && owner !== node) borrowed.push({ ip: addressAt(net, ordinal), node: owner });
  });
  return { cidr: formatCidr(net), net, node, allocated, size: allocations.length, borrowed };
}

function parseV3(v: Obj): V3Resource | undefined {
  const meta = v['metadata'];
  const name = isObj(meta) ? str(meta['name']) : undefined;
  const spec = v['spec'];
  return name === undefined || !isObj(spec) ? undefined : { name, labels: labelsOf(meta), spec };
}

const lastSegment = (key: string): string => decodeURIComponent(key.slice(key.lastIndexOf('/') + 1));
/** The decoded path segments of a key. */
const segments = (key: string): string[] => key.split('/').map((s) => decodeURIComponent(s));

/** Holds the routing-relevant part of the model; `apply` says which aspects changed. */
export class RoutingState {
  readonly nodes = new Map<string, NodeInfo>();
  readonly pools = new Map<string, PoolInfo>();
  readonly blocks = new Map<string, BlockInfo>();
  /** node → cidr → affinity. */
  readonly affinities = new Map<string, Map<string, AffinityInfo>>();
  readonly bgpConfigurations = new Map<string, V3Resource>();
  readonly bgpPeers = new Map<string, V3Resource>();
  readonly bgpFilters = new Map<string, V3Resource>();
  readonly wireguard = new Map<string, WireguardInfo>();
  /** Felix configuration: global values and per-host overrides (Calico's config keys). */
  readonly globalConfig = new Map<string, string>();
  readonly hostConfig = new Map<string, Map<string, string>>();
  /** Services by "<namespace>/<name>" and EndpointSlices by key (per-Service advertisement). */
  readonly services = new Map<string, ServiceInfo>();
  readonly endpointSlices = new Map<string, SliceInfo>();
  /** "<namespace>/<service>" → its slices. */
  readonly slicesByService = new Map<string, SliceInfo[]>();

  apply(kvs: readonly KV[]): RoutingUpdate {
    const changed = new Set<RoutingAspect>();
    const invalid: string[] = [];
    for (const { key, value } of kvs) {
      const aspect = this.applyOne(key, value);
      if (aspect === 'invalid') invalid.push(key);
      else if (aspect !== undefined) changed.add(aspect);
    }
    return { changed, invalid };
  }

  /** A Felix config value for a node: the host override, else the global one. */
  config(name: string, node: string): string | undefined {
    return this.hostConfig.get(node)?.get(name) ?? this.globalConfig.get(name);
  }

  /** The node's confirmed, not deleted block affinities (what BIRD aggregates and exports). */
  confirmedBlocks(node: string): string[] {
    const out: string[] = [];
    for (const a of this.affinities.get(node)?.values() ?? [])
      if (a.state === 'confirmed' && !a.deleted) out.push(a.cidr);
    return out.sort();
  }

  /** The blocks affine to a node, from the IPAM blocks themselves (the felix stream's view). */
  blocksOf(node: string): BlockInfo[] {
    return [...this.blocks.values()]
      .filter((b) => b.node === node)
      .sort((a, b) => (a.cidr < b.cidr ? -1 : 1));
  }

  private applyOne(key: string, value: JsonValue): RoutingAspect | 'invalid' | undefined {
    const kind = keyKind(key);
    const del = value === null;
    const parsed = <T>(
      map: Map<string, T>,
      id: string,
      parse: (v: Obj) => T | undefined,
      aspect: RoutingAspect,
    ) => {
      if (del) return map.delete(id) ? aspect : undefined;
      const p = isObj(value) ? parse(value) : undefined;
      if (p === undefined) {
        map.delete(id);
        return 'invalid' as const;
      }
      map.set(id, p);
      return aspect;
    };
    switch (kind) {
      case 'node':
        return parsed(this.nodes, lastSegment(key), parseNode, 'nodes');
      case 'ipPool':
        return parsed(this.pools, lastSegment(key), parsePool, 'pools');
      case 'ipamBlock':
        return parsed(this.blocks, lastSegment(key), parseBlock, 'blocks');
      case 'bgpConfiguration':
        return parsed(this.bgpConfigurations, lastSegment(key), parseV3, 'bgp');
      case 'bgpPeer':
        return parsed(this.bgpPeers, lastSegment(key), parseV3, 'bgp');
      case 'bgpFilter':
        return parsed(this.bgpFilters, lastSegment(key), parseV3, 'bgp');
      case 'blockAffinity': {
        // /calico/ipam/v2/host/<node>/ipv4/block/<cidr>
        const seg = segments(key);
        const node = seg[5]!;
        const cidr = seg[8]!.replace(/-(\d+)$/, '/$1');
        let m = this.affinities.get(node);
        if (del) {
          if (!m?.delete(cidr)) return undefined;
          if (m.size === 0) this.affinities.delete(node);
          return 'affinities';
        }
        if (!isObj(value) || typeof value['state'] !== 'string') return 'invalid';
        if (m === undefined) {
          m = new Map();
          this.affinities.set(node, m);
        }
        m.set(cidr, { node, cidr, state: value['state'], deleted: value['deleted'] === true });
        return 'affinities';
      }
      case 'wireguard': {
        const node = segments(key)[4]!;
        return parsed(
          this.wireguard,
          node,
          (v) => ({
            node,
            publicKey: str(v['publicKey']),
            interfaceIPv4Address: str(v['interfaceIPv4Address']),
          }),
          'wireguard',
        );
      }
      case 'globalConfig':
      case 'hostConfig': {
        const seg = segments(key);
        const map =
          kind === 'globalConfig'
            ? this.globalConfig
            : (this.hostConfig.get(seg[4]!) ?? this.hostConfig.set(seg[4]!, new Map()).get(seg[4]!)!);
        const name = seg[seg.length - 1]!;
        if (del) return map.delete(name) ? 'config' : undefined;
        if (typeof value !== 'string') return 'invalid';
        map.set(name, value);
        return 'config';
      }
      case 'service': {
        const seg = segments(key);
        return parsed(this.services, `${seg.at(-2)}/${seg.at(-1)}`, parseService, 'services');
      }
      case 'endpointSlice': {
        const old = this.endpointSlices.get(key);
        const aspect = parsed(
          this.endpointSlices,
          key,
          (v) => parseSlice(segments(key).at(-2)!, v),
          'services',
        );
        const now = this.endpointSlices.get(key);
        if (old !== now) {
          if (old !== undefined) this.unindexSlice(old);
          if (now !== undefined) {
            const list = this.slicesByService.get(now.service);
            if (list === undefined) this.slicesByService.set(now.service, [now]);
            else list.push(now);
          }
        }
        return aspect;
      }
      default:
        return undefined;
    }
  }

  private unindexSlice(slice: SliceInfo): void {
    const list = this.slicesByService.get(slice.service)?.filter((s) => s !== slice) ?? [];
    if (list.length === 0) this.slicesByService.delete(slice.service);
    else this.slicesByService.set(slice.service, list);
  }
}
