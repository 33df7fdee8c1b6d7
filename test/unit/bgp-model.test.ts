// The BGP model of a node (computeBgp) against confd's semantics: mesh, route reflectors,
// BGPPeer expansion (global, node, selectors, reverse peerings, duplicates), ASN choice,
// exports and warnings. States are built from Kubernetes-shaped objects via the converters.

import { describe, expect, it } from 'vitest';
import {
  type BgpModel,
  type BgpPeerModel,
  computeBgp,
  DEFAULT_ASN,
  hashRouterId,
} from '../../src/agent/calc/routing/bgp.js';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { generateInitialState } from '../../src/testing/sim/index.js';
import { affinity, bgpConfig, bgpPeer, node, pool, stateOf } from './bgp-fixtures.js';

function model(state: RoutingState, name: string): BgpModel {
  const m = computeBgp(state, name);
  if (!m.available) throw new Error(m.message);
  return m;
}
const peer = (m: BgpModel, name: string): BgpPeerModel => {
  const p = m.peers.find((x) => x.name === name);
  if (!p) throw new Error(`${name} not in ${m.peers.map((x) => x.name).join(', ')}`);
  return p;
};
const names = (m: BgpModel) => m.peers.map((p) => p.name);

describe('node-to-node mesh', () => {
  const nodes = [node('n1', '10.0.0.9'), node('n2', '10.0.0.10'), node('n3', '10.0.0.11', { asn: 65010 })];

  it('is on by default: one Mesh_ session per other node, with its ASN, from our address', () => {
    const m = model(stateOf(nodes), 'n1');
    expect(m.meshEnabled).toBe(true);
    expect(names(m)).toEqual(['Mesh_10_0_0_10', 'Mesh_10_0_0_11']);
    expect(peer(m, 'Mesh_10_0_0_11')).toMatchObject({
      asNumber: 65010,
      ibgp: false,
      sourceAddress: '10.0.0.9',
    });
    expect(peer(m, 'Mesh_10_0_0_10')).toMatchObject({ asNumber: DEFAULT_ASN, ibgp: true, kind: 'mesh' });
  });

  it('makes the peer with the string-greater address passive, so exactly one side connects', () => {
    const s = stateOf(nodes);
    // "10.0.0.10" < "10.0.0.9" as strings (Calico compares the text, not the number).
    expect(peer(model(s, 'n1'), 'Mesh_10_0_0_10').passive).toBe(false);
    expect(peer(model(s, 'n2'), 'Mesh_10_0_0_9').passive).toBe(true);
    for (const a of ['n1', 'n2', 'n3'])
      for (const p of model(s, a).peers) {
        const back = model(s, p.peerNode!).peers.find((q) => q.peerNode === a)!;
        expect(p.passive !== back.passive, `${a} ↔ ${p.peerNode}`).toBe(true);
      }
  });

  it('is off with nodeToNodeMeshEnabled: false', () => {
    const m = model(stateOf([...nodes, bgpConfig('default', { nodeToNodeMeshEnabled: false })]), 'n1');
    expect(m.meshEnabled).toBe(false);
    expect(m.peers).toEqual([]);
  });

  it('leaves route reflectors out: a reflector has no mesh and no node meshes with it', () => {
    const s = stateOf([...nodes, node('rr', '10.0.0.2', { rr: '224.0.0.1' })]);
    expect(names(model(s, 'n1'))).not.toContain('Mesh_10_0_0_2');
    expect(model(s, 'rr').peers).toEqual([]);
  });

  it('carries the mesh password reference and restart time from BGPConfiguration', () => {
    const m = model(
      stateOf([
        ...nodes,
        bgpConfig('default', {
          nodeMeshPassword: { secretKeyRef: { name: 'bgp-secrets', key: 'mesh' } },
          nodeMeshMaxRestartTime: '2m',
        }),
      ]),
      'n1',
    );
    expect(peer(m, 'Mesh_10_0_0_10')).toMatchObject({
      password: { name: 'bgp-secrets', key: 'mesh' },
      restartSeconds: 120,
    });
  });
});

