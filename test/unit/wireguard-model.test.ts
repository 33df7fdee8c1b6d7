import { describe, expect, it } from 'vitest';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { computeWireguard, type WireguardModel } from '../../src/agent/calc/routing/wireguard.js';
import { publicKeyOf } from '../../src/agent/dataplane/wireguard/keys.js';
import { Keys } from '../../src/model/keys.js';
import { cidrCovers, parseNet } from '../../src/model/net/cidr.js';
import { parseIp } from '../../src/model/net/ip.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { generateInitialState } from '../../src/testing/sim/index.js';

// Deterministic, valid keys: the public key of a private key made of one repeated byte.
const key = (n: number) => publicKeyOf(Buffer.alloc(32, n));

const nodeKV = (name: string, ip: string | undefined, extra: Record<string, JsonValue> = {}): KV => ({
  key: Keys.node(name),
  value: { metadata: { name }, spec: { bgp: ip === undefined ? {} : { ipv4Address: `${ip}/24`, ...extra } } },
});
/** A /26 affine to `node`; `borrowed` maps ordinals to the node that holds them. */
const blockKV = (cidr: string, node: string | undefined, borrowed: Record<number, string> = {}): KV => {
  const allocations: (number | null)[] = new Array(64).fill(null);
  const attributes: JsonValue[] = [];
  allocations[1] = attributes.push({ handle_id: 'h', secondary: { node: node ?? 'x' } }) - 1;
  for (const [ord, owner] of Object.entries(borrowed))
    allocations[Number(ord)] = attributes.push({ handle_id: 'h', secondary: { node: owner } }) - 1;
  return {
    key: Keys.ipamBlock(cidr),
    value: {
      cidr,
      affinity: node === undefined ? null : `host:${node}`,
      allocations,
      attributes,
      unallocated: [],
    },
  };
};
const wgKV = (node: string, publicKey: string | undefined, iface?: string): KV => ({
  key: Keys.wireguard(node),
  value: { ...(publicKey ? { publicKey } : {}), ...(iface ? { interfaceIPv4Address: iface } : {}) },
});
const cfg = (name: string, value: string | null, node?: string): KV => ({
  key: node === undefined ? Keys.globalConfig(name) : Keys.hostConfig(node, name),
  value,
});

/** Four nodes; n2's block lends 10.65.2.5 to n3; n4 has no key. */
function lab(extra: KV[] = []): RoutingState {
  const s = new RoutingState();
  const u = s.apply([
    cfg('WireguardEnabled', 'true'),
    nodeKV('n1', '10.64.0.1'),
    nodeKV('n2', '10.64.0.2'),
    nodeKV('n3', '10.64.0.3', { ipv4IPIPTunnelAddr: '10.65.3.1' }),
    nodeKV('n4', '10.64.0.4'),
    blockKV('10.65.1.0/26', 'n1'),
    blockKV('10.65.2.0/26', 'n2', { 5: 'n3' }),
    blockKV('10.65.3.0/26', 'n3'),
    blockKV('10.65.4.0/26', 'n4'),
    wgKV('n1', key(1), '10.65.1.9'),
    wgKV('n2', key(2), '10.65.2.9'),
    wgKV('n3', key(3)),
    ...extra,
  ]);
  expect(u.invalid).toEqual([]);
  return s;
}

/** The peer WireGuard sends a packet for `ip` to: longest prefix over all allowed IPs. */
function lpmPeer(model: WireguardModel, ip: string): string | undefined {
  const addr = parseNet(`${ip}/32`)!;
  let best: { node: string; prefix: number } | undefined;
  for (const p of model.peers)
    for (const c of p.allowedIps) {
      const net = parseNet(c)!;
      if (cidrCovers(net, addr) && (best === undefined || net.prefix > best.prefix))
        best = { node: p.node, prefix: net.prefix };
    }
  return best?.node;
}

/** The route the WireGuard table picks for `ip` (longest prefix). */
function routeFor(model: WireguardModel, ip: string): { type: string; node: string } | undefined {
  const addr = parseNet(`${ip}/32`)!;
  const hits = model.routes.filter((r) => cidrCovers(parseNet(r.cidr)!, addr));
  hits.sort((a, b) => parseNet(b.cidr)!.prefix - parseNet(a.cidr)!.prefix);
  return hits[0] && { type: hits[0].type, node: hits[0].node };
}

