// One node's BGP model (router id, AS, mesh and explicit peers, exports and kernel filter
// inputs) from the routing state, after confd's bgp_processor.go and the bird*.cfg templates.
// Pure: the same state and node always give an equal model, sorted so that it renders to
// byte-identical text. Problems that Calico only logs (a missing secret, a selector that
// matches nothing) become `warnings`; they never throw.

import { createHash } from 'node:crypto';
import {
  cidrList,
  communityAdvertisements,
  configsFor,
  durationSeconds,
  num,
  secretRef,
  str,
} from './bgp-config.js';
import { applyFilters } from './bgp-filters.js';
import { bgpIpv4, explicitPeers, peerName } from './bgp-peers.js';
import {
  type BgpExports,
  type BgpModel,
  type BgpOptions,
  type BgpPeerModel,
  type BgpUnavailable,
  type BgpWarning,
  DEFAULT_ASN,
  DEFAULT_NORMAL_ROUTE_PRIORITY,
  MESH_SOURCE,
  type PoolFilter,
} from './bgp-types.js';
import { serviceAddressRoutes } from './services.js';
import type { NodeInfo, PoolInfo, RoutingState, V3Resource } from './state.js';

export type * from './bgp-types.js';
export { DEFAULT_ASN, DEFAULT_NORMAL_ROUTE_PRIORITY, MESH_SOURCE } from './bgp-types.js';

const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

