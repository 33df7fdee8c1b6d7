// Folded net runs (maps/net-runs.ts): consecutive same-action rules that differ only in one
// side's nets become one instruction. fast-check draws rule lists (actions, overlapping source
// and destination nets, a port on some rules) and flows; the maps' verdict and deciding rule
// must be the first-match answer over the rules as written.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { compileMaps, evaluateMaps } from '../../src/agent/dataplane/maps/index.js';
import { snapshotOf } from '../../src/agent/dataplane/rules/index.js';
import { Keys } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';

interface R {
  readonly action: 'allow' | 'deny' | 'log';
  readonly srcNets?: readonly string[];
  readonly dstNets?: readonly string[];
  readonly port?: number;
}
const SERVER = '10.0.0.2';
const NETS = ['192.0.2.0/24', '192.0.2.8/29', '192.0.2.9/32', '198.51.100.0/24', '10.0.0.0/8', '10.0.0.2/32'];
const SOURCES = ['192.0.2.9', '192.0.2.10', '192.0.2.200', '198.51.100.1', '10.1.1.1', '203.0.113.5'];

function mapsFor(rules: readonly R[]) {
  const kvs: KV[] = [
    { key: Keys.tier('default'), value: { order: 100, defaultAction: 'Deny' } },
    {
      key: Keys.workloadEndpoint('n1', 'ns', 'server'),
      value: { name: 'cali1', ipv4Nets: [`${SERVER}/32`], labels: { role: 'server' }, profileIds: [] },
    },
    {
      key: Keys.policy('GlobalNetworkPolicy', '', 'default.p'),
      value: {
        tier: 'default',
        order: 1,
        selector: "role == 'server'",
        types: ['ingress'],
        inboundRules: rules.map((r) => ({
          action: r.action,
          ...(r.srcNets === undefined ? {} : { srcNets: [...r.srcNets] }),
          ...(r.dstNets === undefined ? {} : { dstNets: [...r.dstNets] }),
          ...(r.port === undefined ? {} : { protocol: 'tcp', dstPorts: [r.port] }),
        })),
      },
    },
  ];
  const calc = new PolicyCalculator('n1');
  expect(calc.apply(kvs).invalid).toEqual([]);
  return compileMaps(snapshotOf(calc));
}

const inNet = (ip: string, net: string): boolean => {
  const [base, len] = net.split('/') as [string, string];
  const n = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(len));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
};

/** First match over the rules as written; no match: the tier's default deny. */
function reference(rules: readonly R[], src: string, port: number) {
  for (const [i, r] of rules.entries()) {
    if (r.action === 'log') continue;
    if (r.srcNets !== undefined && !r.srcNets.some((n) => inNet(src, n))) continue;
    if (r.dstNets !== undefined && !r.dstNets.some((n) => inNet(SERVER, n))) continue;
    if (r.port !== undefined && r.port !== port) continue;
    return { allowed: r.action === 'allow', ruleIndex: i as number | undefined };
  }
  return { allowed: false, ruleIndex: undefined };
}

const netsArb = fc.option(fc.uniqueArray(fc.constantFrom(...NETS), { minLength: 1, maxLength: 2 }), {
  nil: undefined,
});
const ruleArb: fc.Arbitrary<R> = fc.record(
  {
    action: fc.constantFrom<R['action']>('allow', 'deny', 'deny', 'log'),
    srcNets: netsArb,
    dstNets: fc.option(fc.constantFrom([`${SERVER}/32`], ['10.0.0.0/8'], ['192.0.2.0/24']), {
      nil: undefined,
    }),
    port: fc.option(fc.constantFrom(80, 443), { nil: undefined }),
  },
  { requiredKeys: ['action'] },
);

describe('maps: folded net runs', () => {
  it('N single-net deny rules before an allow are one instruction; explain names the rule', () => {
    const rules: R[] = [
      ...Array.from({ length: 50 }, (_, i): R => ({ action: 'deny', srcNets: [`198.18.0.${i}/32`] })),
      { action: 'allow' },
    ];
    const maps = mapsFor(rules);
    expect(maps.endpoints[0]!.ingress.map((i) => i.op)).toEqual(['deny', 'allow', 'tier-end', 'final-drop']);
    const e = evaluateMaps(maps, { srcIp: '198.18.0.17', dstIp: SERVER, protocol: 'tcp', dstPort: 80 });
    expect(e.ingress.decidedBy).toMatchObject({ kind: 'rule', action: 'deny', ruleIndex: 17 });
    const ok = evaluateMaps(maps, { srcIp: '198.18.0.77', dstIp: SERVER, protocol: 'tcp', dstPort: 80 });
    expect(ok.ingress.decidedBy).toMatchObject({ kind: 'rule', action: 'allow', ruleIndex: 50 });
  });

  it('rules that differ in more than one side’s nets, or in a port, stay apart', () => {
    const maps = mapsFor([
      { action: 'deny', srcNets: ['192.0.2.0/24'], port: 80 },
      { action: 'deny', srcNets: ['198.51.100.0/24'], port: 443 },
      { action: 'deny', srcNets: ['10.0.0.0/8'], dstNets: ['10.0.0.0/8'] },
    ]);
    expect(maps.endpoints[0]!.ingress.filter((i) => i.op === 'deny')).toHaveLength(3);
  });

  it('verdict and deciding rule equal first match over the rules as written', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 1, maxLength: 8 }),
        fc.constantFrom(...SOURCES),
        fc.constantFrom(80, 443, 8080),
        (rules, src, port) => {
          const e = evaluateMaps(mapsFor(rules), {
            srcIp: src,
            dstIp: SERVER,
            protocol: 'tcp',
            dstPort: port,
          });
          const want = reference(rules, src, port);
          expect(e.ingress.allowed).toBe(want.allowed);
          const d = e.ingress.decidedBy as { ruleIndex?: number };
          expect(d.ruleIndex).toBe(want.ruleIndex);
        },
      ),
      { numRuns: 400 },
    );
  });
});
