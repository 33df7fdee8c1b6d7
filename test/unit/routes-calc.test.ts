import { describe, expect, it } from 'vitest';
import {
  birdOwnsNoEncap,
  computeRoutes,
  type DesiredRoute,
  planRoutes,
} from '../../src/agent/calc/routing/routes.js';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { Keys } from '../../src/model/keys.js';
import { cidrContains, parseNet } from '../../src/model/net/cidr.js';
import { parseIp } from '../../src/model/net/ip.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { generateInitialState } from '../../src/testing/sim/index.js';

/** The route the kernel would pick for `ip`: longest prefix wins. */
function lookup(routes: readonly DesiredRoute[], ip: string): DesiredRoute | undefined {
  const addr = parseIp(ip, 'lenient')!;
  let best: DesiredRoute | undefined;
  let bestLen = -1;
  for (const r of routes) {
    const net = parseNet(r.dst)!;
    if (cidrContains(net, addr) && net.prefix > bestLen) [best, bestLen] = [r, net.prefix];
  }
  return best;
}

// Hand-built cluster: node a (10.0.1.1/24), b (same subnet), c (10.0.2.1/24, another subnet).
const node = (name: string, cidr: string): KV => ({
  key: Keys.node(name),
  value: { kind: 'Node', metadata: { name }, spec: { bgp: { ipv4Address: cidr } } },
});
const pool = (cidr: string, ipipMode: string, vxlanMode: string, name = `pool-${cidr}`): KV => ({
  key: Keys.ipPool(cidr),
  value: { name, cidr, blockSize: 26, ipipMode, vxlanMode, nodeSelector: 'all()' },
});
/** A /26 block affine to `owner`; `allocs` maps ordinal → node holding it. */
const block = (cidr: string, owner: string | undefined, allocs: Record<number, string> = {}): KV => {
  const allocations: JsonValue[] = Array(64).fill(null);
  const attributes: JsonValue[] = [];
  for (const [ord, n] of Object.entries(allocs)) {
    allocations[Number(ord)] = attributes.length;
    attributes.push({ handle_id: `h-${ord}`, secondary: { node: n } });
  }
  return {
    key: Keys.ipamBlock(cidr),
    value: { cidr, ...(owner ? { affinity: `host:${owner}` } : {}), allocations, attributes },
  };
};
const vtep = (n: string, ip: string): KV => ({ key: Keys.hostConfig(n, 'IPv4VXLANTunnelAddr'), value: ip });

function handState(mode: { ipip: string; vxlan: string }, extra: KV[] = []): RoutingState {
  const s = new RoutingState();
  const u = s.apply([
    node('a', '10.0.1.1/24'),
    node('b', '10.0.1.2/24'),
    node('c', '10.0.2.1/24'),
    pool('10.244.0.0/16', mode.ipip, mode.vxlan),
    block('10.244.0.0/26', 'a', { 1: 'a', 2: 'b' }), // .2 borrowed by b
    block('10.244.0.64/26', 'b', { 1: 'b', 5: 'a' }), // .69 borrowed by a (us)
    block('10.244.0.128/26', 'c', { 1: 'c', 3: 'b' }), // .131 borrowed by b
    vtep('a', '10.244.0.0'),
    vtep('b', '10.244.0.64'),
    vtep('c', '10.244.0.128'),
    ...extra,
  ]);
  expect(u.invalid).toEqual([]);
  return s;
}
const byDst = (routes: readonly DesiredRoute[]) =>
  Object.fromEntries(routes.map(({ reason: _r, ...rest }) => [rest.dst, rest]));

