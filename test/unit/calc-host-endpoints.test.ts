// Host endpoints in the calculator: plans split per kind (normal, applyOnForward, preDNAT,
// doNotTrack), failsafe ports and DefaultEndpointToHostAction from FelixConfiguration keys, and
// explain() walking the host path as Felix's chains do.

import { describe, expect, it } from 'vitest';
import { PolicyCalculator, parseFailsafePorts } from '../../src/agent/calc/index.js';
import { evaluateMaps, explain, mapsOf } from '../../src/agent/dataplane/maps/index.js';
import { Keys } from '../../src/model/keys.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { expectExplanations } from '../harness/explain-golden.js';

const HEP = Keys.hostEndpoint('n1', 'n1-eth0');
const WEP = Keys.workloadEndpoint('n1', 'ns', 'pod');
const gnp = (name: string, value: Record<string, JsonValue>): KV => ({
  key: Keys.policy('GlobalNetworkPolicy', '', name),
  value: { tier: 'default', selector: "role == 'node'", ...value },
});

function calc(extra: KV[] = []): PolicyCalculator {
  const c = new PolicyCalculator('n1');
  c.apply([
    { key: Keys.tier('default'), value: { order: 1000000, defaultAction: 'Deny' } },
    {
      key: HEP,
      value: { name: 'eth0', expectedIPv4Addrs: ['10.250.0.10'], labels: { role: 'node' }, profileIds: [] },
    },
    {
      key: Keys.hostEndpoint('n2', 'n2-eth0'),
      value: { name: 'eth0', expectedIPv4Addrs: ['10.250.0.11'], labels: { role: 'node' }, profileIds: [] },
    },
    {
      key: WEP,
      value: { name: 'cali0', ipv4Nets: ['10.251.0.1/32'], labels: {}, profileIds: ['kns.ns'] },
    },
    {
      key: Keys.profile('kns.ns'),
      value: { labels: {}, inboundRules: [{ action: 'allow' }], outboundRules: [{ action: 'allow' }] },
    },
    ...extra,
  ]);
  return c;
}

const tcp = (srcIp: string, dstIp: string, dstPort: number, srcPort = 40000) => ({
  srcIp,
  dstIp,
  protocol: 'tcp',
  dstPort,
  srcPort,
});

describe('host endpoint plans', () => {
  it('split policies by kind: normal, applyOnForward, preDNAT (ingress only), doNotTrack', () => {
    const c = calc([
      gnp('normal', { inboundRules: [{ action: 'allow' }], types: ['ingress'] }),
      gnp('fwd', { inboundRules: [{ action: 'deny' }], types: ['ingress', 'egress'], applyOnForward: true }),
      gnp('pre', {
        inboundRules: [{ action: 'deny' }],
        outboundRules: [{ action: 'deny' }],
        preDNAT: true,
        applyOnForward: true,
      }),
      gnp('untracked', {
        inboundRules: [{ action: 'allow' }],
        outboundRules: [{ action: 'allow' }],
        doNotTrack: true,
        applyOnForward: true,
      }),
    ]);
    const plan = c.plan(HEP)!;
    const ids = (tiers: readonly { policies: readonly { name: string }[] }[]) =>
      tiers.flatMap((t) => t.policies.map((p) => p.name));
    expect(ids(plan.ingress.tiers)).toEqual(['fwd', 'normal']);
    expect(ids(plan.egress.tiers)).toEqual(['fwd']);
    expect(ids(plan.host!.forward.ingress)).toEqual(['fwd']);
    expect(ids(plan.host!.forward.egress)).toEqual(['fwd']);
    expect(ids(plan.host!.preDNAT.ingress)).toEqual(['pre']);
    expect(ids(plan.host!.untracked.ingress)).toEqual(['untracked']);
    expect(ids(plan.host!.untracked.egress)).toEqual(['untracked']);
    // No end-of-tier drop in raw/mangle: the filter table's normal policy follows.
    expect(plan.host!.untracked.ingress[0]!.defaultAction).toBe('pass');
    expect(plan.host!.preDNAT.ingress[0]!.defaultAction).toBe('pass');
    expect(plan.host!.forward.ingress[0]!.defaultAction).toBe('deny');
    expect(c.plan(WEP)!.host).toBeUndefined();
    // Only this node's host endpoints get plans.
    expect(c.plan(Keys.hostEndpoint('n2', 'n2-eth0'))).toBeUndefined();
  });

  it('reads failsafe ports and DefaultEndpointToHostAction; node config wins; bad values keep the default', () => {
    const c = calc();
    expect(c.hostConfig.endpointToHostAction).toBe('drop');
    expect(c.hostConfig.failsafeInbound).toContainEqual({ protocol: 'tcp', port: 22 });
    expect(c.hostConfig.failsafeOutbound).toContainEqual({ protocol: 'udp', port: 53 });
    let u = c.apply([
      { key: Keys.globalConfig('DefaultEndpointToHostAction'), value: 'Accept' },
      { key: Keys.globalConfig('FailsafeInboundHostPorts'), value: 'tcp:2222,udp:10.0.0.0/8:68' },
    ]);
    expect(u.hostConfigChanged).toBe(true);
    expect(c.hostConfig.endpointToHostAction).toBe('accept');
    expect(c.hostConfig.failsafeInbound).toEqual([
      { protocol: 'tcp', port: 2222 },
      { protocol: 'udp', port: 68, net: '10.0.0.0/8' },
    ]);
    u = c.apply([{ key: Keys.hostConfig('n1', 'DefaultEndpointToHostAction'), value: 'Return' }]);
    expect(c.hostConfig.endpointToHostAction).toBe('return');
    u = c.apply([{ key: Keys.hostConfig('n2', 'DefaultEndpointToHostAction'), value: 'Drop' }]);
    expect(u.hostConfigChanged).toBe(false);
    c.apply([{ key: Keys.globalConfig('FailsafeInboundHostPorts'), value: 'tcp:not-a-port' }]);
    expect(c.hostConfig.failsafeInbound).toContainEqual({ protocol: 'tcp', port: 22 });
    expect(parseFailsafePorts('none')).toEqual([]);
    expect(parseFailsafePorts('tcp:[fd00::/8]:22')).toEqual([{ protocol: 'tcp', port: 22, net: 'fd00::/8' }]);
  });
});

