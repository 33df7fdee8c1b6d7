// IPPool rules: enabled pools that overlap each other (IPAM can hand the same address to two
// pods), and pools that overlap the nodes' own subnets or the service cluster IP range
// (seeds' common mistake #6 and the IPPool example's "must not overlap node, service…").

import { type Cidr, cidrsOverlap, formatCidr, parseNet } from '../../model/net/cidr.js';
import type { JsonValue } from '../../model/types.js';
import type { NodeInfo, PoolInfo } from '../../model/values/routing.js';
import { type Finding, nameList, resourceRef } from '../finding.js';
import type { ResolvedLintOptions } from '../options.js';
import type { RoutingValues } from '../view.js';

const poolRef = (p: { readonly name: string }): string => resourceRef('IPPool', undefined, p.name);
const enabled = (state: RoutingValues): PoolInfo[] =>
  [...state.pools.values()].filter((p) => !p.disabled).sort((a, b) => (a.name < b.name ? -1 : 1));

export function poolOverlapRule(state: RoutingValues): Finding[] {
  const pools = enabled(state);
  const out: Finding[] = [];
  for (let i = 0; i < pools.length; i++)
    for (let j = i + 1; j < pools.length; j++) {
      const [a, b] = [pools[i]!, pools[j]!];
      if (cidrsOverlap(a.net, b.net)) out.push(overlapFinding(b, a.name, a.cidr));
    }
  return out;
}

function overlapFinding(
  pool: { readonly name: string; readonly cidr: string },
  otherName: string,
  otherCidr: string,
  sameKey = false,
): Finding {
  return {
    rule: 'ippool-overlap',
    severity: 'error',
    resource: poolRef(pool),
    related: [resourceRef('IPPool', undefined, otherName)],
    message:
      `IPPools ${pool.name} (${pool.cidr}) and ${otherName} (${otherCidr}) are both enabled and overlap` +
      (sameKey
        ? ': they have the same CIDR, so one replaces the other in the datastore model.'
        : ': IPAM may assign the same address to two pods.'),
    fix: `Give one of them a CIDR that does not overlap the other, or set spec.disabled: true on the one being retired.`,
  };
}

/**
 * Pools defined twice with the same CIDR: the model keys pools by CIDR, so only a list of KVs
 * (before it is reduced to a state) still shows both.
 */
export function sameCidrPools(pools: readonly { key: string; value: JsonValue }[]): Finding[] {
  const byKey = new Map<string, string>();
  const out: Finding[] = [];
  for (const { key, value } of pools) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const name = typeof value['name'] === 'string' ? value['name'] : '';
    const cidr = typeof value['cidr'] === 'string' ? value['cidr'] : '';
    if (value['disabled'] === true || name === '') continue;
    const prev = byKey.get(key);
    if (prev !== undefined && prev !== name) out.push(overlapFinding({ name, cidr }, prev, cidr, true));
    byKey.set(key, name);
  }
  return out;
}

interface Network {
  readonly net: Cidr;
  readonly text: string;
  readonly what: string;
  readonly nodes: string[];
  readonly resource?: string;
}

/** Node subnets (Node spec.bgp.ipv4Address with its prefix; bare addresses as /32, /128). */
function nodeNetworks(nodes: Iterable<NodeInfo>): Network[] {
  const bySubnet = new Map<string, Network>();
  for (const n of nodes)
    for (const text of [n.ipv4Cidr ?? n.ipv4, n.ipv6]) {
      const net = text === undefined ? undefined : parseNet(text);
      if (net === undefined || text === undefined) continue;
      const key = `${net.version}/${net.addr}/${net.prefix}`;
      const withPrefix = text.includes('/');
      const entry = bySubnet.get(key) ?? {
        net,
        text: withPrefix ? `${subnetText(text)}` : text,
        what: withPrefix ? 'the subnet of node' : 'the address of node',
        nodes: [],
      };
      entry.nodes.push(n.name);
      bySubnet.set(key, entry);
    }
  return [...bySubnet.values()];
}

/** "10.0.1.5/24" → "10.0.1.0/24" for v4; other text as is. */
function subnetText(text: string): string {
  const c = parseNet(text);
  return c === undefined || c.version !== 4 ? text : formatCidr(c);
}

function serviceNetworks(state: RoutingValues, opts: ResolvedLintOptions): Network[] {
  const out: Network[] = [];
  const config = state.bgpConfigurations.get('default');
  const list = config?.spec['serviceClusterIPs'];
  if (Array.isArray(list))
    for (const e of list) {
      const text = typeof e === 'object' && e !== null && !Array.isArray(e) ? e['cidr'] : undefined;
      const net = typeof text === 'string' ? parseNet(text) : undefined;
      if (net !== undefined && typeof text === 'string')
        out.push({
          net,
          text,
          what: 'the service cluster IP range (BGPConfiguration default serviceClusterIPs)',
          nodes: [],
          resource: resourceRef('BGPConfiguration', undefined, 'default'),
        });
    }
  for (const text of opts.serviceCidrs) {
    const net = parseNet(text);
    if (net !== undefined && !out.some((n) => n.text === text))
      out.push({ net, text, what: 'the service cluster IP range (--service-cidr)', nodes: [] });
  }
  return out;
}

export function poolNetworkRule(state: RoutingValues, opts: ResolvedLintOptions): Finding[] {
  const out: Finding[] = [];
  const nodes = nodeNetworks(state.nodes.values());
  const services = serviceNetworks(state, opts);
  for (const pool of enabled(state)) {
    // A LoadBalancer pool in the nodes' subnet is a normal L2 design; only services count.
    const lbOnly = pool.allowedUses.length === 1 && pool.allowedUses[0] === 'LoadBalancer';
    for (const n of lbOnly ? services : [...nodes, ...services]) {
      if (!cidrsOverlap(pool.net, n.net)) continue;
      const isNode = n.nodes.length > 0;
      out.push({
        rule: 'ippool-overlaps-network',
        severity: 'error',
        resource: poolRef(pool),
        related: isNode
          ? n.nodes.map((name) => resourceRef('Node', undefined, name))
          : n.resource !== undefined
            ? [n.resource]
            : [],
        message: isNode
          ? `IPPool ${pool.name} (${pool.cidr}) overlaps ${n.text}, ${n.what}${n.nodes.length > 1 ? 's' : ''} ${nameList(n.nodes)}: pods can get addresses of the host network, and traffic to them is routed to the hosts instead.`
          : `IPPool ${pool.name} (${pool.cidr}) overlaps ${n.text}, ${n.what}: pod addresses and service cluster IPs collide, so traffic to those pods is captured by service NAT rules.`,
        fix: `Move IPPool ${pool.name} to a CIDR that overlaps no node, service, VPC, VPN or on-premises range (create the new pool, disable this one, then migrate the pods).`,
      });
    }
  }
  return out;
}
