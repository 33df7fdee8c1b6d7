// The eBPF-style maps (src/agent/dataplane/maps) against explain(), the reference decision
// procedure: the seed lab model and a synthetic model with every construct the compiler lays out
// (Pass jumps, log, pass-default tiers, profiles with next-tier, a missing profile, named ports,
// notSelector, nets/notNets, ranges, ICMP, IPv6). fast-check draws flows among endpoint and
// outside addresses; the maps must give explain()'s verdict, decision and log list per side.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import {
  type CompiledMaps,
  compileMaps,
  endpointOf,
  evaluateAcross,
  evaluateMaps,
  explain,
  explainer,
  type Flow,
  mapsOf,
} from '../../src/agent/dataplane/maps/index.js';
import { snapshotOf } from '../../src/agent/dataplane/rules/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { Keys } from '../../src/model/keys.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { expectExplanations } from '../harness/explain-golden.js';

function labKvs(): KV[] {
  const text = readFileSync(new URL('../fixtures/calc/lab.yaml', import.meta.url), 'utf8');
  return parseAllDocuments(text, { uniqueKeys: false })
    .map((d) => d.toJS() as KubeObject)
    .flatMap((o) => convertObject(o));
}

const flowArb = (ips: readonly string[]): fc.Arbitrary<Flow> =>
  fc.record(
    {
      srcIp: fc.constantFrom(...ips),
      dstIp: fc.constantFrom(...ips),
      protocol: fc.constantFrom<string | number>('tcp', 'udp', 'TCP', 'icmp', 'sctp', 6, 17, 1, 47),
      dstPort: fc.constantFrom(53, 80, 443, 444, 1500, 2001, 8080, 9000),
      srcPort: fc.constantFrom(1000, 33000, 60000),
      icmpType: fc.constantFrom(0, 3, 8),
      icmpCode: fc.constantFrom(0, 1),
    },
    { requiredKeys: ['srcIp', 'dstIp', 'protocol'] },
  );

describe('maps: the seed lab (three nodes, one set of maps per node)', () => {
  const kvs = labKvs();
  const calcs = ['node-a', 'node-b', 'node-c'].map((n) => {
    const c = new PolicyCalculator(n);
    expect(c.apply(kvs).invalid).toEqual([]);
    return c;
  });
  const maps = calcs.map((c) => compileMaps(snapshotOf(c)));
  const endpointIps = ['10.244.1.10', '10.244.2.10', '10.244.3.10', '10.244.0.5'];
  const outside = ['169.254.169.254', '8.8.8.8', '10.244.9.9'];
  /** The node whose maps hold the address's endpoint (any node's for an outside address). */
  const mapsFor = (ip: string): CompiledMaps => maps.find((m) => endpointOf(m, ip) !== undefined) ?? maps[0]!;
  const viaMaps = (f: Flow) => evaluateAcross(mapsFor(f.srcIp), mapsFor(f.dstIp), f);

  it('each endpoint lives in exactly one node map', () => {
    for (const ip of endpointIps) expect(maps.filter((m) => endpointOf(m, ip) !== undefined)).toHaveLength(1);
    for (const ip of outside) expect(maps.every((m) => endpointOf(m, ip) === undefined)).toBe(true);
  });

  it('the lab criteria', () => {
    const tcp = (s: string, d: string, p: number): Flow => ({
      srcIp: s,
      dstIp: d,
      protocol: 'tcp',
      dstPort: p,
    });
    for (const f of [
      tcp('10.244.1.10', '10.244.2.10', 80),
      tcp('10.244.1.10', '10.244.3.10', 80),
      tcp('10.244.2.10', '10.244.3.10', 80),
      tcp('10.244.1.10', '169.254.169.254', 80),
      { ...tcp('10.244.1.10', '10.244.0.5', 53), protocol: 'udp' },
    ])
      expect(viaMaps(f), JSON.stringify(f)).toEqual(explain(calcs[0]!, f));
    expect(viaMaps(tcp('10.244.1.10', '10.244.2.10', 80)).verdict).toBe('allow');
    expect(viaMaps(tcp('10.244.1.10', '10.244.3.10', 80)).verdict).toBe('deny');
  });

  it("property: random flows give explain()'s answer (each node's calc as the reference)", () => {
    fc.assert(
      fc.property(flowArb([...endpointIps, ...outside]), fc.nat(2), (flow, n) => {
        expect(viaMaps(flow)).toEqual(explain(calcs[n]!, flow));
      }),
      { numRuns: 500 },
    );
  });
});

