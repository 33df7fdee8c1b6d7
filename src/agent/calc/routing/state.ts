// The routing view of the KV model: nodes (address, ASN, reflector cluster, WireGuard key),
// IP pools, IPAM blocks and affinities, BGP configuration and peers, Felix configuration,
// Services and EndpointSlices.
// Both streams feed it (the bgp stream for BIRD, the felix stream for routes and
// WireGuard); each consumer reads only what its stream carries. A value that does not
// parse is dropped (treated as deleted) and reported, as the policy calculation does.

import { keyKind } from '../../../model/keys.js';
import type { JsonValue, KV } from '../../../model/types.js';
import { BadValue } from '../../../model/values/read.js';
import {
  type AffinityInfo,
  type BlockInfo,
  type NodeInfo,
  type PoolInfo,
  parseAffinity,
  parseBlock,
  parseNode,
  parsePool,
  parseV3,
  parseWireguard,
  type V3Resource,
  type WireguardInfo,
} from '../../../model/values/routing.js';
import {
  type EndpointSliceValue,
  parseEndpointSlice,
  parseService,
  type ServiceValue,
} from '../../../model/values/service.js';

export type {
  AffinityInfo,
  BlockInfo,
  BorrowedAddress,
  EncapMode,
  NodeInfo,
  PoolInfo,
  V3Resource,
  WireguardInfo,
} from '../../../model/values/routing.js';

type Obj = { readonly [k: string]: JsonValue };
const isObj = (v: JsonValue | undefined): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

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

const lastSegment = (key: string): string => decodeURIComponent(key.slice(key.lastIndexOf('/') + 1));
/** The decoded path segments of a key. */
const segments = (key: string): string[] => key.split('/').map((s) => decodeURIComponent(s));

/** A model parser's view of a value, or undefined when the value does not parse. */
function checked<T>(parse: (key: string, raw: JsonValue) => T, key: string, raw: JsonValue): T | undefined {
  try {
    return parse(key, raw);
  } catch (err) {
    if (err instanceof BadValue) return undefined;
    throw err;
  }
}

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
  readonly services = new Map<string, ServiceValue>();
  readonly endpointSlices = new Map<string, EndpointSliceValue>();
  /** "<namespace>/<service>" → its slices (a slice of no Service is in none). */
  readonly slicesByService = new Map<string, EndpointSliceValue[]>();

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
        const affinity = parseAffinity(node, cidr, value);
        if (affinity === undefined) return 'invalid';
        if (m === undefined) {
          m = new Map();
          this.affinities.set(node, m);
        }
        m.set(cidr, affinity);
        return 'affinities';
      }
      case 'wireguard': {
        const node = segments(key)[4]!;
        return parsed(this.wireguard, node, (v) => parseWireguard(node, v), 'wireguard');
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
        return parsed(
          this.services,
          `${seg.at(-2)}/${seg.at(-1)}`,
          (v) => checked(parseService, key, v),
          'services',
        );
      }
      case 'endpointSlice': {
        const old = this.endpointSlices.get(key);
        const aspect = parsed(
          this.endpointSlices,
          key,
          (v) => checked(parseEndpointSlice, key, v),
          'services',
        );
        const now = this.endpointSlices.get(key);
        if (old !== now) {
          if (old?.service !== undefined) this.unindexSlice(old, old.service);
          if (now?.service !== undefined) {
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

  private unindexSlice(slice: EndpointSliceValue, service: string): void {
    const list = this.slicesByService.get(service)?.filter((s) => s !== slice) ?? [];
    if (list.length === 0) this.slicesByService.delete(service);
    else this.slicesByService.set(service, list);
  }
}