describe('AS number, router id, per-node configuration', () => {
  it('defaults to 64512, then BGPConfiguration default, then the node’s own ASN', () => {
    expect(model(stateOf([node('a', '10.0.0.1')]), 'a')).toMatchObject({
      asNumber: 64512,
      asSource: 'default',
    });
    const s = stateOf([
      node('a', '10.0.0.1'),
      node('b', '10.0.0.2', { asn: 65002 }),
      bgpConfig('default', { asNumber: 65000 }),
    ]);
    expect(model(s, 'a')).toMatchObject({ asNumber: 65000, asSource: 'bgpconfiguration' });
    expect(model(s, 'b')).toMatchObject({ asNumber: 65002, asSource: 'node' });
    expect(peer(model(s, 'a'), 'Mesh_10_0_0_2').asNumber).toBe(65002);
  });

  it('takes listenPort and prefixAdvertisements from node.<name>, but not asNumber', () => {
    const s = stateOf([
      node('a', '10.0.0.1'),
      node('b', '10.0.0.2'),
      bgpConfig('default', {
        asNumber: 65000,
        listenPort: 1790,
        communities: [{ name: 'c', value: '65000:1' }],
        prefixAdvertisements: [{ cidr: '10.244.0.0/16', communities: ['c'] }],
      }),
      bgpConfig('node.b', {
        asNumber: 65099,
        listenPort: 1791,
        prefixAdvertisements: [{ cidr: '10.244.0.0/16', communities: ['65000:2', '65000:3:4'] }],
      }),
    ]);
    const a = model(s, 'a');
    const b = model(s, 'b');
    expect(a.listenPort).toBe(1790);
    expect(b.listenPort).toBe(1791);
    expect(b.asNumber).toBe(65000);
    // a reaches b on b's own listen port.
    expect(peer(a, 'Mesh_10_0_0_2').port).toBe(1791);
    expect(a.exports.communities).toEqual([{ cidr: '10.244.0.0/16', standard: [[65000, 1]], large: [] }]);
    expect(b.exports.communities).toEqual([
      { cidr: '10.244.0.0/16', standard: [[65000, 2]], large: [[65000, 3, 4]] },
    ]);
  });

  it('router id: the node IPv4, an override, or Calico’s hash of the node name', () => {
    const s = stateOf([node('a', '10.0.0.1')]);
    expect(model(s, 'a').routerId).toBe('10.0.0.1');
    expect((computeBgp(s, 'a', { routerId: '1.2.3.4' }) as BgpModel).routerId).toBe('1.2.3.4');
    const hashed = (computeBgp(s, 'a', { routerId: 'hash' }) as BgpModel).routerId;
    expect(hashed).toBe(hashRouterId('a'));
    expect(Number(hashed.split('.')[0])).toBeLessThan(224);
  });

  it('is unavailable for an unknown node or one without a BGP IPv4 address', () => {
    const s = stateOf([node('noip', undefined)]);
    expect(computeBgp(s, 'ghost')).toMatchObject({ available: false, reason: 'node-unknown' });
    expect(computeBgp(s, 'noip')).toMatchObject({ available: false, reason: 'no-ipv4' });
  });
});