// ---- synthetic model: one node, every construct ----

const NODE = 'n1';
const ep = (
  pod: string,
  nets: { v4?: string[]; v6?: string[] },
  labels: Record<string, string>,
  profileIds: string[],
  ports: JsonValue[] = [],
): KV => ({
  key: Keys.workloadEndpoint(NODE, 'ns', pod),
  value: {
    name: `cali-${pod}`,
    ipv4Nets: nets.v4 ?? [],
    ipv6Nets: nets.v6 ?? [],
    labels,
    profileIds,
    ports,
  },
});
const gnp = (name: string, value: Record<string, JsonValue>): KV => ({
  key: Keys.policy('GlobalNetworkPolicy', '', name),
  value: value as JsonValue,
});

function synthetic(): PolicyCalculator {
  const calc = new PolicyCalculator(NODE);
  const update = calc.apply([
    { key: Keys.tier('sec'), value: { order: 1, defaultAction: 'Deny' } },
    { key: Keys.tier('soft'), value: { order: 2, defaultAction: 'Pass' } },
    { key: Keys.tier('app'), value: { order: 3, defaultAction: 'Deny' } },
    {
      key: Keys.profile('open'),
      value: { inboundRules: [{ action: 'allow' }], outboundRules: [{ action: 'allow' }] },
    },
    {
      key: Keys.profile('picky'),
      value: {
        inboundRules: [
          { action: 'log' },
          { action: 'next-tier', protocol: 'udp' },
          { action: 'deny', protocol: 'tcp', dstPorts: [9000] },
        ],
        outboundRules: [{ action: 'next-tier' }, { action: 'deny' }],
      },
    },
    ep('a', { v4: ['10.0.0.1/32'], v6: ['fd00::1/128'] }, { role: 'client', env: 'prod' }, ['picky', 'open']),
    ep(
      'b',
      { v4: ['10.0.0.2/32'] },
      { role: 'web', env: 'prod' },
      ['open'],
      [
        { name: 'http', protocol: 'tcp', port: 8080 },
        { name: 'dns', protocol: 'udp', port: 53 },
      ],
    ),
    ep('c', { v4: ['10.0.0.3/32'] }, { role: 'db' }, ['gone']),
    ep(
      'd',
      { v4: ['10.0.1.0/24'] },
      { role: 'web', env: 'dev' },
      ['picky'],
      [{ name: 'http', protocol: 'tcp', port: 80 }],
    ),
    ep('e', { v4: ['10.0.0.5/32'] }, { role: 'batch' }, []),
    ep('f', { v4: ['10.0.0.6/32'] }, { role: 'free' }, ['picky', 'open']),
    gnp('sec.guard', {
      tier: 'sec',
      order: 1,
      selector: "role != 'free'",
      types: ['ingress', 'egress'],
      inboundRules: [
        { action: 'log', protocol: 'tcp' },
        { action: 'deny', srcNets: ['192.0.2.0/24'], notSrcNets: ['192.0.2.7/32'] },
        { action: 'deny', protocol: 'icmp', icmpType: 8, icmpCode: 1 },
        { action: 'next-tier' },
      ],
      outboundRules: [
        { action: 'deny', dstNets: ['169.254.169.254/32'] },
        { action: 'deny', protocol: 'tcp', dstPorts: ['1000:2000'], notDstPorts: [1500] },
        { action: 'next-tier', notProtocol: 'icmp' },
        { action: 'allow', protocol: 'icmp', notIcmpType: 3 },
      ],
    }),
    gnp('soft.maybe', {
      tier: 'soft',
      order: 1,
      selector: "role == 'web'",
      types: ['ingress'],
      inboundRules: [
        { action: 'allow', protocol: 'tcp', srcSelector: "role == 'client'", dstPorts: ['http'] },
        { action: 'deny', protocol: 'udp', notSrcSelector: "env == 'prod'" },
      ],
    }),
    gnp('app.web', {
      tier: 'app',
      order: 10,
      selector: "role == 'web' || role == 'client'",
      types: ['ingress', 'egress'],
      inboundRules: [
        { action: 'allow', protocol: 'udp', dstPorts: ['dns'] },
        { action: 'allow', srcSelector: "env == 'prod'", notSrcSelector: "role == 'web'" },
        { action: 'log', srcNets: ['10.0.0.0/16', 'fd00::/64'] },
        { action: 'allow', ipVersion: 6 },
      ],
      outboundRules: [
        { action: 'allow', dstSelector: "role == 'web'", dstPorts: [80, 8080, '53:54'] },
        { action: 'allow', notDstSelector: "role == 'db'", protocol: 'udp' },
        { action: 'deny', dstSelector: "role == 'db'" },
        { action: 'allow', dstNets: ['8.8.8.0/24', 'fd00::/64'], notDstNets: ['8.8.8.4/32'] },
      ],
    }),
    gnp('app.batch', {
      tier: 'app',
      order: 20,
      selector: "role == 'batch'",
      types: ['egress'],
      outboundRules: [{ action: 'allow', dstSelector: "role == 'web'", dstPorts: ['http'], protocol: 'tcp' }],
    }),
  ]);
  expect(update.invalid).toEqual([]);
  return calc;
}

