// BGP rules: a BGPPeer's asNumber against what the target is known to use (the seeds'
// $180,000 incident), a node peering with itself, a BGPFilter a BGPPeer names but that does
// not exist, and the node-to-node mesh at scale.
// Semantics follow Calico's confd: a Calico node's ASN is its Node spec.bgp.asNumber, else
// the default BGPConfiguration's asNumber, else 64512; peerSelector peerings take the ASN
// from the selected node (and cannot set asNumber); a node skips a peer at its own address.

import { parseSelector } from '../../model/selector/index.js';
import type { NodeInfo, V3Resource } from '../../model/values/routing.js';
import { type Finding, nameList, resourceRef } from '../finding.js';
import type { ResolvedLintOptions } from '../options.js';
import type { RoutingValues } from '../view.js';

export const DEFAULT_ASN = 64512;

const peerRef = (p: V3Resource): string => resourceRef('BGPPeer', undefined, p.name);
const nodeRef = (n: NodeInfo): string => resourceRef('Node', undefined, n.name);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const asn = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** "ip", "ip:port" or "[v6]:port" → address and port (179 when absent). */
export function splitPeerIp(peerIP: string): { ip: string; port: number } {
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(peerIP);
  if (bracket) return { ip: bracket[1]!, port: Number(bracket[2]) };
  const v4port = /^([\d.]+):(\d+)$/.exec(peerIP);
  if (v4port) return { ip: v4port[1]!, port: Number(v4port[2]) };
  return { ip: peerIP, port: 179 };
}

/** The cluster default AS and where it comes from. */
function clusterAsn(state: RoutingValues): { asn: number; from: string } {
  const n = asn(state.bgpConfigurations.get('default')?.spec['asNumber']);
  return n !== undefined
    ? { asn: n, from: 'the default BGPConfiguration asNumber' }
    : { asn: DEFAULT_ASN, from: "Calico's default AS (no asNumber in Node or BGPConfiguration default)" };
}

/** True if the peer's node/nodeSelector may select the node (neither set = every node). */
function appliesTo(peer: V3Resource, node: NodeInfo): boolean {
  const name = str(peer.spec['node']);
  if (name !== '') return name === node.name;
  const sel = str(peer.spec['nodeSelector']);
  if (sel === '') return true;
  try {
    return parseSelector(sel).evaluate(node.labels);
  } catch {
    return false;
  }
}

function nodesByIp(state: RoutingValues): Map<string, NodeInfo> {
  const out = new Map<string, NodeInfo>();
  for (const n of state.nodes.values()) {
    if (n.ipv4 !== undefined) out.set(n.ipv4, n);
    if (n.ipv6 !== undefined) out.set(n.ipv6, n);
  }
  return out;
}