describe('computeWireguard', () => {
  it('makes a peer of every other node with a unique key: endpoint, blocks, borrowed /32s, tunnel addresses', () => {
    const m = computeWireguard(lab(), 'n1');
    expect(m.enabled).toBe(true);
    expect(m).toMatchObject({
      interfaceName: 'wireguard.cali',
      listenPort: 51820,
      mtu: 1440,
      routingRulePriority: 99,
      persistentKeepaliveSeconds: 0,
      interfaceAddress: '10.65.1.9',
      publishedKey: key(1),
    });
    expect(m.peers).toEqual([
      { node: 'n2', publicKey: key(2), endpoint: '10.64.0.2:51820', allowedIps: ['10.65.2.0/26'] },
      // n3's IPIP address sits in its own block: not listed twice.
      {
        node: 'n3',
        publicKey: key(3),
        endpoint: '10.64.0.3:51820',
        allowedIps: ['10.65.2.5/32', '10.65.3.0/26'],
      },
    ]);
    expect(m.excluded).toEqual(new Map([['n4', 'no-key']]));
    expect(m.routes).toEqual([
      { cidr: '10.65.1.0/26', type: 'throw', node: 'n1' },
      { cidr: '10.65.2.0/26', type: 'device', node: 'n2' },
      { cidr: '10.65.2.5/32', type: 'device', node: 'n3' },
      { cidr: '10.65.3.0/26', type: 'device', node: 'n3' },
      { cidr: '10.65.4.0/26', type: 'throw', node: 'n4' },
    ]);
    expect(m.warnings).toEqual([]);
  });

  it('sends a borrowed address to the borrower, the rest of the block to the lender (LPM)', () => {
    const m = computeWireguard(lab(), 'n1');
    expect(lpmPeer(m, '10.65.2.5')).toBe('n3');
    expect(lpmPeer(m, '10.65.2.4')).toBe('n2');
    expect(lpmPeer(m, '10.65.2.6')).toBe('n2');
    // No CIDR is listed by two peers (WireGuard would move it to the last one set).
    const all = m.peers.flatMap((p) => p.allowedIps);
    expect(new Set(all).size).toBe(all.length);
  });

  it('uses the WireGuard interface address of a peer whose address is outside its blocks', () => {
    const s = lab([wgKV('n2', key(2), '10.66.0.2')]);
    expect(computeWireguard(s, 'n1').peers.find((p) => p.node === 'n2')?.allowedIps).toEqual([
      '10.65.2.0/26',
      '10.66.0.2/32',
    ]);
  });

  it('leaves out nodes that share a key, and throws their CIDRs (plaintext), as Felix', () => {
    const m = computeWireguard(lab([wgKV('n3', key(2))]), 'n1');
    expect(m.peers).toEqual([]);
    expect(m.excluded).toEqual(
      new Map([
        ['n2', 'duplicate-key'],
        ['n3', 'duplicate-key'],
        ['n4', 'no-key'],
      ]),
    );
    expect(m.routes.filter((r) => r.type === 'device')).toEqual([]);
    expect(m.routes.map((r) => r.cidr)).toContain('10.65.2.5/32');
  });

  it('treats a peer that claims our own key as a duplicate', () => {
    const m = computeWireguard(lab([wgKV('n2', key(1))]), 'n1');
    expect(m.excluded.get('n2')).toBe('duplicate-key');
    expect(m.peers.map((p) => p.node)).toEqual(['n3']);
  });

  it('treats the zero key as no key and a node without IPv4 as unreachable', () => {
    const s = lab([wgKV('n2', `${'A'.repeat(43)}=`), nodeKV('n3', undefined)]);
    const m = computeWireguard(s, 'n1');
    expect(m.excluded.get('n2')).toBe('no-key');
    expect(m.excluded.get('n3')).toBe('no-endpoint');
    expect(m.peers).toEqual([]);
  });

  it('throws our own addresses borrowed from a peer’s block, and routes a peer’s address borrowed from ours', () => {
    const s = lab([blockKV('10.65.1.0/26', 'n1', { 7: 'n2' }), blockKV('10.65.2.0/26', 'n2', { 5: 'n1' })]);
    const m = computeWireguard(s, 'n1');
    expect(m.routes).toContainEqual({ cidr: '10.65.1.0/26', type: 'throw', node: 'n1' });
    expect(m.routes).toContainEqual({ cidr: '10.65.2.5/32', type: 'throw', node: 'n1' });
    expect(m.routes).toContainEqual({ cidr: '10.65.1.7/32', type: 'device', node: 'n2' });
    expect(m.peers.find((p) => p.node === 'n2')?.allowedIps).toEqual(['10.65.1.7/32', '10.65.2.0/26']);
  });

  it('is disabled unless WireguardEnabled is true (global or per host)', () => {
    expect(computeWireguard(lab([cfg('WireguardEnabled', null)]), 'n1')).toMatchObject({
      enabled: false,
      peers: [],
      routes: [],
    });
    const s = lab([cfg('WireguardEnabled', 'false', 'n2')]);
    expect(computeWireguard(s, 'n2').enabled).toBe(false);
    expect(computeWireguard(s, 'n1').enabled).toBe(true);
  });

  it('derives the MTU from the host MTU when WireguardMTU is 0 or unset', () => {
    expect(computeWireguard(lab(), 'n1', { hostMtu: 9001 }).mtu).toBe(8941);
    expect(computeWireguard(lab([cfg('WireguardMTU', '0')]), 'n1', { hostMtu: 1450 }).mtu).toBe(1390);
    expect(computeWireguard(lab([cfg('WireguardMTU', '1400')]), 'n1', { hostMtu: 9001 }).mtu).toBe(1400);
  });

  it('reads the other Felix settings, and falls back to defaults with a warning on bad values', () => {
    const m = computeWireguard(
      lab([
        cfg('WireguardListeningPort', '51999'),
        cfg('WireguardListeningPort', '51000', 'n3'),
        cfg('WireguardInterfaceName', 'wg0'),
        cfg('WireguardRoutingRulePriority', '150'),
        cfg('WireguardPersistentKeepAlive', '25'),
      ]),
      'n1',
      { firewallMark: 0x200000, routingTableIndex: 7 },
    );
    expect(m).toMatchObject({
      listenPort: 51999,
      interfaceName: 'wg0',
      routingRulePriority: 150,
      persistentKeepaliveSeconds: 25,
      firewallMark: 0x200000,
      routingTableIndex: 7,
    });
    // Each peer is dialled on the port configured for its own host.
    expect(m.peers.map((p) => p.endpoint)).toEqual(['10.64.0.2:51999', '10.64.0.3:51000']);
    const bad = computeWireguard(
      lab([
        cfg('WireguardInterfaceName', 'a-name-longer-than-15'),
        cfg('WireguardRoutingRulePriority', '40000'),
        cfg('WireguardListeningPort', 'x'),
      ]),
      'n1',
    );
    expect(bad).toMatchObject({
      interfaceName: 'wireguard.cali',
      routingRulePriority: 99,
      listenPort: 51820,
    });
    expect(bad.warnings).toHaveLength(3);
  });

  it('on a simulated cluster: every address routes to its holder, every other keyed node is a peer', () => {
    const kvs = generateInitialState({ nodes: 20, pods: 600, borrowRate: 0.1, wireguardEnabled: true });
    const s = new RoutingState();
    s.apply(kvs);
    const names = [...s.nodes.keys()];
    s.apply(names.map((n, i) => wgKV(n, key(i + 1))));
    const self = names[0]!;
    const m = computeWireguard(s, self);
    expect(m.enabled).toBe(true);
    expect(m.peers.map((p) => p.node).sort()).toEqual(names.slice(1).sort());
    const all = m.peers.flatMap((p) => p.allowedIps);
    expect(new Set(all).size).toBe(all.length);
    let borrowed = 0;
    for (const b of s.blocks.values()) {
      for (const x of b.borrowed) {
        borrowed++;
        // The routing table decides first (our own pods stay local), then WireGuard's LPM.
        expect(routeFor(m, x.ip)).toEqual({ type: x.node === self ? 'throw' : 'device', node: x.node });
        if (x.node !== self) expect(lpmPeer(m, x.ip)).toBe(x.node);
      }
      if (b.node !== undefined && b.node !== self) {
        const probe = parseIp(b.cidr.split('/')[0]!, 'lenient')!;
        expect(probe.version).toBe(4);
        const lent = new Set(b.borrowed.map((x) => x.ip));
        const first = b.cidr.replace(/\.(\d+)\/\d+$/, (_, d) => `.${Number(d) + 1}`).split('/')[0]!;
        if (!lent.has(first)) expect(lpmPeer(m, first)).toBe(b.node);
      }
    }
    expect(borrowed).toBeGreaterThan(0);
  });
});
