// The routes a node needs from IPAM, after Felix's route resolution (l3_route_resolver): its
// own affine blocks are blackholed (an unallocated address in our block must not leak to the
// default route), other nodes' blocks go to those nodes, and an address borrowed from a block
// by a node other than the block's owner becomes a /32 to the borrower (longest prefix wins).
// The pool's encapsulation decides the next hop: IPIP (via node IP dev tunl0 onlink), VXLAN
// (via the node's VTEP address dev vxlan.calico onlink) or plain (via node IP).
//
// Ownership (who writes which route to the kernel), after Calico's cluster-route split
// (design/cluster-route-programming: Felix owns VXLAN and, by default, IPIP; BIRD owns the
// unencapsulated pools), decided per pool so that no CIDR ever has two writers:
// - encapsulated pools (ipipMode or vxlanMode not Never): always the agent — blackholes,
//   tunnel routes, same-subnet CrossSubnet routes and borrowed /32s. Upstream BIRD 2 cannot
//   send a route into tunl0 (Calico's `krt_tunnel` is a BIRD fork feature), so BIRD never
//   owns IPIP here, whatever BGPConfiguration says;
// - unencapsulated pools, mode 'bgp': BIRD — its static protocol blackholes the node's own
//   blocks and it learns the others (and borrowed /32s) over BGP; the agent writes none of
//   them. Exactly when BGPConfiguration "default" programClusterRoutes keeps them away from
//   BIRD (Disabled, EnabledIPIPOnly or an unknown value: the complement of the BIRD
//   renderer's kernel filter in bgp.ts), the agent writes them, so one of the two always does;
// - unencapsulated pools, mode 'direct' (no BGP, flannel host-gw-like): the agent writes them
//   all; a next hop outside this node's subnet is not directly reachable, so such a route is
//   reported as a warning instead of being written.

import { cidrContains, compareCidr, parseNet } from '../../../model/net/cidr.js';
import { parseIp } from '../../../model/net/ip.js';
import type { BlockInfo, EncapMode, NodeInfo, PoolInfo, RoutingState } from './state.js';

export type RouteMode = 'bgp' | 'direct';
export type RouteType = 'unicast' | 'blackhole' | 'throw';

export interface DesiredRoute {
  /** Destination CIDR in canonical form ("10.244.1.0/26", "10.244.1.7/32"). */
  readonly dst: string;
  readonly type: RouteType;
  readonly via?: string;
  readonly dev?: string;
  readonly onlink?: boolean;
  /** Why the route exists, for logs ("block 10.244.1.0/26 of node b (IPIP)"). */
  readonly reason: string;
}

export interface RouteWarning {
  readonly dst: string;
  readonly node?: string;
  readonly message: string;
}

export interface RouteOptions {
  readonly mode: RouteMode;
  /**
   * This node's workloads: IPv4 address → host-side interface. When given, each gets a /32
   * `dev <iface>` route, so that an address this node borrowed from another node's block is
   * delivered locally instead of following the lender's block route.
   */
  readonly localWorkloads?: ReadonlyMap<string, string>;
  /** Default "tunl0". */
  readonly ipipDevice?: string;
  /** Default "vxlan.calico". */
  readonly vxlanDevice?: string;
}

export interface RoutePlan {
  /** What the agent programs, sorted by destination. */
  readonly routes: readonly DesiredRoute[];
  /** Routes that cannot be made (unknown node address, off-subnet next hop in direct mode, …). */
  readonly warnings: readonly RouteWarning[];
  /** Destinations whose routes BIRD owns in bgp mode (not programmed by the agent). */
  readonly leftToBgp: readonly string[];
}

/**
 * True when BIRD writes the unencapsulated pools' routes to the kernel: BGPConfiguration
 * `programClusterRoutes` unset (default EnabledNoEncapOnly), EnabledNoEncapOnly or Enabled.
 */
export function birdOwnsNoEncap(state: RoutingState): boolean {
  const v = state.bgpConfigurations.get('default')?.spec['programClusterRoutes'];
  return v === undefined || v === null || v === '' || v === 'EnabledNoEncapOnly' || v === 'Enabled';
}

const encapsulated = (p: PoolInfo | undefined): boolean =>
  p !== undefined && (p.ipipMode !== 'Never' || p.vxlanMode !== 'Never');

const encapFor = (mode: EncapMode, sameSubnet: boolean): boolean =>
  mode === 'Always' || (mode === 'CrossSubnet' && !sameSubnet);

/** The routes this node's agent programs, with the reasons it could not program others. */
export function planRoutes(state: RoutingState, node: string, opts: RouteOptions): RoutePlan {
  return new Planner(state, node, opts).plan();
}

/** The routes this node's agent programs (see planRoutes for the warnings). */
export function computeRoutes(state: RoutingState, node: string, opts: RouteOptions): DesiredRoute[] {
  return [...planRoutes(state, node, opts).routes];
}

class Planner {
  private readonly routes = new Map<string, DesiredRoute>();
  private readonly warnings: RouteWarning[] = [];
  private readonly leftToBgp: string[] = [];
  private readonly local: NodeInfo | undefined;
  private readonly localSubnet;
  private readonly agentOwnsNoEncap: boolean;
  private readonly pools: PoolInfo[];

