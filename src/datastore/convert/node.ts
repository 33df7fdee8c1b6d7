// Nodes to the v3 Node value, the per-node tunnel config keys and the WireGuard key, after
// Calico's libcalico-go/lib/backend/k8s/resources/node.go (K8sNodeToCalico: BGP data lives
// in projectcalico.org/* annotations) and updateprocessors/felixnodeprocessor.go.

import { formatCidr, isMasked, masked, parseCidr } from '../../model/net/cidr.js';
import { formatIp, type IpVersion, parseIp } from '../../model/net/ip.js';
import type { KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { NodeBgpKv, NodeKv, NodeSpecKv, WireguardKv } from '../../model/values/routing.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { type Fields, fields, list, optString, show } from './fields.js';

const A = 'projectcalico.org/';

/** numorstring.ASNumberFromString: a 32-bit number, or "a.b" (asdot). */
export function parseAsn(v: unknown, what: string): number {
  // A number is a plain AS number, as calicoctl's ASNumber reads a JSON number (a uint32): a
  // float is no asdot string (YAML `1.10` is the float 1.1, not AS 1.10).
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff) return v;
  } else if (typeof v === 'string') {
    if (/^\d+$/.test(v) && Number(v) <= 0xffff_ffff) return Number(v);
    const dot = /^(\d+)\.(\d+)$/.exec(v);
    if (dot && Number(dot[1]) <= 0xffff && Number(dot[2]) <= 0xffff)
      return Number(dot[1]) * 65536 + Number(dot[2]);
  }
  throw new Invalid(`${what}: invalid AS number ${show(v)}`);
}

/** An interface address "ip/len" of the given family (host bits allowed). */
function cidrAddress(s: string, version: IpVersion, what: string): string {
  const c = parseCidr(s, { bare: true });
  if (c === undefined || c.version !== version)
    throw new Invalid(`${what}: invalid IPv${version} CIDR ${show(s)}`);
  return s.includes('/') ? `${formatIp(c)}/${c.prefix}` : formatIp(c);
}

/** ValidateIPv4Network/IPv6Network: an IP, or a strictly masked CIDR; returned as the IP. */
function networkAddress(s: string, version: IpVersion, what: string): string {
  const c = parseCidr(s, { bare: true });
  if (c === undefined || c.version !== version || !isMasked(c))
    throw new Invalid(`${what}: invalid IPv${version} address ${show(s)}`);
  return formatIp(c);
}

function mac(s: string, what: string): string {
  if (!/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/.test(s))
    throw new Invalid(`${what}: invalid MAC ${show(s)}`);
  return s.toLowerCase().replaceAll('-', ':');
}

function wireguardKey(s: string, what: string): string {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(s)) throw new Invalid(`${what}: invalid WireGuard public key ${show(s)}`);
  return s;
}

