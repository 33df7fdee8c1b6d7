// The WireGuard model for one node, after Felix's wireguard manager: the device settings from
// Felix configuration, one peer per other node that published a key no other node claims,
// and the routes of the dedicated routing table (peer CIDRs to the device, throw routes for
// the CIDRs of nodes that cannot be peers and of this node, so those fall back to the main
// table in plaintext). Pure: the driver applies it.

import {
  type Cidr,
  cidrCovers,
  compareCidr as compareNets,
  formatCidr,
  parseNet,
} from '../../../model/net/cidr.js';
import { parseIp } from '../../../model/net/ip.js';
import type { RoutingState } from './state.js';

export const WIREGUARD_DEFAULTS = Object.freeze({
  interfaceName: 'wireguard.cali',
  listenPort: 51820,
  routingRulePriority: 99,
  /** Felix allocates a bit of IptablesMarkMask; this is the bit it lands on with the defaults. */
  firewallMark: 0x100000,
  /** Felix takes the first free index of RouteTableRanges (1-250). */
  routingTableIndex: 1,
  hostMtu: 1500,
  /** WireGuard over IPv4 costs 60 bytes (20 IP + 8 UDP + 32 WireGuard). */
  mtuOverhead: 60,
});

export interface WireguardModelOptions {
  /** The smallest MTU among the host's uplinks, for WireguardMTU = 0 (auto). */
  readonly hostMtu?: number;
  readonly firewallMark?: number;
  readonly routingTableIndex?: number;
}

export interface WireguardPeerModel {
  readonly node: string;
  readonly publicKey: string;
  /** "ip:port" of the peer's listener. */
  readonly endpoint: string;
  /** Sorted CIDR text; never overlapping exactly with another peer's. */
  readonly allowedIps: readonly string[];
}

export interface WireguardRouteModel {
  readonly cidr: string;
  /** 'device': to the WireGuard interface; 'throw': back to the next rule (main table). */
  readonly type: 'device' | 'throw';
  /** The node the CIDR belongs to. */
  readonly node: string;
}

export type WireguardExclusion = 'no-key' | 'duplicate-key' | 'no-endpoint';

export interface WireguardModel {
  readonly enabled: boolean;
  readonly interfaceName: string;
  readonly listenPort: number;
  readonly mtu: number;
  readonly firewallMark: number;
  readonly routingTableIndex: number;
  readonly routingRulePriority: number;
  /** 0 = off. */
  readonly persistentKeepaliveSeconds: number;
  /** This node's WireGuard interface address (no prefix), if IPAM gave it one. */
  readonly interfaceAddress?: string;
  /** This node's public key as the datastore holds it. */
  readonly publishedKey?: string;
  readonly peers: readonly WireguardPeerModel[];
  readonly routes: readonly WireguardRouteModel[];
  /** Other nodes that are left out, and why (their CIDRs get throw routes). */
  readonly excluded: ReadonlyMap<string, WireguardExclusion>;
  /** Configuration values that were invalid and replaced by defaults, CIDR conflicts. */
  readonly warnings: readonly string[];
}

const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const ZERO_KEY = `${'A'.repeat(43)}=`;

/** Felix's boolean config parsing (case-insensitive true/false, yes/no, on/off, 1/0). */
function parseBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (['true', 't', 'yes', 'y', 'on', '1'].includes(s)) return true;
  if (['false', 'f', 'no', 'n', 'off', '0'].includes(s)) return false;
  return undefined;
}