describe('explain on the host path', () => {
  const denyAll = gnp('deny-all', { inboundRules: [], outboundRules: [], types: ['ingress', 'egress'] });

  it('failsafe ports pass a deny-all host policy; other ports meet the end of the tier', () => {
    const c = calc([denyAll]);
    const ssh = explain(c, tcp('10.250.0.11', '10.250.0.10', 22));
    expect(ssh.ingress.decidedBy).toEqual({
      kind: 'failsafe',
      direction: 'inbound',
      protocol: 'tcp',
      port: 22,
    });
    // Egress from n2 is judged by n2's plan (computed on demand): tcp:22 is no outbound failsafe.
    expect(ssh.egress.decidedBy).toEqual({ kind: 'tier-end', tier: 'default' });
    expect(explain(c, tcp('10.250.0.11', '10.250.0.10', 8080)).ingress.decidedBy).toEqual({
      kind: 'tier-end',
      tier: 'default',
    });
    expect(explain(c, tcp('10.250.0.10', '10.250.0.11', 2379)).egress.decidedBy.kind).toBe('failsafe');
    expect(explain(c, tcp('10.250.0.10', '10.250.0.11', 8080)).egress.allowed).toBe(false);
  });

  it('a host endpoint with no policy and no profile drops all but failsafe traffic', () => {
    const c = calc();
    expect(explain(c, tcp('10.250.0.11', '10.250.0.10', 8080)).ingress.decidedBy).toEqual({
      kind: 'default',
    });
    expect(explain(c, tcp('10.250.0.11', '10.250.0.10', 22)).ingress.allowed).toBe(true);
  });

  it('preDNAT and doNotTrack run before normal policy; failsafe beats doNotTrack deny', () => {
    const c = calc([
      gnp('allow-normal', { inboundRules: [{ action: 'allow' }], types: ['ingress'] }),
      gnp('pre', {
        order: 1,
        inboundRules: [{ action: 'deny', protocol: 'tcp', dstPorts: [8080] }],
        preDNAT: true,
        applyOnForward: true,
        types: ['ingress'],
      }),
      gnp('untracked', {
        order: 2,
        inboundRules: [
          { action: 'allow', protocol: 'tcp', dstPorts: [9000] },
          { action: 'deny', protocol: 'tcp', dstPorts: [22, 9001] },
        ],
        doNotTrack: true,
        applyOnForward: true,
        types: ['ingress'],
      }),
    ]);
    const ing = (port: number) => explain(c, tcp('10.250.0.11', '10.250.0.10', port)).ingress;
    expect(ing(8080).decidedBy).toMatchObject({ kind: 'rule', action: 'deny', stage: 'preDNAT' });
    expect(ing(9000).decidedBy).toMatchObject({ kind: 'rule', action: 'allow', stage: 'untracked' });
    expect(ing(9001).decidedBy).toMatchObject({ kind: 'rule', action: 'deny', stage: 'untracked' });
    expect(ing(22).decidedBy.kind).toBe('failsafe');
    const other = ing(7000).decidedBy;
    expect(other).toMatchObject({ kind: 'rule', action: 'allow' });
    expect('stage' in other).toBe(false);
  });

  it('workload → its own host: egress policy, then DefaultEndpointToHostAction; host → workload is not policed', () => {
    const c = calc([denyAll]);
    const toHost = explain(c, tcp('10.251.0.1', '10.250.0.10', 8080));
    expect(toHost.ingress.decidedBy).toEqual({ kind: 'endpoint-to-host', action: 'drop' });
    expect(toHost.verdict).toBe('deny');
    c.apply([{ key: Keys.globalConfig('DefaultEndpointToHostAction'), value: 'Accept' }]);
    expect(explain(c, tcp('10.251.0.1', '10.250.0.10', 8080)).verdict).toBe('allow');
    const fromHost = explain(c, tcp('10.250.0.10', '10.251.0.1', 80));
    expect(fromHost.verdict).toBe('allow');
    expect(fromHost.egress.decidedBy).toEqual({ kind: 'host-to-workload' });
    // To another node's host: that host endpoint's ingress policy applies.
    expect(explain(c, tcp('10.251.0.1', '10.250.0.11', 8080)).ingress.decidedBy.kind).toBe('tier-end');
  });
});

