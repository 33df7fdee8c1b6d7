// The typed BGP view of one node: what confd's BirdBGPConfig holds for BIRD, computed from
// the routing state (bgp.ts) and turned into BIRD 2 text by agent/dataplane/bird/render.ts.
// Everything is already sorted, so equal models render to byte-identical text.

/** A Kubernetes secret key holding a BGP password; the agent resolves it from mounted files. */
export interface SecretRef {
  readonly name: string;
  readonly key: string;
}

/** Mesh_ (node-to-node mesh), Global_ (BGPPeer without node/nodeSelector), Node_ (the rest). */
export type BgpPeerKind = 'mesh' | 'global' | 'node';

export interface BgpPeerModel {
  /** The BIRD protocol name, e.g. `Mesh_10_0_1_11`, `Node_10_0_1_1_port_1790`. */
  readonly name: string;
  readonly kind: BgpPeerKind;
  readonly ip: string;
  readonly port?: number;
  readonly asNumber: number;
  /** BGPPeer.localASNumber: this session's local AS instead of the node's. */
  readonly localAsNumber?: number;
  /** Peer AS equals the effective local AS (iBGP); drives the export function and RR client. */
  readonly ibgp: boolean;
  readonly sourceAddress?: string;
  readonly passive: boolean;
  /** TTL security hop count; undefined = `ttl security off` with plain multihop. */
  readonly ttlSecurityHops?: number;
  readonly keepaliveSeconds?: number;
  /** BIRD `graceful restart time` (BGPPeer maxRestartTime / nodeMeshMaxRestartTime). */
  readonly restartSeconds?: number;
  /** Set when this node is a reflector and the peer is an iBGP client of it. */
  readonly rrClusterId?: string;
  readonly nextHop?: 'self' | 'keep';
  readonly allowLocalAs?: number;
  readonly password?: SecretRef;
  /** BGPPeer.reachableBy: a static /32 to the peer through this gateway. */
  readonly reachableBy?: string;
  /** The node behind this address when the peer is a cluster node. */
  readonly peerNode?: string;
  /** The BGPPeer resources (or `node-to-node-mesh`) this session comes from, for status/explain. */
  readonly sources: readonly string[];
  /** BGPPeer.filters as written (names, in order). */
  readonly filterNames?: readonly string[];
  /** The existing filters with IPv4 import (export) rules, in order: called before the rest. */
  readonly importFilters?: readonly string[];
  readonly exportFilters?: readonly string[];
}

export type BgpFilterOperation =
  | { readonly kind: 'addCommunity'; readonly value: string }
  | { readonly kind: 'prependASPath'; readonly prefix: readonly number[] }
  | { readonly kind: 'setPriority'; readonly value: number };

/** One BGPFilter rule: every condition set must hold; then the operations, then the action. */
export interface BgpFilterRule {
  readonly action: 'accept' | 'reject';
  /** Masked CIDR, with its operator (and, for In/NotIn, an optional prefix length range). */
  readonly cidr?: string;
  readonly operator?: 'Equal' | 'NotEqual' | 'In' | 'NotIn';
  readonly prefixLength?: readonly [number, number];
  /** RemotePeers: routes learned over BGP. */
  readonly source?: 'RemotePeers';
  readonly interface?: string;
  /** The rule applies to sessions of this type only (iBGP: same AS). */
  readonly peerType?: 'eBGP' | 'iBGP';
  /** "a:b" or "a:b:c" values the route must all carry. */
  readonly communities: readonly string[];
  readonly asPathPrefix: readonly number[];
  /** Matches routes of this priority (carried in local_pref). */
  readonly priority?: number;
  readonly operations: readonly BgpFilterOperation[];
}

/** A BGPFilter's IPv4 rules (the renderer drives an IPv4 BIRD). */
export interface BgpFilterModel {
  readonly name: string;
  readonly import: readonly BgpFilterRule[];
  readonly export: readonly BgpFilterRule[];
}

export interface CommunityAdvertisement {
  readonly cidr: string;
  /** "a:b" values. */
  readonly standard: readonly (readonly [number, number])[];
  /** "a:b:c" values. */
  readonly large: readonly (readonly [number, number, number])[];
}