/** Everything a node contributes, whichever form it came in. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Tunnels = Pick<
  NodeSpecKv,
  'ipv4VXLANTunnelAddr' | 'vxlanTunnelMACAddr' | 'ipv6VXLANTunnelAddr' | 'vxlanTunnelMACAddrV6'
>;
type NodeAddress = NonNullable<NodeSpecKv['addresses']>[number];

interface NodeData {
  name: string;
  labels: Record<string, string>;
  bgp: Mutable<NodeBgpKv>;
  addresses: NodeAddress[];
  wireguard: Mutable<NonNullable<NodeSpecKv['wireguard']>>;
  tunnels: Mutable<Tunnels>;
  status: Mutable<NonNullable<NodeKv['status']>>;
}

function emit(n: NodeData): KV[] {
  // Fields in the order they are stored: the encoded bytes and the golden frames depend on it.
  const spec: NodeSpecKv = {
    ...(Object.keys(n.bgp).length > 0 ? { bgp: n.bgp } : {}),
    ...(n.addresses.length > 0 ? { addresses: n.addresses } : {}),
    orchRefs: [{ nodeName: n.name, orchestrator: 'k8s' }],
    ...(Object.keys(n.wireguard).length > 0 ? { wireguard: { ...n.wireguard } } : {}),
    ...n.tunnels,
  };
  const value: NodeKv = {
    kind: 'Node',
    apiVersion: 'projectcalico.org/v3',
    metadata: Object.keys(n.labels).length > 0 ? { name: n.name, labels: n.labels } : { name: n.name },
    spec,
    ...(Object.keys(n.status).length > 0 ? { status: n.status } : {}),
  };
  const out: KV[] = [modelKV('node', [n.name], value)];
  // felixnodeprocessor: tunnel addresses as per-host config keys.
  const hostConfig: [string, string | undefined][] = [
    ['IpInIpTunnelAddr', n.bgp.ipv4IPIPTunnelAddr],
    ['IPv4VXLANTunnelAddr', n.tunnels['ipv4VXLANTunnelAddr']],
    ['VXLANTunnelMACAddr', n.tunnels['vxlanTunnelMACAddr']],
    ['IPv6VXLANTunnelAddr', n.tunnels['ipv6VXLANTunnelAddr']],
    ['VXLANTunnelMACAddrV6', n.tunnels['vxlanTunnelMACAddrV6']],
  ];
  for (const [name, v] of hostConfig) if (v !== undefined) out.push(modelKV('hostConfig', [n.name, name], v));
  const { interfaceIPv4Address, interfaceIPv6Address } = n.wireguard;
  const { wireguardPublicKey, wireguardPublicKeyV6 } = n.status;
  const wg: WireguardKv = {
    ...(interfaceIPv4Address ? { interfaceIPv4Address } : {}),
    ...(wireguardPublicKey ? { publicKey: wireguardPublicKey } : {}),
    ...(interfaceIPv6Address ? { interfaceIPv6Address } : {}),
    ...(wireguardPublicKeyV6 ? { publicKeyV6: wireguardPublicKeyV6 } : {}),
  };
  if (Object.keys(wg).length > 0) out.push(modelKV('wireguard', [n.name], wg));
  return out;
}

/** Reads the BGP/tunnel/WireGuard fields from `get(field)` (annotation or v3 spec). */
function readCalicoFields(get: (field: string) => unknown, where: (field: string) => string) {
  const str = (f: string): string | undefined => {
    const v = get(f);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new Invalid(`${where(f)}: expected a string, got ${show(v)}`);
    return v;
  };
  const bgp: Mutable<NodeBgpKv> = {};
  const v4 = str('IPv4Address');
  if (v4) bgp['ipv4Address'] = cidrAddress(v4, 4, where('IPv4Address'));
  const v6 = str('IPv6Address');
  if (v6) bgp['ipv6Address'] = cidrAddress(v6, 6, where('IPv6Address'));
  const asn = get('ASNumber');
  if (asn !== undefined && asn !== null && asn !== '') bgp['asNumber'] = parseAsn(asn, where('ASNumber'));
  const rr = str('RouteReflectorClusterID');
  if (rr) bgp['routeReflectorClusterID'] = networkAddress(rr, 4, where('RouteReflectorClusterID'));
  const ipip = str('IPv4IPIPTunnelAddr');
  if (ipip) bgp['ipv4IPIPTunnelAddr'] = networkAddress(ipip, 4, where('IPv4IPIPTunnelAddr'));
  const tunnels: Mutable<Tunnels> = {};
  const t4 = str('IPv4VXLANTunnelAddr');
  if (t4) tunnels['ipv4VXLANTunnelAddr'] = networkAddress(t4, 4, where('IPv4VXLANTunnelAddr'));
  const m4 = str('VXLANTunnelMACAddr');
  if (m4) tunnels['vxlanTunnelMACAddr'] = mac(m4, where('VXLANTunnelMACAddr'));
  const t6 = str('IPv6VXLANTunnelAddr');
  if (t6) tunnels['ipv6VXLANTunnelAddr'] = networkAddress(t6, 6, where('IPv6VXLANTunnelAddr'));
  const m6 = str('VXLANTunnelMACAddrV6');
  if (m6) tunnels['vxlanTunnelMACAddrV6'] = mac(m6, where('VXLANTunnelMACAddrV6'));
  const wireguard: NodeData['wireguard'] = {};
  const w4 = str('IPv4WireguardInterfaceAddr');
  if (w4) wireguard['interfaceIPv4Address'] = networkAddress(w4, 4, where('IPv4WireguardInterfaceAddr'));
  const w6 = str('IPv6WireguardInterfaceAddr');
  if (w6) wireguard['interfaceIPv6Address'] = networkAddress(w6, 6, where('IPv6WireguardInterfaceAddr'));
  const status: NodeData['status'] = {};
  const k4 = str('WireguardPublicKey');
  if (k4) status['wireguardPublicKey'] = wireguardKey(k4, where('WireguardPublicKey'));
  const k6 = str('WireguardPublicKeyV6');
  if (k6) status['wireguardPublicKeyV6'] = wireguardKey(k6, where('WireguardPublicKeyV6'));
  return { bgp, tunnels, wireguard, status };
}