function parseIntIn(v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined || !/^\s*\d+\s*$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

// Source precedence when two nodes claim the same CIDR: IPAM allocations speak for the
// address itself, tunnel addresses are node annotations that can go stale.
const Source = { Block: 0, Borrowed: 1, WireguardAddress: 2, IpipAddress: 3 } as const;
type Source = (typeof Source)[keyof typeof Source];

interface Claim {
  readonly node: string;
  readonly net: Cidr;
  readonly source: Source;
}

/** Every IPv4 CIDR that routes to a node: affine blocks, borrowed /32s, tunnel addresses. */
function claimsByCidr(state: RoutingState, warnings: string[]): Map<string, Claim> {
  const claims = new Map<string, Claim>();
  const claim = (node: string, net: Cidr | undefined, source: Source) => {
    if (net === undefined || net.version !== 4) return;
    const key = formatCidr(net);
    const prev = claims.get(key);
    if (prev === undefined) {
      claims.set(key, { node, net, source });
      return;
    }
    if (prev.node === node) return;
    const wins = source < prev.source || (source === prev.source && node < prev.node);
    warnings.push(
      `${key} is claimed by nodes ${prev.node} and ${node}; routed to ${wins ? node : prev.node}`,
    );
    if (wins) claims.set(key, { node, net, source });
  };
  const host = (ip: string | undefined) =>
    ip === undefined ? undefined : parseNet(`${ip.split('/')[0]}/32`);
  for (const b of state.blocks.values()) {
    if (b.node !== undefined) claim(b.node, b.net, Source.Block);
    for (const x of b.borrowed) claim(x.node, host(x.ip), Source.Borrowed);
  }
  for (const w of state.wireguard.values())
    claim(w.node, host(w.interfaceIPv4Address), Source.WireguardAddress);
  for (const n of state.nodes.values()) claim(n.name, host(n.ipipTunnelAddr), Source.IpipAddress);
  return claims;
}

/** Drops a node's /32s that its own blocks already cover (WireGuard would hold them twice). */
function minimal(nets: readonly Cidr[]): string[] {
  const wide = nets.filter((n) => n.prefix < 32);
  return nets
    .filter((n) => n.prefix < 32 || !wide.some((w) => cidrCovers(w, n)))
    .map(formatCidr)
    .sort(compareCidr);
}

function compareCidr(a: string, b: string): number {
  return compareNets(parseNet(a)!, parseNet(b)!);
}

export function computeWireguard(
  state: RoutingState,
  node: string,
  opts: WireguardModelOptions = {},
): WireguardModel {
  const warnings: string[] = [];
  const cfg = (name: string) => state.config(name, node);
  const checked = <T>(name: string, parsed: T | undefined, fallback: T): T => {
    if (cfg(name) !== undefined && parsed === undefined)
      warnings.push(`${name}=${JSON.stringify(cfg(name))} is invalid; using ${String(fallback)}`);
    return parsed ?? fallback;
  };
  const enabled = checked('WireguardEnabled', parseBool(cfg('WireguardEnabled')), false);
  const nameCfg = cfg('WireguardInterfaceName');
  const interfaceName = checked(
    'WireguardInterfaceName',
    nameCfg !== undefined && /^[A-Za-z0-9_.-]{1,15}$/.test(nameCfg) ? nameCfg : undefined,
    WIREGUARD_DEFAULTS.interfaceName,
  );
  const portOf = (n: string) => parseIntIn(state.config('WireguardListeningPort', n), 1, 65535);
  const listenPort = checked('WireguardListeningPort', portOf(node), WIREGUARD_DEFAULTS.listenPort);
  const mtuCfg = checked('WireguardMTU', parseIntIn(cfg('WireguardMTU'), 0, 65535), 0);
  const hostMtu = opts.hostMtu ?? WIREGUARD_DEFAULTS.hostMtu;
  const mtu = mtuCfg !== 0 ? mtuCfg : hostMtu - WIREGUARD_DEFAULTS.mtuOverhead;
  const routingRulePriority = checked(
    'WireguardRoutingRulePriority',
    parseIntIn(cfg('WireguardRoutingRulePriority'), 1, 32765),
    WIREGUARD_DEFAULTS.routingRulePriority,
  );
  const keepaliveCfg = cfg('WireguardPersistentKeepAlive');
  const keepalive = keepaliveCfg === undefined ? Number.NaN : Number(keepaliveCfg);
  const persistentKeepaliveSeconds = checked(
    'WireguardPersistentKeepAlive',
    Number.isFinite(keepalive) && keepalive >= 0 && keepalive <= 65535 ? Math.round(keepalive) : undefined,
    0,
  );
  const self = state.wireguard.get(node);
  const base = {
    enabled,
    interfaceName,
    listenPort,
    mtu,
    firewallMark: opts.firewallMark ?? WIREGUARD_DEFAULTS.firewallMark,
    routingTableIndex: opts.routingTableIndex ?? WIREGUARD_DEFAULTS.routingTableIndex,
    routingRulePriority,
    persistentKeepaliveSeconds,
    interfaceAddress: self?.interfaceIPv4Address?.split('/')[0],
    publishedKey: usableKey(self?.publicKey),
  };
  if (!enabled) return { ...base, enabled: false, peers: [], routes: [], excluded: new Map(), warnings };

  // Keys claimed by more than one node (ours included: a peer holding our key is unusable).
  const holders = new Map<string, number>();
  for (const w of state.wireguard.values()) {
    const k = usableKey(w.publicKey);
    if (k !== undefined) holders.set(k, (holders.get(k) ?? 0) + 1);
  }

  const claims = claimsByCidr(state, warnings);
  const netsOf = new Map<string, Cidr[]>();
  for (const c of claims.values()) {
    const list = netsOf.get(c.node) ?? [];
    list.push(c.net);
    netsOf.set(c.node, list);
  }
  const others = new Set<string>([...state.nodes.keys(), ...state.wireguard.keys(), ...netsOf.keys()]);
  others.delete(node);

  const peers: WireguardPeerModel[] = [];
  const routes: WireguardRouteModel[] = [];
  const excluded = new Map<string, WireguardExclusion>();
  for (const name of [...others].sort()) {
    const cidrs = minimal(netsOf.get(name) ?? []);
    const key = usableKey(state.wireguard.get(name)?.publicKey);
    const ip = state.nodes.get(name)?.ipv4;
    const why: WireguardExclusion | undefined =
      key === undefined
        ? 'no-key'
        : (holders.get(key) ?? 0) > 1
          ? 'duplicate-key'
          : ip === undefined || parseIp(ip, 'lenient')?.version !== 4
            ? 'no-endpoint'
            : undefined;
    if (why !== undefined) {
      excluded.set(name, why);
      for (const cidr of cidrs) routes.push({ cidr, type: 'throw', node: name });
      continue;
    }
    peers.push({
      node: name,
      publicKey: key!,
      // Felix dials every peer on its own port; a per-host port override would break that,
      // so we dial the port configured for the peer's host.
      endpoint: `${ip}:${portOf(name) ?? WIREGUARD_DEFAULTS.listenPort}`,
      allowedIps: cidrs,
    });
    for (const cidr of cidrs) routes.push({ cidr, type: 'device', node: name });
  }
  // Our own CIDRs inside other nodes' blocks (borrowed) must not be sent to the lender.
  for (const cidr of minimal(netsOf.get(node) ?? [])) routes.push({ cidr, type: 'throw', node });
  routes.sort((a, b) => compareCidr(a.cidr, b.cidr));
  return { ...base, peers, routes, excluded, warnings };
}

/** A well-formed, non-zero key (Felix treats the zero key as "no key"). */
function usableKey(k: string | undefined): string | undefined {
  return k !== undefined && k !== ZERO_KEY && WG_KEY.test(k) ? k : undefined;
}