/** How one pool appears in the export and kernel filters. */
export interface PoolFilter {
  readonly cidr: string;
  /** reject = disableBGPExport; accept = routes inside it may be exported. */
  readonly exportAction: 'accept' | 'reject';
  /** reject = someone else (Felix/VXLAN, IPIP tunnels) programs this pool's routes. */
  readonly kernelAction: 'accept' | 'reject';
  readonly reason?: string;
}

export interface BgpExports {
  /**
   * Confirmed block affinities, aggregated (more-specifics held back); all but /32s are also
   * blackholed locally (confd bird_aggr.cfg: a /32 block is its one address, not a summary).
   */
  readonly blocks: readonly string[];
  /** Addresses of other nodes' blocks used by this node's workloads (exported via kernel learn). */
  readonly borrowed: readonly string[];
  /** Service ranges this node advertises (static blackholes + accept). */
  readonly serviceRoutes: readonly string[];
  /** Service ranges never programmed into the kernel from BGP. */
  readonly serviceRejects: readonly string[];
  /** LoadBalancer/external ranges a reflector accepts from its clients to re-advertise. */
  readonly reflectedServiceRanges: readonly string[];
  readonly pools: readonly PoolFilter[];
  readonly communities: readonly CommunityAdvertisement[];
  /** Interface patterns of Felix tunnel routes never exported over iBGP. */
  readonly ibgpRejectInterfaces: readonly string[];
  /** Next hops (WireGuard peers' node IPs) whose routes Felix programs, not BIRD. */
  readonly kernelRejectNextHops: readonly string[];
  /** BGPConfiguration ipv4NormalRoutePriority (default 1024). */
  readonly normalRoutePriority: number;
}

export type BgpWarningCode =
  | 'secret-missing'
  | 'peer-selector-empty'
  | 'node-selector-invalid'
  | 'peer-invalid'
  | 'peer-ipv6-unsupported'
  | 'community-undefined'
  | 'ipip-needs-calico-bird'
  | 'bgpconfig-invalid'
  | 'bgp-filter-missing'
  | 'bgp-filter-invalid';

export interface BgpWarning {
  readonly code: BgpWarningCode;
  /** The resource the warning is about, e.g. `BGPPeer/rack1-tor`. */
  readonly resource?: string;
  readonly message: string;
}

export interface BgpModel {
  readonly available: true;
  readonly node: string;
  readonly routerId: string;
  readonly nodeIp: string;
  readonly asNumber: number;
  /** Where asNumber came from (for status output and the lint stage). */
  readonly asSource: 'node' | 'bgpconfiguration' | 'default';
  readonly routeReflectorClusterId?: string;
  readonly meshEnabled: boolean;
  readonly listenPort?: number;
  /** bindMode NodeIP: listen on the node IP only. */
  readonly listenAddress?: string;
  /** `states` (Calico's default), `all` (debug), or none. */
  readonly debug: 'states' | 'all' | 'none';
  /** BGPConfiguration ignoredInterfaces, excluded from `protocol direct`. */
  readonly ignoredInterfaces: readonly string[];
  /** Sorted by name. */
  readonly peers: readonly BgpPeerModel[];
  /** The BGPFilters the peers use, sorted by name. */
  readonly filters: readonly BgpFilterModel[];
  readonly exports: BgpExports;
  readonly warnings: readonly BgpWarning[];
}

export interface BgpUnavailable {
  readonly available: false;
  readonly node: string;
  readonly reason: 'node-unknown' | 'no-ipv4';
  readonly message: string;
  readonly warnings: readonly BgpWarning[];
}

export interface BgpOptions {
  /** CALICO_ROUTER_ID: an IPv4 address, or `hash` (from the node name, as Calico does). */
  readonly routerId?: string;
}

/** Calico's default AS when neither the node nor BGPConfiguration sets one. */
export const DEFAULT_ASN = 64512;
export const DEFAULT_NORMAL_ROUTE_PRIORITY = 1024;
export const MESH_SOURCE = 'node-to-node-mesh';