/** CalicoNodeIP addresses from the BGP spec, then the Kubernetes InternalIP/ExternalIP ones. */
function calicoAddresses(bgp: NodeBgpKv): NodeAddress[] {
  const out: NodeAddress[] = [];
  for (const address of [bgp.ipv4Address, bgp.ipv6Address])
    if (typeof address === 'string') out.push({ address, type: 'CalicoNodeIP' });
  return out;
}

/** A Kubernetes (core/v1) Node. */
export function convertNode(obj: KubeObject): KV[] {
  const ann = obj.metadata.annotations ?? {};
  const data = readCalicoFields(
    (f) => ann[A + f],
    (f) => `metadata.annotations[${A}${f}]`,
  );
  const addresses = calicoAddresses(data.bgp);
  list(fields(obj.status, 'status'), 'addresses', 'status').forEach((a, i) => {
    const f = fields(a, `status.addresses[${i}]`);
    const type = optString(f, 'type', `status.addresses[${i}]`);
    const address = optString(f, 'address', `status.addresses[${i}]`);
    if ((type === 'InternalIP' || type === 'ExternalIP') && address) {
      if (parseIp(address) === undefined)
        throw new Invalid(`status.addresses[${i}]: invalid IP ${show(address)}`);
      addresses.push({ address, type });
    }
  });
  const podCIDRs = list(fields(obj.spec, 'spec'), 'podCIDRs', 'spec').map((c, i) => {
    const p = typeof c === 'string' ? parseCidr(c) : undefined;
    if (p === undefined) throw new Invalid(`spec.podCIDRs[${i}]: invalid CIDR ${show(c)}`);
    return formatCidr(masked(p));
  });
  if (podCIDRs.length > 0) data.status['podCIDRs'] = podCIDRs;
  return emit({ name: obj.metadata.name, labels: { ...obj.metadata.labels }, addresses, ...data });
}

/** A calicoctl projectcalico.org/v3 Node (spec.bgp etc.), as applied to a KDD cluster. */
export function convertCalicoNode(obj: KubeObject): KV[] {
  const spec = fields(obj.spec, 'spec');
  const bgp = fields(spec['bgp'], 'spec.bgp');
  const wg = fields(spec['wireguard'], 'spec.wireguard');
  const status = fields(obj.status, 'status');
  const v3: Fields = {
    IPv4Address: bgp['ipv4Address'],
    IPv6Address: bgp['ipv6Address'],
    ASNumber: bgp['asNumber'],
    RouteReflectorClusterID: bgp['routeReflectorClusterID'],
    IPv4IPIPTunnelAddr: bgp['ipv4IPIPTunnelAddr'],
    IPv4VXLANTunnelAddr: spec['ipv4VXLANTunnelAddr'],
    VXLANTunnelMACAddr: spec['vxlanTunnelMACAddr'],
    IPv6VXLANTunnelAddr: spec['ipv6VXLANTunnelAddr'],
    VXLANTunnelMACAddrV6: spec['vxlanTunnelMACAddrV6'],
    IPv4WireguardInterfaceAddr: wg['interfaceIPv4Address'],
    IPv6WireguardInterfaceAddr: wg['interfaceIPv6Address'],
    WireguardPublicKey: status['wireguardPublicKey'],
    WireguardPublicKeyV6: status['wireguardPublicKeyV6'],
  };
  const path: Record<string, string> = {
    IPv4Address: 'spec.bgp.ipv4Address',
    IPv6Address: 'spec.bgp.ipv6Address',
    ASNumber: 'spec.bgp.asNumber',
    RouteReflectorClusterID: 'spec.bgp.routeReflectorClusterID',
    IPv4IPIPTunnelAddr: 'spec.bgp.ipv4IPIPTunnelAddr',
    IPv4VXLANTunnelAddr: 'spec.ipv4VXLANTunnelAddr',
    VXLANTunnelMACAddr: 'spec.vxlanTunnelMACAddr',
    IPv6VXLANTunnelAddr: 'spec.ipv6VXLANTunnelAddr',
    VXLANTunnelMACAddrV6: 'spec.vxlanTunnelMACAddrV6',
    IPv4WireguardInterfaceAddr: 'spec.wireguard.interfaceIPv4Address',
    IPv6WireguardInterfaceAddr: 'spec.wireguard.interfaceIPv6Address',
    WireguardPublicKey: 'status.wireguardPublicKey',
    WireguardPublicKeyV6: 'status.wireguardPublicKeyV6',
  };
  const data = readCalicoFields(
    (f) => v3[f],
    (f) => path[f] ?? f,
  );
  return emit({
    name: obj.metadata.name,
    labels: { ...obj.metadata.labels },
    addresses: calicoAddresses(data.bgp),
    ...data,
  });
}