describe('maps evaluate host endpoint flows as the plan-walking reference did (golden)', () => {
  it('failsafe, doNotTrack, preDNAT, normal, workload → host, host → workload', () => {
    const c = calc([
      gnp('deny-all', { inboundRules: [], outboundRules: [], types: ['ingress', 'egress'] }),
      gnp('pre', {
        order: 1,
        inboundRules: [{ action: 'deny', protocol: 'tcp', dstPorts: [8080] }],
        preDNAT: true,
        applyOnForward: true,
        types: ['ingress'],
      }),
      gnp('untracked', {
        order: 2,
        inboundRules: [{ action: 'allow', protocol: 'tcp', dstPorts: [9000] }],
        outboundRules: [{ action: 'allow', protocol: 'tcp', srcPorts: [9000] }],
        doNotTrack: true,
        applyOnForward: true,
        types: ['ingress', 'egress'],
      }),
      { key: Keys.globalConfig('FailsafeOutboundHostPorts'), value: 'udp:53,tcp:10.9.0.0/16:443' },
    ]);
    const maps = mapsOf(c);
    const flows = [
      ...[22, 68, 80, 8080, 9000, 9001].map((p) => tcp('10.9.9.9', '10.250.0.10', p)),
      { srcIp: '10.9.9.9', dstIp: '10.250.0.10', protocol: 'udp', dstPort: 68, srcPort: 67 },
      { srcIp: '10.9.9.9', dstIp: '10.250.0.10', protocol: 'udp', dstPort: 5000, srcPort: 53 },
      ...[53, 443, 9000].map((p) => tcp('10.250.0.10', '10.9.9.9', p)),
      tcp('10.250.0.10', '10.8.0.1', 443),
      tcp('10.250.0.10', '10.9.9.9', 80, 9000),
      tcp('10.251.0.1', '10.250.0.10', 8080),
      tcp('10.250.0.10', '10.251.0.1', 80),
    ];
    expectExplanations(
      'host-endpoints',
      flows.map((f) => [f, evaluateMaps(maps, f)] as const),
    );
    c.apply([{ key: Keys.globalConfig('DefaultEndpointToHostAction'), value: 'Return' }]);
    const f = tcp('10.251.0.1', '10.250.0.10', 8080);
    expectExplanations('host-endpoints-return', [[f, evaluateMaps(mapsOf(c), f)]]);
    expect(explain(c, f).verdict).toBe('allow');
  });
});