/** Calico's CALICO_ROUTER_ID=hash: the first four bytes of SHA-256(node name), kept unicast. */
export function hashRouterId(node: string): string {
  const b = createHash('sha256').update(node).digest();
  return [b[0]! > 223 ? b[0]! - 32 : b[0]!, b[1]!, b[2]!, b[3]!].join('.');
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The listen port of a node: its `node.<name>` BGPConfiguration, else undefined. */
function nodeListenPort(state: RoutingState, node: string): number | undefined {
  return num(state.bgpConfigurations.get(`node.${node}`)?.spec['listenPort']);
}

/** Node-to-node mesh sessions: every other BGP node that is not a route reflector. */
function meshPeers(
  state: RoutingState,
  self: NodeInfo,
  nodeIp: string,
  asNumber: number,
  global: V3Resource | undefined,
  globalAs: number,
  globalPort: number | undefined,
): BgpPeerModel[] {
  const password = secretRef(global?.spec['nodeMeshPassword']);
  const restartSeconds = durationSeconds(global?.spec['nodeMeshMaxRestartTime']);
  const out: BgpPeerModel[] = [];
  for (const n of state.nodes.values()) {
    const ip = bgpIpv4(n);
    if (ip === undefined || ip === nodeIp || n.name === self.name || n.routeReflectorClusterId) continue;
    const port = nodeListenPort(state, n.name) ?? globalPort;
    const peerAs = n.asNumber ?? globalAs;
    out.push({
      name: peerName('Mesh', ip, undefined),
      kind: 'mesh',
      ip,
      port,
      asNumber: peerAs,
      ibgp: peerAs === asNumber,
      sourceAddress: nodeIp,
      // One side connects: the peer with the (string-)greater address waits for us.
      passive: ip > nodeIp,
      restartSeconds,
      password,
      peerNode: n.name,
      sources: [MESH_SOURCE],
    });
  }
  return out;
}

/**
 * Service ranges (BGPConfiguration default) as confd's route generator handles them globally,
 * plus the /32s of the Services this node advertises itself (services.ts).
 */
function serviceExports(
  state: RoutingState,
  global: V3Resource | undefined,
  self: NodeInfo,
  reflector: boolean,
) {
  const spec = global?.spec;
  const notSingle = (c: string) => !c.endsWith('/32');
  const cluster = cidrList(spec, 'serviceClusterIPs');
  const external = cidrList(spec, 'serviceExternalIPs');
  const lb = cidrList(spec, 'serviceLoadBalancerIPs');
  const aggregate = str(spec?.['serviceLoadBalancerAggregation']) !== 'Disabled';
  // Single addresses are per-service (/32 where a local endpoint exists): not global routes.
  const ranges = [...cluster, ...external.filter(notSingle), ...(aggregate ? lb.filter(notSingle) : [])];
  const uniq = (xs: string[]) => [...new Set(xs)].sort();
  const excluded = self.labels[EXCLUDE_LABEL] === 'true';
  const single = excluded
    ? []
    : serviceAddressRoutes(state.services, state.slicesByService, self.name, {
        clusterIPs: cluster,
        externalIPs: external,
        loadBalancerIPs: lb,
        aggregateLoadBalancers: aggregate,
      });
  return {
    serviceRoutes: excluded ? [] : uniq([...ranges, ...single]),
    // Advertised, never programmed: BIRD's own blackholes for them must stay out of the kernel.
    serviceRejects: uniq([...ranges, ...single]),
    reflectedServiceRanges: reflector ? uniq([...lb, ...external]) : [],
  };
}

/** Export and kernel-programming treatment of each pool (confd processIPPool, default policy). */
function poolFilters(
  pools: Iterable<PoolInfo>,
  program: string | undefined,
  warnings: BgpWarning[],
): PoolFilter[] {
  // programClusterRoutes (default EnabledNoEncapOnly): which unencapsulated/IPIP pools BIRD
  // writes to the kernel. IPIP needs Calico's BIRD fork (krt_tunnel); upstream BIRD cannot.
  const noEncap = program === undefined || program === 'EnabledNoEncapOnly' || program === 'Enabled';
  const ipipWanted = program === 'Enabled' || program === 'EnabledIPIPOnly';
  const out: PoolFilter[] = [];
  for (const p of pools) {
    if (p.net.version !== 4) continue;
    const exportAction = p.disableBGPExport ? 'reject' : 'accept';
    let kernelAction: 'accept' | 'reject' = 'reject';
    let reason: string | undefined;
    if (p.vxlanMode !== 'Never') reason = 'VXLAN routes are handled by Felix';
    else if (p.ipipMode !== 'Never') {
      reason = 'IPIP routes are handled by the agent';
      if (ipipWanted)
        warnings.push({
          code: 'ipip-needs-calico-bird',
          resource: `IPPool/${p.name}`,
          message: `programClusterRoutes asks BIRD to program IPIP pool ${p.cidr}; upstream BIRD 2 cannot route into tunl0, so the agent programs it`,
        });
    } else if (noEncap) kernelAction = 'accept';
    else reason = 'cluster routes are handled by the agent';
    out.push({ cidr: p.cidr, exportAction, kernelAction, reason });
  }
  return out.sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
}

function exportsFor(
  state: RoutingState,
  self: NodeInfo,
  nodeIp: string,
  global: V3Resource | undefined,
  perNode: V3Resource | undefined,
  warnings: BgpWarning[],
): BgpExports {
  const borrowed: string[] = [];
  for (const b of state.blocks.values())
    for (const a of b.borrowed) if (a.node === self.name && !a.ip.includes(':')) borrowed.push(`${a.ip}/32`);
  // prefixAdvertisements: the node's own configuration replaces the default one entirely.
  const adsFrom = perNode?.spec['prefixAdvertisements'] !== undefined ? perNode : global;
  // A node running WireGuard lets Felix route to WireGuard peers: BIRD must not program them.
  const wgAddr = (n: string) => state.wireguard.get(n)?.interfaceIPv4Address;
  const kernelRejectNextHops: string[] = [];
  if (wgAddr(self.name))
    for (const n of state.nodes.values()) {
      const ip = bgpIpv4(n);
      if (n.name !== self.name && ip !== undefined && ip !== nodeIp && wgAddr(n.name))
        kernelRejectNextHops.push(ip);
    }
  const program = str(global?.spec['programClusterRoutes']);
  const birdIpip = program === 'Enabled' || program === 'EnabledIPIPOnly';
  return {
    blocks: state.confirmedBlocks(self.name).filter((c) => !c.includes(':')),
    borrowed: [...new Set(borrowed)].sort(),
    ...serviceExports(state, global, self, self.routeReflectorClusterId !== undefined),
    pools: poolFilters(state.pools.values(), program, warnings),
    communities: adsFrom ? communityAdvertisements(adsFrom, warnings) : [],
    // Felix's own tunnel routes (and tunl0 unless BIRD owned IPIP) never go to iBGP peers.
    ibgpRejectInterfaces: birdIpip ? ['*.cali', '*.calico'] : ['*.cali', '*.calico', 'tunl0'],
    kernelRejectNextHops: kernelRejectNextHops.sort(),
    normalRoutePriority: num(global?.spec['ipv4NormalRoutePriority']) ?? DEFAULT_NORMAL_ROUTE_PRIORITY,
  };
}

function debugMode(level: string | undefined): BgpModel['debug'] {
  const l = level?.toLowerCase();
  if (l === 'debug') return 'all';
  if (l === undefined || l === 'info') return 'states';
  return 'none';
}

/** The BGP model of `node`, or why it has none (unknown node, no BGP IPv4 address). */
export function computeBgp(
  state: RoutingState,
  node: string,
  opts: BgpOptions = {},
): BgpModel | BgpUnavailable {
  const warnings: BgpWarning[] = [];
  const self = state.nodes.get(node);
  if (self === undefined)
    return {
      available: false,
      node,
      reason: 'node-unknown',
      message: `node ${node} is not in the datastore`,
      warnings,
    };
  const nodeIp = bgpIpv4(self);
  if (nodeIp === undefined)
    return {
      available: false,
      node,
      reason: 'no-ipv4',
      message: `node ${node} has no BGP IPv4 address (spec.bgp.ipv4Address): IPv4 BGP disabled on this node`,
      warnings,
    };
  const { global, perNode } = configsFor(state.bgpConfigurations, node);
  const globalAs = num(global?.spec['asNumber']) ?? DEFAULT_ASN;
  const asNumber = self.asNumber ?? globalAs;
  const asSource =
    self.asNumber !== undefined
      ? 'node'
      : global?.spec['asNumber'] !== undefined
        ? 'bgpconfiguration'
        : 'default';
  const globalPort = num(global?.spec['listenPort']);
  const listenPort = num(perNode?.spec['listenPort']) ?? globalPort;
  const meshEnabled = global?.spec['nodeToNodeMeshEnabled'] !== false;
  const clusterId = self.routeReflectorClusterId;
  const mesh =
    meshEnabled && clusterId === undefined
      ? meshPeers(state, self, nodeIp, asNumber, global, globalAs, globalPort)
      : [];
  const explicit = explicitPeers({
    state,
    node: self,
    nodeIp,
    asNumber,
    globalAsNumber: globalAs,
    clusterId,
    globalListenPort: globalPort,
    listenPortOf: (n) => nodeListenPort(state, n),
    warnings,
  });
  const routerId = opts.routerId === 'hash' ? hashRouterId(node) : opts.routerId ? opts.routerId : nodeIp;
  const ignored = global?.spec['ignoredInterfaces'];
  const filtered = applyFilters([...mesh, ...explicit].sort(byName), state.bgpFilters, warnings);
  return {
    available: true,
    node,
    routerId,
    nodeIp,
    asNumber,
    asSource,
    routeReflectorClusterId: clusterId,
    meshEnabled,
    listenPort,
    listenAddress: str(global?.spec['bindMode']) === 'NodeIP' ? nodeIp : undefined,
    debug: debugMode(str(perNode?.spec['logSeverityScreen']) ?? str(global?.spec['logSeverityScreen'])),
    ignoredInterfaces: Array.isArray(ignored) ? ignored.filter((i) => typeof i === 'string').sort() : [],
    peers: filtered.peers,
    filters: filtered.filters,
    exports: exportsFor(state, self, nodeIp, global, perNode, warnings),
    warnings,
  };
}