export function bgpPeerRules(state: RoutingValues): Finding[] {
  const out: Finding[] = [];
  const byIp = nodesByIp(state);
  const cluster = clusterAsn(state);
  const peers = [...state.bgpPeers.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  /** Peers to non-node addresses, by "ip port", for conflicting claims. */
  const claims = new Map<string, V3Resource[]>();
  for (const peer of peers) {
    const peerIP = str(peer.spec['peerIP']);
    if (peerIP === '') continue; // peerSelector peerings: the ASN comes from the node
    const { ip, port } = splitPeerIp(peerIP);
    const target = byIp.get(ip);
    const claimed = asn(peer.spec['asNumber']);
    if (target !== undefined) {
      if (str(peer.spec['node']) === target.name)
        out.push({
          rule: 'bgp-peer-self',
          severity: 'warning',
          resource: peerRef(peer),
          related: [nodeRef(target)],
          message: `BGPPeer ${peer.name} is for node ${target.name} only, and its peerIP ${ip} is that node's own address: a node never peers with itself, so this peering does nothing.`,
          fix: `Point spec.peerIP at the intended router or node, or set spec.node to the node that should peer with ${ip}.`,
        });
      if (claimed !== undefined) out.push(...nodeTargetMismatch(state, peer, ip, claimed, target, cluster));
      continue;
    }
    if (claimed === undefined) continue;
    const key = `${ip} ${port}`;
    const list = claims.get(key);
    if (list === undefined) claims.set(key, [peer]);
    else list.push(peer);
  }
  for (const group of claims.values()) out.push(...conflictingClaims(group));
  for (const peer of peers) out.push(...missingFilters(state, peer));
  return out;
}

/** confd skips a filter name with no BGPFilter: the session then runs unfiltered. */
function missingFilters(state: RoutingValues, peer: V3Resource): Finding[] {
  const names = Array.isArray(peer.spec['filters']) ? peer.spec['filters'] : [];
  const missing = [...new Set(names.filter((n): n is string => typeof n === 'string' && n !== ''))].filter(
    (n) => !state.bgpFilters.has(n),
  );
  if (missing.length === 0) return [];
  const list = nameList(missing);
  return [
    {
      rule: 'bgp-peer-filter-missing',
      severity: 'error',
      resource: peerRef(peer),
      related: missing.map((n) => resourceRef('BGPFilter', undefined, n)),
      message: `BGPPeer ${peer.name} names BGPFilter ${list}, which does not exist: its sessions run without ${missing.length === 1 ? 'that filter' : 'those filters'}, importing and exporting what the filter was meant to stop.`,
      fix: `Create BGPFilter ${list}, or correct the name in spec.filters of BGPPeer ${peer.name}.`,
    },
  ];
}

function nodeTargetMismatch(
  state: RoutingValues,
  peer: V3Resource,
  ip: string,
  claimed: number,
  target: NodeInfo,
  cluster: { asn: number; from: string },
): Finding[] {
  const own = target.asNumber ?? cluster.asn;
  const from = target.asNumber !== undefined ? `its Node spec.bgp.asNumber` : cluster.from;
  // A BGPPeer on the target node with localASNumber makes it present that AS instead.
  const presented = new Set([own]);
  for (const p of state.bgpPeers.values()) {
    const local = asn(p.spec['localASNumber']);
    if (local !== undefined && appliesTo(p, target)) presented.add(local);
  }
  if (presented.has(claimed)) return [];
  const also =
    presented.size > 1
      ? ` (or ${[...presented].filter((a) => a !== own).join(', ')} where a BGPPeer sets localASNumber)`
      : '';
  return [
    {
      rule: 'bgp-peer-asn-mismatch',
      severity: 'error',
      resource: peerRef(peer),
      related: [nodeRef(target)],
      message: `BGPPeer ${peer.name} expects AS ${claimed} at ${ip}, but ${ip} is node ${target.name}, which uses AS ${own} (${from})${also}: the session cannot reach Established (BGP OPEN carries the wrong AS).`,
      fix: `Set spec.asNumber: ${own} on BGPPeer ${peer.name}, or peer by spec.peerSelector so the AS is taken from the node.`,
    },
  ];
}

/** Peers to one address that disagree on its AS: the minority (or, on a tie, all) are reported. */
function conflictingClaims(group: readonly V3Resource[]): Finding[] {
  const byAsn = new Map<number, V3Resource[]>();
  for (const p of group) {
    const a = asn(p.spec['asNumber'])!;
    const l = byAsn.get(a);
    if (l === undefined) byAsn.set(a, [p]);
    else l.push(p);
  }
  if (byAsn.size < 2) return [];
  const sizes = [...byAsn.values()].map((l) => l.length).sort((a, b) => b - a);
  const majority =
    sizes[0]! > sizes[1]! ? [...byAsn.entries()].find(([, l]) => l.length === sizes[0])! : undefined;
  const out: Finding[] = [];
  const { ip } = splitPeerIp(str(group[0]!.spec['peerIP']));
  for (const [claimed, peers] of byAsn) {
    if (majority !== undefined && claimed === majority[0]) continue;
    const others = group.filter((p) => asn(p.spec['asNumber']) !== claimed);
    const otherText = [...byAsn.entries()]
      .filter(([a]) => a !== claimed)
      .map(([a, l]) => `AS ${a} (${nameList(l.map((p) => p.name))})`)
      .join(' and ');
    for (const peer of peers)
      out.push({
        rule: 'bgp-peer-asn-mismatch',
        severity: 'error',
        resource: peerRef(peer),
        related: others.map(peerRef),
        message:
          `BGPPeer ${peer.name} expects AS ${claimed} at ${ip}, but other BGPPeers to the same address expect ${otherText}. ` +
          'A router presents one AS (unless it sets a per-neighbor local-as), so the sessions of the wrong claim flap or never come up' +
          (majority !== undefined
            ? ` — ${majority[1].length} of ${group.length} peers agree on AS ${majority[0]}.`
            : '.'),
        fix:
          majority !== undefined
            ? `Check the router's AS and set spec.asNumber to it on BGPPeer ${peer.name} (the other peers say ${majority[0]}).`
            : `Check the router's AS and make spec.asNumber of every BGPPeer to ${ip} equal to it.`,
      });
  }
  return out;
}

/** The node-to-node mesh with more BGP nodes than the threshold (seeds' common mistake #1). */
export function fullMeshRule(state: RoutingValues, opts: ResolvedLintOptions): Finding[] {
  const config = state.bgpConfigurations.get('default');
  if (config?.spec['nodeToNodeMeshEnabled'] === false) return [];
  const n = [...state.nodes.values()].filter((x) => x.bgpEnabled).length;
  if (n <= opts.maxMeshNodes) return [];
  const total = (n * (n - 1)) / 2;
  return [
    {
      rule: 'full-mesh-too-large',
      severity: 'warning',
      resource: resourceRef('BGPConfiguration', undefined, 'default'),
      related: [],
      message:
        `The node-to-node BGP mesh is on (${config === undefined ? 'no default BGPConfiguration, so on by default' : 'nodeToNodeMeshEnabled is not false'}) ` +
        `with ${n} BGP nodes: every node holds ${n - 1} BGP sessions, ${total.toLocaleString('en-US')} in the cluster (the threshold is ${opts.maxMeshNodes} nodes). ` +
        'BIRD memory and convergence time grow with it.',
      fix:
        'Use route reflectors: give 2-3 nodes spec.bgp.routeReflectorClusterID and a label, add BGPPeers ' +
        '(nodeSelector !has(<label>) → peerSelector has(<label>), and has(<label>) → has(<label>)), ' +
        'then set nodeToNodeMeshEnabled: false in BGPConfiguration default.',
    },
  ];
}