describe('BGPPeer resources', () => {
  const base = [
    node('a', '10.0.1.10', { labels: { rack: 'rack1' } }),
    node('b', '10.0.1.11', { labels: { rack: 'rack1' } }),
    node('c', '10.0.2.10', { labels: { rack: 'rack2' }, asn: 64513 }),
    bgpConfig('default', { nodeToNodeMeshEnabled: false }),
  ];

  it('global (no node/nodeSelector) → Global_ on every node; eBGP keeps the next hop when asked', () => {
    const s = stateOf([
      ...base,
      bgpPeer('tor', { peerIP: '10.0.9.1', asNumber: 65000, keepOriginalNextHop: true }),
    ]);
    for (const n of ['a', 'b', 'c']) {
      const p = peer(model(s, n), 'Global_10_0_9_1');
      expect(p).toMatchObject({
        kind: 'global',
        asNumber: 65000,
        ibgp: false,
        nextHop: 'keep',
        passive: false,
      });
    }
  });

  it('keepOriginalNextHop is ignored for iBGP; nextHopMode wins over it', () => {
    const s = stateOf([
      ...base,
      bgpPeer('ibgp', { peerIP: '10.0.9.1', asNumber: 64512, keepOriginalNextHop: true }),
      bgpPeer('self', {
        peerIP: '10.0.9.2',
        asNumber: 65000,
        keepOriginalNextHop: true,
        nextHopMode: 'Self',
      }),
    ]);
    const m = model(s, 'a');
    expect(peer(m, 'Global_10_0_9_1')).toMatchObject({ ibgp: true, nextHop: undefined });
    expect(peer(m, 'Global_10_0_9_2').nextHop).toBe('self');
  });

  it('node and nodeSelector → Node_ only on the selected nodes; a port goes into the name', () => {
    const s = stateOf([
      ...base,
      bgpPeer('rack1-tor', { nodeSelector: 'rack == "rack1"', peerIP: '10.0.1.1:1790', asNumber: 64512 }),
      bgpPeer('only-c', { node: 'c', peerIP: '10.0.2.1', asNumber: 64513 }),
    ]);
    expect(names(model(s, 'a'))).toEqual(['Node_10_0_1_1_port_1790']);
    expect(peer(model(s, 'a'), 'Node_10_0_1_1_port_1790')).toMatchObject({ port: 1790, ibgp: true });
    expect(names(model(s, 'c'))).toEqual(['Node_10_0_2_1']);
  });

  it('peerSelector expands to the matching nodes with their own ASNs, and peers back (reverse)', () => {
    const s = stateOf([
      ...base,
      bgpPeer('to-rack2', { nodeSelector: 'rack == "rack1"', peerSelector: 'rack == "rack2"' }),
    ]);
    expect(model(s, 'a').peers.map((p) => [p.name, p.asNumber])).toEqual([['Node_10_0_2_10', 64513]]);
    // c matches the peerSelector, so it gets the reverse peerings to rack1.
    expect(model(s, 'c').peers.map((p) => [p.name, p.asNumber, p.sources])).toEqual([
      ['Node_10_0_1_10', 64512, ['to-rack2']],
      ['Node_10_0_1_11', 64512, ['to-rack2']],
    ]);
  });

  it('reversePeering: Manual leaves the other side alone', () => {
    const s = stateOf([
      ...base,
      bgpPeer('to-rack2', {
        nodeSelector: 'rack == "rack1"',
        peerSelector: 'rack == "rack2"',
        reversePeering: 'Manual',
      }),
    ]);
    expect(names(model(s, 'a'))).toEqual(['Node_10_0_2_10']);
    expect(model(s, 'c').peers).toEqual([]);
  });

  it('a peerIP that is a cluster node (same AS) peers back, and the global side is passive by address', () => {
    const s = stateOf([...base, bgpPeer('a-to-b', { node: 'a', peerIP: '10.0.1.11', asNumber: 64512 })]);
    expect(names(model(s, 'a'))).toEqual(['Node_10_0_1_11']);
    expect(names(model(s, 'b'))).toEqual(['Node_10_0_1_10']);
    const g = stateOf([...base, bgpPeer('all-to-b', { peerIP: '10.0.1.11', asNumber: 64512 })]);
    expect(peer(model(g, 'a'), 'Global_10_0_1_11').passive).toBe(true);
    // b is the target: its own Global_ to itself is skipped; it peers back with every node.
    expect(names(model(g, 'b'))).toEqual(['Node_10_0_1_10', 'Node_10_0_2_10']);
  });

  it('removes duplicates: a node peering equal to a global one, two resources for one address, ourselves', () => {
    const s = stateOf([
      ...base,
      bgpPeer('g', { peerIP: '10.0.9.1', asNumber: 65000 }),
      bgpPeer('n', { node: 'a', peerIP: '10.0.9.1', asNumber: 65000 }),
      bgpPeer('x1', { node: 'a', peerIP: '10.0.9.2', asNumber: 65001 }),
      bgpPeer('x2', { node: 'a', peerIP: '10.0.9.2', asNumber: 65002 }),
      bgpPeer('self', { node: 'a', peerIP: '10.0.1.10', asNumber: 64512 }),
    ]);
    const m = model(s, 'a');
    expect(names(m)).toEqual(['Global_10_0_9_1', 'Node_10_0_9_2']);
    // The first resource by name wins (Calico: map order; Tabby: name order, stable everywhere).
    expect(peer(m, 'Node_10_0_9_2')).toMatchObject({ asNumber: 65001, sources: ['x1'] });
  });

  it('carries password refs and session fields; warns when a peerSelector matches nothing', () => {
    const s = stateOf([
      ...base,
      bgpPeer('full', {
        node: 'a',
        peerIP: '10.0.9.1',
        asNumber: 65000,
        localASNumber: 65100,
        password: { secretKeyRef: { name: 'bgp', key: 'tor' } },
        ttlSecurity: 2,
        keepaliveTime: '20s',
        maxRestartTime: '1m30s',
        numAllowedLocalASNumbers: 2,
        sourceAddress: 'None',
        reachableBy: '10.0.1.254',
      }),
      bgpPeer('nobody', { nodeSelector: 'all()', peerSelector: 'role == "missing"' }),
    ]);
    const m = model(s, 'a');
    expect(peer(m, 'Node_10_0_9_1')).toEqual({
      name: 'Node_10_0_9_1',
      kind: 'node',
      ip: '10.0.9.1',
      port: undefined,
      asNumber: 65000,
      localAsNumber: 65100,
      ibgp: false,
      sourceAddress: undefined,
      passive: false,
      ttlSecurityHops: 2,
      keepaliveSeconds: 20,
      restartSeconds: 90,
      rrClusterId: undefined,
      nextHop: undefined,
      allowLocalAs: 2,
      password: { name: 'bgp', key: 'tor' },
      reachableBy: '10.0.1.254',
      peerNode: undefined,
      sources: ['full'],
    });
    expect(m.warnings).toContainEqual(
      expect.objectContaining({ code: 'peer-selector-empty', resource: 'BGPPeer/nobody' }),
    );
  });

  it('route reflector: iBGP peers without its cluster ID are clients; eBGP and fellow reflectors are not', () => {
    const s = stateOf([
      node('rr1', '10.0.0.1', { rr: '224.0.0.1', labels: { rr: 'true' } }),
      node('rr2', '10.0.0.2', { rr: '224.0.0.1', labels: { rr: 'true' } }),
      node('w1', '10.0.0.11'),
      node('w2', '10.0.0.12', { asn: 64513 }),
      bgpConfig('default', { nodeToNodeMeshEnabled: false }),
      bgpPeer('peer-to-rr', { nodeSelector: '!has(rr)', peerSelector: 'has(rr)' }),
      bgpPeer('rr-mesh', { nodeSelector: 'has(rr)', peerSelector: 'has(rr)' }),
    ]);
    const rr = model(s, 'rr1');
    expect(rr.peers.map((p) => [p.name, p.rrClusterId, p.ibgp])).toEqual([
      ['Node_10_0_0_11', '224.0.0.1', true],
      ['Node_10_0_0_12', undefined, false],
      ['Node_10_0_0_2', undefined, true],
    ]);
    expect(model(s, 'w1').peers.map((p) => [p.name, p.rrClusterId])).toEqual([
      ['Node_10_0_0_1', undefined],
      ['Node_10_0_0_2', undefined],
    ]);
  });
});

