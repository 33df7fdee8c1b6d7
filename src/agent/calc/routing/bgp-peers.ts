// BGPPeer resources → this node's explicit BGP sessions, after confd's updatePeersV1 and
// buildPeerFromData (confd/pkg/backends/calico/client.go, bgp_processor.go):
//   1. global peerings (no node/nodeSelector) first, keyed by (peer IP, port);
//   2. node-specific ones for this node, skipped where a global peering has the same key;
//   3. automatic reverse peerings (unless reversePeering: Manual): where this node is the
//      target of a BGPPeer (by peerSelector, or by peerIP + AS of a cluster node), it peers
//      back with the nodes the BGPPeer selects.
// The first peering for a key wins. Calico walks BGPPeers in Go map order; we walk them by
// name, so a conflict between two resources resolves the same way on every node and run.

import { parseIp } from '../../../model/net/ip.js';
import type { Selector } from '../../../model/selector/index.js';
import { parseSelector } from '../../../model/selector/index.js';
import { durationSeconds, isObj, num, type Spec, secretRef, str } from './bgp-config.js';
import { filterNames } from './bgp-filters.js';
import type { BgpPeerKind, BgpPeerModel, BgpWarning, SecretRef } from './bgp-types.js';
import type { NodeInfo, RoutingState, V3Resource } from './state.js';

/** Per-node facts the peer expansion needs (the same ones confd keeps in its v1 cache). */
export interface PeerContext {
  readonly state: RoutingState;
  readonly node: NodeInfo;
  readonly nodeIp: string;
  readonly asNumber: number;
  readonly globalAsNumber: number;
  readonly clusterId?: string;
  readonly globalListenPort?: number;
  readonly listenPortOf: (node: string) => number | undefined;
  readonly warnings: BgpWarning[];
}

/** A peering before it is named and checked against this node (confd's v1 bgpPeer). */
interface Candidate {
  readonly ip: string;
  readonly port?: number;
  readonly asNumber: number;
  readonly localAsNumber?: number;
  readonly rrClusterId?: string;
  readonly sourceAddress: string;
  readonly keepOriginalNextHop: boolean;
  readonly nextHopMode?: string;
  readonly calicoNode: boolean;
  readonly peerNode?: string;
  readonly ttlSecurity?: number;
  readonly allowLocalAs?: number;
  readonly reachableBy?: string;
  readonly password?: SecretRef;
  readonly restartSeconds?: number;
  readonly keepaliveSeconds?: number;
  readonly filterNames: readonly string[];
  readonly source: string;
}

/** The node's BGP IPv4 (spec.bgp.ipv4Address), which is what confd peers with. */
export const bgpIpv4 = (n: NodeInfo): string | undefined =>
  n.bgpEnabled && n.ipv4Cidr !== undefined ? n.ipv4 : undefined;

/** A BIRD symbol for a peer: `<prefix>_<ip with . and : as _>[_port_<n>]`, as confd names them. */
export function peerName(prefix: string, ip: string, port?: number): string {
  const base = `${prefix}_${ip.replace(/[.:]/g, '_')}`;
  return port ? `${base}_port_${port}` : base;
}

/** "ip", "ip:port" or "[v6]:port" → host and port (0 = none). */
function splitIpPort(s: string): { host: string; port: number } {
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (bracket) return { host: bracket[1]!, port: Number(bracket[2]) };
  const v4 = /^([\d.]+):(\d+)$/.exec(s);
  if (v4) return { host: v4[1]!, port: Number(v4[2]) };
  return { host: s, port: 0 };
}

class PeerExpansion {
  private readonly selectorCache = new Map<string, string[] | undefined>();
  private readonly nodesByIp = new Map<string, string[]>();
  private readonly global = new Map<string, Candidate>();
  private readonly mine = new Map<string, Candidate>();
  private readonly commonCache = new Map<V3Resource, ReturnType<PeerExpansion['readCommon']>>();

