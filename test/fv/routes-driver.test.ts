// The route driver against a real kernel routing table, in a network namespace of its own
// (prefix trt): blackholes and via-routes on a veth, idempotent re-apply, minimal changes when
// the routing state changes, foreign routes untouched, cleanup removing only ours.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { RouteApplyError, RouteDataplane, RouteTableDriver } from '../../src/agent/dataplane/routes/index.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { describeE2E, which } from '../e2e/harness/preflight.js';

const NS = `trt-rt-${process.pid}-${randomBytes(2).toString('hex')}`;
const ip = (...args: string[]) => execFileSync('ip', ['-n', NS, ...args], { encoding: 'utf8' });
const routesIn = (table = 'main') =>
  ip('route', 'show', 'table', table)
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();

function prerequisites(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (namespaces and routes need uid 0)';
  if (which('ip') === undefined) return 'missing tool: ip (iproute2)';
  try {
    execFileSync('ip', ['netns', 'add', NS]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  }
  return undefined;
}
const reason = prerequisites();

// Node a = 10.88.0.1/24 on the veth trt0 inside NS; b, c are on the same subnet; pools no-encap.
const node = (name: string, addr: string): KV => ({
  key: Keys.node(name),
  value: { kind: 'Node', metadata: { name }, spec: { bgp: { ipv4Address: `${addr}/24` } } },
});
const block = (cidr: string, owner: string, allocs: Record<number, string> = {}): KV => {
  const allocations: JsonValue[] = Array(64).fill(null);
  const attributes: JsonValue[] = [];
  for (const [ord, n] of Object.entries(allocs)) {
    allocations[Number(ord)] = attributes.length;
    attributes.push({ handle_id: `h${ord}`, secondary: { node: n } });
  }
  return { key: Keys.ipamBlock(cidr), value: { cidr, affinity: `host:${owner}`, allocations, attributes } };
};
const initial: KV[] = [
  node('a', '10.88.0.1'),
  node('b', '10.88.0.2'),
  node('c', '10.88.0.3'),
  {
    key: Keys.ipPool('10.244.0.0/16'),
    value: { cidr: '10.244.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never' },
  },
  block('10.244.0.0/26', 'a', { 1: 'a', 2: 'c' }),
  block('10.244.0.64/26', 'b', { 1: 'b' }),
  block('10.244.0.128/26', 'c', { 1: 'c' }),
];

describeE2E('route driver in a network namespace', reason, () => {
  beforeAll(() => {
    ip('link', 'add', 'trt0', 'type', 'veth', 'peer', 'name', 'trt1');
    ip('addr', 'add', '10.88.0.1/24', 'dev', 'trt0');
    for (const d of ['lo', 'trt0', 'trt1']) ip('link', 'set', d, 'up');
    // Foreign routes: one BIRD-like, one static, one in our protocol's table range but another proto.
    ip('route', 'add', '10.250.0.0/24', 'via', '10.88.0.9', 'proto', 'bird');
    ip('route', 'add', 'blackhole', '10.251.0.0/24', 'proto', 'static');
  });
  afterAll(() => {
    try {
      execFileSync('ip', ['netns', 'del', NS]);
    } catch {
      // already gone
    }
  });

  const state = new RoutingState();
  state.apply(initial);
  const dp = new RouteDataplane('a', 'direct', { netns: NS }, silentLogger);

  it('programs blackholes and via-routes, with our protocol, beside foreign routes', async () => {
    await dp.sync(state);
    expect(dp.lastPlan!.warnings).toEqual([]);
    expect(dp.lastResult!.replaced.map((r) => r.dst)).toEqual([
      '10.244.0.0/26',
      '10.244.0.2/32',
      '10.244.0.64/26',
      '10.244.0.128/26',
    ]);
    expect(routesIn()).toEqual(
      [
        '10.88.0.0/24 dev trt0 proto kernel scope link src 10.88.0.1',
        'blackhole 10.244.0.0/26 proto 81',
        '10.244.0.2 via 10.88.0.3 dev trt0 proto 81',
        '10.244.0.64/26 via 10.88.0.2 dev trt0 proto 81',
        '10.244.0.128/26 via 10.88.0.3 dev trt0 proto 81',
        '10.250.0.0/24 via 10.88.0.9 dev trt0 proto bird',
        'blackhole 10.251.0.0/24 proto static',
      ].sort(),
    );
    // The kernel's own lookup agrees: the borrowed address beats our blackhole.
    expect(ip('route', 'get', '10.244.0.2')).toContain('via 10.88.0.3');
    expect(ip('route', 'get', '10.244.0.65')).toContain('via 10.88.0.2');
  });

  it('re-applying the same state changes nothing', async () => {
    const before = routesIn();
    await dp.sync(state);
    expect(dp.lastResult).toMatchObject({ replaced: [], removed: [], conflicts: [], unchanged: 4 });
    expect(routesIn()).toEqual(before);
  });

  it('a changed state changes only the affected routes', async () => {
    // b's block moves to c; c's borrowed address in our block is released.
    state.apply([block('10.244.0.64/26', 'c', { 1: 'c' }), block('10.244.0.0/26', 'a', { 1: 'a' })]);
    await dp.sync(state);
    expect(dp.lastResult!.replaced.map((r) => r.dst)).toEqual(['10.244.0.64/26']);
    expect(dp.lastResult!.removed.map((r) => r.dst)).toEqual(['10.244.0.2/32']);
    expect(dp.lastResult!.unchanged).toBe(2);
    const now = routesIn();
    expect(now).toContain('10.244.0.64/26 via 10.88.0.3 dev trt0 proto 81');
    expect(now.some((l) => l.startsWith('10.244.0.2 '))).toBe(false);
    expect(now).toContain('10.250.0.0/24 via 10.88.0.9 dev trt0 proto bird');
    expect(now).toContain('blackhole 10.251.0.0/24 proto static');
  });

  it('leaves a destination held by another protocol alone and reports it', async () => {
    ip('route', 'add', '10.244.1.0/26', 'via', '10.88.0.9', 'proto', 'bird');
    state.apply([block('10.244.1.0/26', 'b', { 1: 'b' })]);
    await dp.sync(state);
    expect(dp.lastResult!.conflicts.map((c) => c.route.dst)).toEqual(['10.244.1.0/26']);
    expect(routesIn()).toContain('10.244.1.0/26 via 10.88.0.9 dev trt0 proto bird');
    ip('route', 'del', '10.244.1.0/26', 'proto', 'bird');
    await dp.sync(state);
    expect(routesIn()).toContain('10.244.1.0/26 via 10.88.0.2 dev trt0 proto 81');
  });

  it('names the failing route; the others are still written', async () => {
    const driver = new RouteTableDriver({ netns: NS, table: 1234 });
    const err = await driver
      .apply([
        { dst: '10.244.5.0/26', type: 'blackhole', reason: 'test' },
        { dst: '10.244.6.0/26', type: 'unicast', via: '10.99.0.1', reason: 'off-link next hop' },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouteApplyError);
    expect((err as RouteApplyError).failures.map((f) => f.dst)).toEqual(['10.244.6.0/26']);
    expect((err as Error).message).toMatch(/10\.244\.6\.0\/26 via 10\.99\.0\.1.*: .*gateway/i);
    expect(routesIn('1234')).toEqual(['blackhole 10.244.5.0/26 proto 81']);
    expect(await driver.cleanup()).toBe(1);
    expect(await driver.read()).toEqual([]);
  });

  it('an empty desired set removes only our routes', async () => {
    await new RouteTableDriver({ netns: NS }).apply([]);
    expect(routesIn()).toEqual(
      [
        '10.88.0.0/24 dev trt0 proto kernel scope link src 10.88.0.1',
        '10.250.0.0/24 via 10.88.0.9 dev trt0 proto bird',
        'blackhole 10.251.0.0/24 proto static',
      ].sort(),
    );
  });
});