  constructor(
    private readonly state: RoutingState,
    private readonly node: string,
    private readonly opts: RouteOptions,
  ) {
    this.local = state.nodes.get(node);
    const cidr = this.local?.ipv4Cidr;
    // A bare address gives no subnet: every peer then counts as off-subnet (encapsulate, or
    // unroutable in direct mode), the safe reading.
    this.localSubnet = cidr?.includes('/') ? parseNet(cidr) : undefined;
    this.agentOwnsNoEncap = opts.mode === 'direct' || !birdOwnsNoEncap(state);
    // Longest pool prefix first, so a block finds its most specific pool.
    this.pools = [...state.pools.values()]
      .filter((p) => p.net.version === 4)
      .sort((a, b) => b.net.prefix - a.net.prefix);
  }

  plan(): RoutePlan {
    for (const block of [...this.state.blocks.values()].sort((a, b) => (a.cidr < b.cidr ? -1 : 1)))
      this.block(block);
    for (const [ip, dev] of this.opts.localWorkloads ?? []) {
      if (parseIp(ip, 'lenient')?.version !== 4) continue;
      this.routes.set(`${ip}/32`, { dst: `${ip}/32`, type: 'unicast', dev, reason: 'local workload' });
    }
    const routes = [...this.routes.values()].sort((a, b) => compareDst(a.dst, b.dst));
    return { routes, warnings: this.warnings, leftToBgp: this.leftToBgp.sort(compareDst) };
  }

  private poolOf(block: BlockInfo): PoolInfo | undefined {
    return this.pools.find((p) => p.net.prefix <= block.net.prefix && cidrContains(p.net, block.net));
  }

  private block(block: BlockInfo): void {
    if (block.net.version !== 4) {
      this.warnings.push({ dst: block.cidr, message: 'IPv6 blocks are not routed by this agent yet' });
      return;
    }
    const pool = this.poolOf(block);
    const agentOwns = encapsulated(pool) || this.agentOwnsNoEncap;
    const poolText = pool ? `pool ${pool.name}` : 'no pool';
    if (block.node === this.node) {
      if (agentOwns)
        this.routes.set(block.cidr, {
          dst: block.cidr,
          type: 'blackhole',
          reason: `own block (${poolText}): unallocated addresses go nowhere`,
        });
      else this.leftToBgp.push(block.cidr);
    } else if (block.node !== undefined) {
      this.remote(block.cidr, block.node, pool, agentOwns, `block of node ${block.node} (${poolText})`);
    }
    for (const b of block.borrowed) {
      const dst = `${b.ip}/32`;
      // Our own borrowed address is local: the workload's /32 (localWorkloads or the CNI) serves it.
      if (b.node === this.node) continue;
      this.remote(dst, b.node, pool, agentOwns, `address borrowed by node ${b.node} from ${block.cidr}`);
    }
  }

  private remote(
    dst: string,
    peerName: string,
    pool: PoolInfo | undefined,
    agentOwns: boolean,
    why: string,
  ): void {
    if (!agentOwns) {
      // BIRD learns it over BGP; nothing for us to check or write.
      this.leftToBgp.push(dst);
      return;
    }
    const peer = this.state.nodes.get(peerName);
    const peerIp = peer?.ipv4 === undefined ? undefined : parseIp(peer.ipv4, 'lenient');
    if (peer?.ipv4 === undefined || peerIp === undefined) {
      this.warnings.push({ dst, node: peerName, message: `no IPv4 address known for node ${peerName}` });
      return;
    }
    const sameSubnet = this.localSubnet !== undefined && cidrContains(this.localSubnet, peerIp);
    if (pool !== undefined && encapFor(pool.vxlanMode, sameSubnet)) {
      const vtep = this.state.hostConfig.get(peerName)?.get('IPv4VXLANTunnelAddr');
      if (vtep === undefined) {
        this.warnings.push({
          dst,
          node: peerName,
          message: `node ${peerName} has no VXLAN tunnel address yet`,
        });
        return;
      }
      const dev = this.opts.vxlanDevice ?? 'vxlan.calico';
      this.routes.set(dst, { dst, type: 'unicast', via: vtep, dev, onlink: true, reason: `${why}, VXLAN` });
    } else if (pool !== undefined && encapFor(pool.ipipMode, sameSubnet)) {
      const dev = this.opts.ipipDevice ?? 'tunl0';
      this.routes.set(dst, {
        dst,
        type: 'unicast',
        via: peer.ipv4,
        dev,
        onlink: true,
        reason: `${why}, IPIP`,
      });
    } else if (sameSubnet) {
      this.routes.set(dst, { dst, type: 'unicast', via: peer.ipv4, reason: `${why}, same subnet` });
    } else {
      this.warnings.push({
        dst,
        node: peerName,
        message:
          `unroutable: node ${peerName} (${peer.ipv4}) is outside this node's subnet ` +
          `(${this.local?.ipv4Cidr ?? 'unknown'}) and the pool does not encapsulate`,
      });
    }
  }
}

/** Orders CIDRs by address, then prefix length, so plans and logs read in address order. */
function compareDst(a: string, b: string): number {
  const ca = parseNet(a);
  const cb = parseNet(b);
  if (ca === undefined || cb === undefined) return a < b ? -1 : a > b ? 1 : 0;
  return compareCidr(ca, cb);
}