  constructor(private readonly ctx: PeerContext) {
    for (const n of [...ctx.state.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      for (const ip of [bgpIpv4(n), n.bgpEnabled ? n.ipv6 : undefined]) {
        if (ip === undefined) continue;
        const list = this.nodesByIp.get(ip) ?? this.nodesByIp.set(ip, []).get(ip)!;
        list.push(n.name);
      }
    }
  }

  run(): BgpPeerModel[] {
    const peers = [...this.ctx.state.bgpPeers.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    const isGlobal = (p: V3Resource) => !str(p.spec['node']) && !str(p.spec['nodeSelector']);
    for (const p of peers.filter(isGlobal))
      for (const c of this.forward(p)) if (!this.global.has(key(c))) this.global.set(key(c), c);
    for (const p of peers.filter((p) => !isGlobal(p))) {
      if (!this.localNodes(p).includes(this.ctx.node.name)) continue;
      for (const c of this.forward(p)) this.emitNode(c);
    }
    for (const p of peers) for (const c of this.reverse(p)) this.emitNode(c);
    const out: BgpPeerModel[] = [];
    for (const [kind, map] of [
      ['global', this.global],
      ['node', this.mine],
    ] as const)
      for (const c of map.values()) {
        const m = this.model(kind, c);
        if (m !== undefined) out.push(m);
      }
    return out;
  }

  private emitNode(c: Candidate): void {
    const k = key(c);
    if (!this.global.has(k) && !this.mine.has(k)) this.mine.set(k, c);
  }

  /** Names of nodes matching a selector, sorted; undefined (and a warning) if it does not parse. */
  private matching(text: string, resource: V3Resource): string[] {
    if (this.selectorCache.has(text)) return this.selectorCache.get(text) ?? [];
    let sel: Selector | undefined;
    try {
      sel = parseSelector(text);
    } catch (err) {
      this.ctx.warnings.push({
        code: 'node-selector-invalid',
        resource: `BGPPeer/${resource.name}`,
        message: `selector ${JSON.stringify(text)} does not parse: ${(err as Error).message}`,
      });
    }
    const names =
      sel === undefined
        ? undefined
        : [...this.ctx.state.nodes.values()]
            .filter((n) => sel.evaluate(n.labels))
            .map((n) => n.name)
            .sort();
    this.selectorCache.set(text, names);
    return names ?? [];
  }

  /** The nodes a BGPPeer configures (node / nodeSelector; all nodes when global). */
  private localNodes(p: V3Resource): string[] {
    const sel = str(p.spec['nodeSelector']);
    if (sel !== undefined) return this.matching(sel, p);
    const node = str(p.spec['node']);
    return node !== undefined ? [node] : this.matching('all()', p);
  }

  /** The peerings a BGPPeer asks its local nodes to make. */
  private forward(p: V3Resource): Candidate[] {
    if (str(p.spec['localWorkloadSelector'])) return []; // workload peers need the pod watcher
    const peerSelector = str(p.spec['peerSelector']);
    if (peerSelector !== undefined) {
      const names = this.matching(peerSelector, p);
      const out = names.flatMap((n) => this.nodeAsPeer(n, p));
      if (out.length === 0)
        this.ctx.warnings.push({
          code: 'peer-selector-empty',
          resource: `BGPPeer/${p.name}`,
          message: `peerSelector ${JSON.stringify(peerSelector)} matches no node with a BGP IPv4 address`,
        });
      return out;
    }
    const peerIp = str(p.spec['peerIP']);
    const { host, port: explicitPort } = splitIpPort(peerIp ?? '');
    const parsed = parseIp(host, 'lenient');
    const asn = num(p.spec['asNumber']) ?? 0;
    const invalid = (message: string, code: BgpWarning['code'] = 'peer-invalid'): Candidate[] => {
      this.ctx.warnings.push({ code, resource: `BGPPeer/${p.name}`, message });
      return [];
    };
    if (parsed === undefined) return invalid(`peerIP ${JSON.stringify(peerIp ?? '')} is not an IP address`);
    if (parsed.version === 6)
      return invalid(`peer ${host} is IPv6; this agent renders IPv4 sessions only`, 'peer-ipv6-unsupported');
    if (asn === 0) return invalid(`peer ${host} has no asNumber`);
    let port = explicitPort;
    if (port === 0) {
      // A Calico node listening on a non-default port is reached on that port.
      const [first] = this.nodesWithIpPortAndAs(host, asn, 0);
      if (first !== undefined) port = this.ctx.listenPortOf(first) ?? this.ctx.globalListenPort ?? 0;
    }
    const peerNode = this.nodesByIp.get(host)?.[0];
    return [
      {
        ...this.common(p),
        ip: host,
        port: port || undefined,
        asNumber: asn,
        localAsNumber: num(p.spec['localASNumber']) || undefined,
        calicoNode: peerNode !== undefined,
        peerNode,
        allowLocalAs: num(p.spec['numAllowedLocalASNumbers']) || undefined,
        reachableBy: str(p.spec['reachableBy']),
      },
    ];
  }

  /** Reverse peerings that land on this node (BGPPeer targets this node; peer back). */
  private reverse(p: V3Resource): Candidate[] {
    if (p.spec['reversePeering'] === 'Manual' || str(p.spec['localWorkloadSelector'])) return [];
    const peerSelector = str(p.spec['peerSelector']);
    let targets: string[];
    if (peerSelector !== undefined) targets = this.matching(peerSelector, p);
    else {
      const { host, port } = splitIpPort(str(p.spec['peerIP']) ?? '');
      if (host.includes(':')) return [];
      targets = this.nodesWithIpPortAndAs(host, num(p.spec['asNumber']) ?? 0, port);
    }
    if (!targets.includes(this.ctx.node.name)) return [];
    return this.localNodes(p).flatMap((n) => this.nodeAsPeer(n, p));
  }

  /** confd nodesWithIPPortAndAS: cluster nodes at that address, AS (0 = global) and port. */
  private nodesWithIpPortAndAs(ip: string, asn: number, port: number): string[] {
    const want = asn || this.ctx.globalAsNumber;
    return (this.nodesByIp.get(ip) ?? []).filter((name) => {
      const n = this.ctx.state.nodes.get(name)!;
      if ((n.asNumber ?? this.ctx.globalAsNumber) !== want) return false;
      if (port === 0) return true;
      const nodePort = this.ctx.listenPortOf(name);
      if (nodePort !== undefined) return nodePort === port;
      return this.ctx.globalListenPort === undefined || this.ctx.globalListenPort === port;
    });
  }

  /** confd nodeAsBGPPeers: a cluster node as a peer (its IPv4, AS, listen port, cluster ID). */
  private nodeAsPeer(name: string, p: V3Resource): Candidate[] {
    const n = this.ctx.state.nodes.get(name);
    const ip = n && bgpIpv4(n);
    if (n === undefined || ip === undefined) return [];
    return [
      {
        ...this.common(p),
        ip,
        port: this.ctx.listenPortOf(name) ?? this.ctx.globalListenPort,
        asNumber: n.asNumber ?? this.ctx.globalAsNumber,
        rrClusterId: n.routeReflectorClusterId,
        // confd does not mark selector peerings as calico_node, so they are never passive.
        calicoNode: false,
        peerNode: name,
      },
    ];
  }

  /** Fields every peering of a BGPPeer shares, read once per resource (a selector may match thousands). */
  private common(p: V3Resource) {
    let c = this.commonCache.get(p);
    if (c === undefined) {
      c = this.readCommon(p);
      this.commonCache.set(p, c);
    }
    return c;
  }

  /** confd setPeerConfigFieldsFromV3Resource and the per-peer fields of nodeAsBGPPeers. */
  private readCommon(p: V3Resource) {
    const s: Spec = p.spec;
    return {
      sourceAddress: str(s['sourceAddress']) ?? 'UseNodeIP',
      keepOriginalNextHop: str(s['nextHopMode']) === undefined && s['keepOriginalNextHop'] === true,
      nextHopMode: str(s['nextHopMode']),
      ttlSecurity: num(s['ttlSecurity']) || undefined,
      password: isObj(s['password']) ? secretRef(s['password']) : undefined,
      restartSeconds: durationSeconds(s['maxRestartTime']),
      keepaliveSeconds: durationSeconds(s['keepaliveTime']),
      filterNames: filterNames(s),
      source: p.name,
    };
  }

  /** confd buildPeerFromData for this node; undefined for a peering to ourselves. */
  private model(kind: BgpPeerKind, c: Candidate): BgpPeerModel | undefined {
    const { nodeIp, clusterId } = this.ctx;
    if (c.ip === nodeIp) return undefined;
    const localAs = c.localAsNumber ?? this.ctx.asNumber;
    const ibgp = c.asNumber === localAs;
    const nextHop =
      c.nextHopMode === 'Self'
        ? 'self'
        : c.nextHopMode === 'Keep' || (c.keepOriginalNextHop && !ibgp)
          ? 'keep'
          : undefined;
    return {
      name: peerName(kind === 'global' ? 'Global' : 'Node', c.ip, c.port),
      kind,
      ip: c.ip,
      port: c.port,
      asNumber: c.asNumber,
      localAsNumber: c.localAsNumber,
      ibgp,
      sourceAddress: c.sourceAddress === 'UseNodeIP' ? nodeIp : undefined,
      passive: kind === 'global' && c.calicoNode && c.ip > nodeIp,
      ttlSecurityHops: c.ttlSecurity,
      keepaliveSeconds: c.keepaliveSeconds,
      restartSeconds: c.restartSeconds,
      rrClusterId: ibgp && clusterId !== undefined && c.rrClusterId !== clusterId ? clusterId : undefined,
      nextHop,
      allowLocalAs: c.allowLocalAs,
      password: c.password,
      reachableBy: c.reachableBy,
      peerNode: c.peerNode,
      sources: [c.source],
      ...(c.filterNames.length > 0 ? { filterNames: c.filterNames } : {}),
    };
  }
}

const key = (c: Candidate): string => `${c.ip}|${c.port ?? 0}`;

/** This node's Global_ and Node_ sessions from the BGPPeer resources (unsorted). */
export function explicitPeers(ctx: PeerContext): BgpPeerModel[] {
  return new PeerExpansion(ctx).run();
}