describe('computeRoutes on hand-built clusters (node a)', () => {
  it('no encapsulation, direct mode: same-subnet next hops, off-subnet ones reported', () => {
    const plan = planRoutes(handState({ ipip: 'Never', vxlan: 'Never' }), 'a', { mode: 'direct' });
    expect(byDst(plan.routes)).toEqual({
      '10.244.0.0/26': { dst: '10.244.0.0/26', type: 'blackhole' },
      '10.244.0.2/32': { dst: '10.244.0.2/32', type: 'unicast', via: '10.0.1.2' },
      '10.244.0.64/26': { dst: '10.244.0.64/26', type: 'unicast', via: '10.0.1.2' },
      '10.244.0.131/32': { dst: '10.244.0.131/32', type: 'unicast', via: '10.0.1.2' },
    });
    // c's block has no direct next hop: a warning, not a route.
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toMatchObject({ dst: '10.244.0.128/26', node: 'c' });
    expect(plan.warnings[0]!.message).toMatch(/unroutable.*outside this node's subnet/);
    // Our own borrowed address (.69 from b's block) gets no route to b's block owner.
    expect(plan.routes.some((r) => r.dst === '10.244.0.69/32')).toBe(false);
    // Longest prefix: .2 in our blackholed block goes to its borrower b; .131 in c's block to b.
    expect(lookup(plan.routes, '10.244.0.2')?.via).toBe('10.0.1.2');
    expect(lookup(plan.routes, '10.244.0.3')?.type).toBe('blackhole');
  });

  it('no encapsulation, bgp mode: BIRD owns everything, the agent programs nothing', () => {
    const plan = planRoutes(handState({ ipip: 'Never', vxlan: 'Never' }), 'a', { mode: 'bgp' });
    expect(plan.routes).toEqual([]);
    expect(plan.warnings).toEqual([]);
    expect(plan.leftToBgp).toEqual([
      '10.244.0.0/26',
      '10.244.0.2/32',
      '10.244.0.64/26',
      '10.244.0.128/26',
      '10.244.0.131/32',
    ]);
  });

  it('bgp mode, BGPConfiguration keeps no-encap routes from BIRD: the agent takes them', () => {
    const bgpConfig = (programClusterRoutes?: string): KV => ({
      key: Keys.bgpConfiguration('default'),
      value: { metadata: { name: 'default' }, spec: programClusterRoutes ? { programClusterRoutes } : {} },
    });
    for (const v of ['Disabled', 'EnabledIPIPOnly']) {
      const s = handState({ ipip: 'Never', vxlan: 'Never' }, [bgpConfig(v)]);
      expect(birdOwnsNoEncap(s)).toBe(false);
      expect(computeRoutes(s, 'a', { mode: 'bgp' })).toEqual(computeRoutes(s, 'a', { mode: 'direct' }));
    }
    for (const v of [undefined, 'EnabledNoEncapOnly', 'Enabled']) {
      const s = handState({ ipip: 'Never', vxlan: 'Never' }, [bgpConfig(v)]);
      expect(birdOwnsNoEncap(s)).toBe(true);
      expect(computeRoutes(s, 'a', { mode: 'bgp' })).toEqual([]);
    }
  });

  it('IPIP Always: every remote route via the node IP dev tunl0 onlink, in both modes', () => {
    const s = handState({ ipip: 'Always', vxlan: 'Never' });
    const routes = computeRoutes(s, 'a', { mode: 'bgp' });
    expect(byDst(routes)).toEqual({
      '10.244.0.0/26': { dst: '10.244.0.0/26', type: 'blackhole' },
      '10.244.0.2/32': { dst: '10.244.0.2/32', type: 'unicast', via: '10.0.1.2', dev: 'tunl0', onlink: true },
      '10.244.0.64/26': {
        dst: '10.244.0.64/26',
        type: 'unicast',
        via: '10.0.1.2',
        dev: 'tunl0',
        onlink: true,
      },
      '10.244.0.128/26': {
        dst: '10.244.0.128/26',
        type: 'unicast',
        via: '10.0.2.1',
        dev: 'tunl0',
        onlink: true,
      },
      '10.244.0.131/32': {
        dst: '10.244.0.131/32',
        type: 'unicast',
        via: '10.0.1.2',
        dev: 'tunl0',
        onlink: true,
      },
    });
    expect(computeRoutes(s, 'a', { mode: 'direct' })).toEqual(routes);
    expect(routes.find((r) => r.dst === '10.244.0.128/26')!.reason).toMatch(/node c.*IPIP/);
  });

  it('IPIP CrossSubnet: plain next hop on the subnet, tunnel across it', () => {
    const r = byDst(computeRoutes(handState({ ipip: 'CrossSubnet', vxlan: 'Never' }), 'a', { mode: 'bgp' }));
    expect(r['10.244.0.64/26']).toEqual({ dst: '10.244.0.64/26', type: 'unicast', via: '10.0.1.2' });
    expect(r['10.244.0.128/26']).toEqual({
      dst: '10.244.0.128/26',
      type: 'unicast',
      via: '10.0.2.1',
      dev: 'tunl0',
      onlink: true,
    });
  });

  it('VXLAN Always: via the VTEP address dev vxlan.calico onlink; a node without VTEP is reported', () => {
    const s = handState({ ipip: 'Never', vxlan: 'Always' });
    const r = byDst(computeRoutes(s, 'a', { mode: 'direct' }));
    expect(r['10.244.0.128/26']).toEqual({
      dst: '10.244.0.128/26',
      type: 'unicast',
      via: '10.244.0.128',
      dev: 'vxlan.calico',
      onlink: true,
    });
    expect(r['10.244.0.2/32']).toMatchObject({ via: '10.244.0.64', dev: 'vxlan.calico' });
    s.apply([{ key: Keys.hostConfig('c', 'IPv4VXLANTunnelAddr'), value: null }]);
    const plan = planRoutes(s, 'a', { mode: 'bgp', vxlanDevice: 'vx0' });
    expect(plan.routes.some((x) => x.dst === '10.244.0.128/26')).toBe(false);
    expect(plan.routes.find((x) => x.dst === '10.244.0.64/26')?.dev).toBe('vx0');
    expect(plan.warnings).toEqual([
      { dst: '10.244.0.128/26', node: 'c', message: 'node c has no VXLAN tunnel address yet' },
    ]);
  });

  it('VXLAN CrossSubnet: same subnet plain (the agent owns it even in bgp mode), across via VXLAN', () => {
    const r = byDst(computeRoutes(handState({ ipip: 'Never', vxlan: 'CrossSubnet' }), 'a', { mode: 'bgp' }));
    expect(r['10.244.0.64/26']).toEqual({ dst: '10.244.0.64/26', type: 'unicast', via: '10.0.1.2' });
    expect(r['10.244.0.128/26']).toMatchObject({ via: '10.244.0.128', dev: 'vxlan.calico', onlink: true });
  });

  it('a block moved to another node moves its route; our new block becomes a blackhole', () => {
    const s = handState({ ipip: 'Always', vxlan: 'Never' });
    s.apply([block('10.244.0.128/26', 'b', { 1: 'b' })]);
    let r = byDst(computeRoutes(s, 'a', { mode: 'direct' }));
    expect(r['10.244.0.128/26']).toMatchObject({ via: '10.0.1.2', dev: 'tunl0' });
    expect(r['10.244.0.131/32']).toBeUndefined(); // no longer borrowed
    s.apply([block('10.244.0.128/26', 'a', { 1: 'a' })]);
    r = byDst(computeRoutes(s, 'a', { mode: 'direct' }));
    expect(r['10.244.0.128/26']).toEqual({ dst: '10.244.0.128/26', type: 'blackhole' });
    // And from b's side, the moved block is routed to a.
    expect(byDst(computeRoutes(s, 'b', { mode: 'direct' }))['10.244.0.128/26']).toMatchObject({
      via: '10.0.1.1',
    });
  });

  it('local workloads get /32 dev routes, which also keep our borrowed address local', () => {
    const s = handState({ ipip: 'Always', vxlan: 'Never' });
    const routes = computeRoutes(s, 'a', {
      mode: 'bgp',
      localWorkloads: new Map([
        ['10.244.0.1', 'cali1'],
        ['10.244.0.69', 'cali2'],
      ]),
    });
    expect(lookup(routes, '10.244.0.69')).toMatchObject({ dst: '10.244.0.69/32', dev: 'cali2' });
    expect(lookup(routes, '10.244.0.70')).toMatchObject({ dst: '10.244.0.64/26', via: '10.0.1.2' });
  });

  it('a block of an unknown node, and a node without subnet, are reported, not guessed', () => {
    const s = handState({ ipip: 'Never', vxlan: 'Never' }, [block('10.244.1.0/26', 'ghost')]);
    const plan = planRoutes(s, 'a', { mode: 'direct' });
    expect(plan.warnings).toContainEqual({
      dst: '10.244.1.0/26',
      node: 'ghost',
      message: 'no IPv4 address known for node ghost',
    });
    s.apply([node('a', '10.0.1.1')]);
    const bare = planRoutes(s, 'a', { mode: 'direct' });
    expect(bare.routes.map((r) => r.type)).toEqual(['blackhole']);
  });
});

describe('computeRoutes on the simulated cluster (borrowing on)', () => {
  const kvs = generateInitialState({ nodes: 20, pods: 600, borrowRate: 0.05 });
  const state = new RoutingState();
  state.apply(kvs);
  const blocks = [...state.blocks.values()];
  const borrowed = blocks.flatMap((b) => b.borrowed.map((x) => ({ ...x, block: b })));
  const me = borrowed[0]!.node; // a node that borrowed, so every case shows up

  it('has borrowing to test', () => {
    expect(borrowed.length).toBeGreaterThan(5);
  });

  it('direct mode: every allocated address resolves to its holder (or is local / unroutable)', () => {
    // Our own pods (here: the addresses we borrowed) as the agent would pass them.
    const ownBorrowed = borrowed.filter((x) => x.node === me);
    const local = new Map(ownBorrowed.map((x, i) => [x.ip, `cali${i}`]));
    const plan = planRoutes(state, me, { mode: 'direct', localWorkloads: local });
    const mine = state.nodes.get(me)!;
    const subnet = parseNet(mine.ipv4Cidr!)!;
    const unroutable = new Set(plan.warnings.map((w) => w.dst));
    for (const b of blocks) {
      if (b.node === me)
        expect(plan.routes).toContainEqual(expect.objectContaining({ dst: b.cidr, type: 'blackhole' }));
      else if (cidrContains(subnet, parseIp(state.nodes.get(b.node!)!.ipv4!, 'lenient')!))
        expect(lookup(plan.routes, b.cidr.split('/')[0]!)?.via).toBe(state.nodes.get(b.node!)!.ipv4);
      else expect(unroutable.has(b.cidr)).toBe(true);
    }
    expect(ownBorrowed.length).toBeGreaterThan(0);
    for (const x of borrowed) {
      const r = lookup(plan.routes, x.ip);
      if (x.node === me) {
        // Local: delivered to our own pod, never sent back to the lender.
        expect(r).toMatchObject({ dst: `${x.ip}/32`, dev: local.get(x.ip) });
      } else if (unroutable.has(`${x.ip}/32`)) expect(r?.dst).not.toBe(`${x.ip}/32`);
      else expect(r).toMatchObject({ dst: `${x.ip}/32`, via: state.nodes.get(x.node)!.ipv4 });
    }
    // Sim racks are /24 subnets: some peers are off-subnet, and say so.
    expect(plan.warnings.every((w) => /unroutable/.test(w.message))).toBe(true);
  });

  it('bgp mode: the sim pools do not encapsulate, so BIRD owns all; IPIP hands them to the agent', () => {
    const plan = planRoutes(state, me, { mode: 'bgp' });
    expect(plan.routes).toEqual([]);
    expect(plan.leftToBgp.length).toBe(
      blocks.filter((b) => b.node !== undefined).length + borrowed.filter((x) => x.node !== me).length,
    );
    const ipip = new RoutingState();
    ipip.apply(
      kvs.map((kv) =>
        kv.key.includes('/ipam/v4/pool/') && kv.value !== null
          ? { key: kv.key, value: { ...(kv.value as object), ipipMode: 'Always' } }
          : kv,
      ),
    );
    const routes = computeRoutes(ipip, me, { mode: 'bgp' });
    expect(routes.length).toBe(plan.leftToBgp.length);
    for (const r of routes) if (r.type === 'unicast') expect(r).toMatchObject({ dev: 'tunl0', onlink: true });
    for (const x of borrowed.filter((y) => y.node !== me))
      expect(lookup(routes, x.ip)).toMatchObject({ via: state.nodes.get(x.node)!.ipv4 });
  });
});