describe('exports', () => {
  const services = bgpConfig('default', {
    serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
    serviceExternalIPs: [{ cidr: '192.168.100.0/24' }, { cidr: '192.168.100.7/32' }],
    serviceLoadBalancerIPs: [{ cidr: '192.168.200.0/24' }],
  });

  it('confirmed blocks only; pools by encapsulation and disableBGPExport', () => {
    const s = stateOf([
      node('a', '10.0.0.1'),
      pool('plain', '10.244.0.0/16'),
      pool('vx', '10.245.0.0/16', { vxlanMode: 'Always' }),
      pool('ipip', '10.246.0.0/16', { ipipMode: 'CrossSubnet' }),
      pool('private', '10.247.0.0/16', { disableBGPExport: true }),
      affinity('a', '10.244.1.0/26'),
      affinity('a', '10.244.2.0/26', 'pending'),
    ]);
    const e = model(s, 'a').exports;
    expect(e.blocks).toEqual(['10.244.1.0/26']);
    expect(e.pools.map((p) => [p.cidr, p.exportAction, p.kernelAction])).toEqual([
      ['10.244.0.0/16', 'accept', 'accept'],
      ['10.245.0.0/16', 'accept', 'reject'],
      ['10.246.0.0/16', 'accept', 'reject'],
      ['10.247.0.0/16', 'reject', 'accept'],
    ]);
    expect(e.ibgpRejectInterfaces).toContain('tunl0');
  });

  it('service ranges from every node (not single /32s); reflectors also pass on LB and external ranges', () => {
    const s = stateOf([node('a', '10.0.0.1'), node('rr', '10.0.0.2', { rr: '224.0.0.1' }), services]);
    const a = model(s, 'a').exports;
    expect(a.serviceRoutes).toEqual(['10.96.0.0/12', '192.168.100.0/24', '192.168.200.0/24']);
    expect(a.serviceRejects).toEqual(a.serviceRoutes);
    expect(a.reflectedServiceRanges).toEqual([]);
    expect(model(s, 'rr').exports.reflectedServiceRanges).toEqual([
      '192.168.100.0/24',
      '192.168.100.7/32',
      '192.168.200.0/24',
    ]);
  });

  it('a node excluded from external load balancers advertises no service ranges but still rejects them', () => {
    const s = stateOf([
      node('a', '10.0.0.1', {
        labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' },
      }),
      services,
    ]);
    const e = model(s, 'a').exports;
    expect(e.serviceRoutes).toEqual([]);
    expect(e.serviceRejects).toHaveLength(3);
  });
});