describe('maps: a synthetic model with every construct', () => {
  const calc = synthetic();
  const maps = mapsOf(calc);
  const ips = [
    '10.0.0.1',
    '10.0.0.2',
    '10.0.0.3',
    '10.0.1.9',
    '10.0.0.5',
    '10.0.0.6',
    'fd00::1',
    'fd00::9',
    '192.0.2.1',
    '192.0.2.7',
    '8.8.8.8',
    '8.8.8.4',
    '169.254.169.254',
  ];

  it('lays each endpoint out as one flat array: Pass jumps past its tier-end, ends in final-drop', () => {
    const a = maps.endpoints.find((e) => e.id === Keys.workloadEndpoint(NODE, 'ns', 'a'))!;
    const ops = a.egress.map((i) => i.op);
    expect(ops).toEqual([
      'deny',
      'deny',
      'pass',
      'allow',
      'tier-end',
      'allow',
      'allow',
      'deny',
      'allow',
      'tier-end',
      'profile-start',
      'pass',
      'deny',
      'profile-start',
      'allow',
      'final-drop',
    ]);
    expect(a.egress[2]).toMatchObject({ op: 'pass', jump: 5 });
    expect(a.egress[11]).toMatchObject({ op: 'pass', jump: 13 });
    const c = maps.endpoints.find((e) => e.id === Keys.workloadEndpoint(NODE, 'ns', 'c'))!;
    expect(c.ingress.at(-2)).toEqual({ op: 'profile-start', profile: 'gone', missing: true });
    expect(maps.endpointPrefixLens.v4).toEqual([32, 24]);
    const named = maps.namedPortSets.map((s) => [s.key.split('/').slice(0, 2).join('/'), s.members]);
    // soft.maybe's http (no dst selector: all()) and app.batch's (role == 'web') both hold b and d.
    expect(named).toHaveLength(3);
    expect(named).toEqual(
      expect.arrayContaining([
        ['tcp/http', ['10.0.0.2/32,8080', '10.0.1.0/24,80']],
        ['udp/dns', ['10.0.0.2/32,53']],
      ]),
    );
  });

  it('JSON round trip keeps the answers', () => {
    const copy = JSON.parse(JSON.stringify(maps)) as CompiledMaps;
    expect(copy).toEqual(maps);
    const f: Flow = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', protocol: 'tcp', dstPort: 8080 };
    expect(evaluateMaps(copy, f)).toEqual(explain(calc, f));
  });

  it('hand-picked flows across the constructs: the plan-walking reference’s answers (golden)', () => {
    const flows: Flow[] = [
      { srcIp: '10.0.0.1', dstIp: '10.0.0.2', protocol: 'tcp', dstPort: 8080 }, // named port allow
      { srcIp: '10.0.0.1', dstIp: '10.0.1.9', protocol: 'tcp', dstPort: 80 },
      { srcIp: '10.0.0.5', dstIp: '10.0.1.9', protocol: 'tcp', dstPort: 80 }, // batch named port
      { srcIp: '10.0.0.1', dstIp: '10.0.0.3', protocol: 'tcp', dstPort: 5432 }, // missing profile
      { srcIp: '10.0.0.1', dstIp: '169.254.169.254', protocol: 'tcp', dstPort: 80 },
      { srcIp: '10.0.0.1', dstIp: '10.0.0.2', protocol: 'tcp', dstPort: 1200 },
      { srcIp: '10.0.0.1', dstIp: '10.0.0.2', protocol: 'icmp', icmpType: 8, icmpCode: 1 },
      { srcIp: 'fd00::1', dstIp: 'fd00::9', protocol: 'tcp', dstPort: 80 },
      { srcIp: '192.0.2.1', dstIp: '10.0.0.2', protocol: 'tcp', dstPort: 80 },
      { srcIp: '192.0.2.7', dstIp: '10.0.0.1', protocol: 'udp', dstPort: 53 },
      { srcIp: '10.0.0.1', dstIp: '8.8.8.8', protocol: 'udp', dstPort: 53 },
      { srcIp: '10.0.0.5', dstIp: '10.0.0.6', protocol: 'udp', dstPort: 53 }, // picky next-tier, open
      { srcIp: '8.8.8.8', dstIp: '10.0.0.6', protocol: 'tcp', dstPort: 9000 }, // picky deny
    ];
    const answers = flows.map((f) => [f, evaluateMaps(maps, f)] as const);
    expectExplanations('maps-synthetic-picked', answers);
    expectExplanations(
      'maps-synthetic-picked',
      flows.map((f) => [f, explain(calc, f)] as const),
    );
    const kinds = new Set(answers.flatMap(([, e]) => [e.egress.decidedBy.kind, e.ingress.decidedBy.kind]));
    expect([...kinds].sort()).toEqual(['profile', 'profile-missing', 'rule', 'tier-end', 'unmanaged']);
  });

  it('a fixed sample of random flows: the plan-walking reference’s answers (golden)', () => {
    const flows = fc.sample(flowArb(ips), { seed: 0x5eed, numRuns: 150 });
    expectExplanations(
      'maps-synthetic-sample',
      flows.map((f) => [f, evaluateMaps(maps, f)] as const),
    );
    // explain() for many flows: the same answers from maps compiled once.
    const judge = explainer(calc);
    const answers = flows.map((f) => [f, judge(f)] as const);
    expectExplanations('maps-synthetic-sample', answers);
    expect(new Set(answers.map(([, e]) => e.verdict))).toEqual(new Set(['allow', 'deny']));
  });

  it('without named-port data (compileMaps(snapshotOf(calc)) alone) named-port rules never match', () => {
    const bare = compileMaps(snapshotOf(calc));
    expect(bare.namedPortSets.every((s) => s.members.length === 0)).toBe(true);
    const f: Flow = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', protocol: 'tcp', dstPort: 8080 };
    expect(evaluateMaps(bare, f).ingress.decidedBy).not.toEqual(explain(calc, f).ingress.decidedBy);
  });
});