describe('the simulated cluster (seed BGP resources, mesh on)', () => {
  const state = new RoutingState();
  state.apply(generateInitialState({ nodes: 30, pods: 300, borrowRate: 0.05 }));
  const all = [...state.nodes.values()];
  const rrs = all.filter((n) => n.routeReflectorClusterId);

  it('every node has a model; non-reflectors mesh with every other non-reflector and peer with the reflectors', () => {
    expect(rrs).toHaveLength(2);
    for (const n of all) {
      const m = model(state, n.name);
      expect(m.warnings).toEqual([]);
      const mesh = m.peers.filter((p) => p.kind === 'mesh');
      if (n.routeReflectorClusterId) {
        expect(mesh).toEqual([]);
        // Reverse of peer-to-rr: every client, plus the other reflector (rr-to-rr-mesh).
        expect(m.peers.filter((p) => p.peerNode !== undefined)).toHaveLength(all.length - 1);
      } else {
        expect(mesh).toHaveLength(all.length - 1 - rrs.length);
        for (const r of rrs)
          expect(m.peers.some((p) => p.peerNode === r.name && p.kind === 'node')).toBe(true);
      }
      expect(m.exports.blocks).toEqual(state.confirmedBlocks(n.name));
    }
  });

  it('borrowed addresses are listed for the borrowing node', () => {
    const borrowed = [...state.blocks.values()].flatMap((b) => b.borrowed);
    expect(borrowed.length).toBeGreaterThan(0);
    for (const { ip, node: n } of borrowed) expect(model(state, n).exports.borrowed).toContain(`${ip}/32`);
  });
});
