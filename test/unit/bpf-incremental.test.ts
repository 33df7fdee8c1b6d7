// BpfCompiler (the bpf dataplane's compile across applies) against a fresh full compile
// (encodePolicy(mapsOf(calc))) after each of many seeded random edits: policy rules, labels of
// local and remote endpoints (set members), endpoints coming and going, profiles, named ports,
// host endpoints and host config. The endpoint entries, every program they name and every set
// those programs test must be equal; and an edit must recompile only what it touched.

import { describe, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { BpfCompiler, type EncodedPolicy, encodePolicy } from '../../src/agent/dataplane/bpf/index.js';
import { namesOf } from '../../src/agent/dataplane/bpf/plan.js';
import { mapsOf } from '../../src/agent/dataplane/maps/index.js';
import { Keys } from '../../src/model/keys.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { mulberry32 } from '../e2e/harness/random-model.js';

const NODE = 'n1';
const SELECTORS = ["role == 'web'", "role == 'db'", "env == 'prod'", 'has(env)', 'all()', "role != 'api'"];
const NAMED = [
  { name: 'http', protocol: 'TCP', port: 80 },
  { name: 'dns', protocol: 'UDP', port: 53 },
];

/** What the maps hold for a version: entries, and the programs and sets they reach. */
function reachable(enc: EncodedPolicy) {
  const programs: Record<string, unknown> = {};
  const sets: Record<string, unknown> = {};
  const reach = (name: string) => {
    if (name in programs) return;
    const ops = enc.programs.get(name);
    programs[name] = ops;
    for (const op of ops ?? []) {
      if (op.set !== undefined) sets[op.set] = enc.sets.get(op.set);
      if (op.call !== undefined) reach(op.call);
    }
  };
  for (const ep of enc.endpoints) for (const name of namesOf(ep.programs)) reach(name);
  return { endpoints: enc.endpoints, programs, sets, warnings: enc.warnings };
}

function world(seed: number) {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number) => rand() < p;
  const labels = (): Record<string, string> => ({
    role: pick(['web', 'db', 'api']),
    ...(chance(0.5) ? { env: pick(['prod', 'dev']) } : {}),
  });
  const endpoint = (node: string, i: number): KV => ({
    key: Keys.workloadEndpoint(node, 'ns', `${node}-p${i}`),
    value: {
      name: `cali${node}${i}`,
      ipv4Nets: [`10.${node === NODE ? 1 : 2}.${i >> 8}.${i & 255}/32`],
      ipv6Nets: [],
      labels: labels(),
      profileIds: [pick(['open', 'closed'])],
      ports: NAMED.filter(() => chance(0.5)) as unknown as JsonValue[],
    },
  });
  const rule = (): Record<string, JsonValue> => {
    const r: Record<string, JsonValue> = { action: pick(['allow', 'deny', 'next-tier', 'log']) };
    if (chance(0.6)) r['protocol'] = pick(['tcp', 'udp']);
    if (r['protocol'] !== undefined && chance(0.5))
      r['dstPorts'] = [pick<JsonValue>([80, 'http', 'dns', '8000:8100'])];
    if (chance(0.4)) r['srcSelector'] = pick(SELECTORS);
    if (chance(0.3)) r['dstSelector'] = pick(SELECTORS);
    if (chance(0.15)) r['srcNets'] = [pick(['10.2.0.0/24', '192.0.2.0/24'])];
    return r;
  };
  const policy = (i: number): KV => ({
    key: Keys.policy('GlobalNetworkPolicy', '', `t${i % 2}.p${i}`),
    value: {
      tier: `t${i % 2}`,
      order: i,
      selector: pick([...SELECTORS, "role == 'node'"]),
      types: ['ingress', 'egress'],
      inboundRules: Array.from({ length: Math.floor(rand() * 3) }, rule),
      outboundRules: Array.from({ length: Math.floor(rand() * 3) }, rule),
      ...(chance(0.2) ? { applyOnForward: true } : {}),
      ...(chance(0.1) ? { applyOnForward: true, doNotTrack: true } : {}),
    },
  });
  const hep = (i: number): KV => ({
    key: Keys.hostEndpoint(NODE, `hep${i}`),
    value: {
      name: i === 0 ? 'eth0' : '*',
      expectedIPv4Addrs: [`10.9.0.${i + 1}`],
      labels: { role: 'node' },
      profileIds: chance(0.5) ? ['open'] : [],
    },
  });
  const base: KV[] = [
    { key: Keys.tier('t0'), value: { order: 1, defaultAction: 'Deny' } },
    { key: Keys.tier('t1'), value: { order: 2, defaultAction: 'Pass' } },
    {
      key: Keys.profile('open'),
      value: { inboundRules: [{ action: 'allow' }], outboundRules: [{ action: 'allow' }] },
    },
    { key: Keys.profile('closed'), value: { inboundRules: [], outboundRules: [] } },
    ...Array.from({ length: 12 }, (_, i) => endpoint(NODE, i)),
    ...Array.from({ length: 20 }, (_, i) => endpoint('n2', i)),
    ...Array.from({ length: 6 }, (_, i) => policy(i)),
    hep(0),
  ];
  const edits: (() => KV[])[] = [
    () => [policy(Math.floor(rand() * 8))],
    () => [endpoint(NODE, Math.floor(rand() * 14))],
    () => [endpoint('n2', Math.floor(rand() * 24))],
    () => [
      {
        key: Keys.workloadEndpoint(pick([NODE, 'n2']), 'ns', `${NODE}-p${Math.floor(rand() * 12)}`),
        value: null,
      },
    ],
    () => [{ key: Keys.policy('GlobalNetworkPolicy', '', `t0.p${2 * Math.floor(rand() * 3)}`), value: null }],
    () => [
      {
        key: Keys.profile('open'),
        value: { inboundRules: [rule(), { action: 'allow' }], outboundRules: [{ action: 'allow' }] },
      },
    ],
    () => [hep(Math.floor(rand() * 2))],
    () => [{ key: Keys.hostEndpoint(NODE, `hep${Math.floor(rand() * 2)}`), value: null }],
    () => [
      { key: Keys.globalConfig('DefaultEndpointToHostAction'), value: pick(['Drop', 'Accept']) },
      {
        key: Keys.globalConfig('FailsafeInboundHostPorts'),
        value: pick(['tcp:22', 'tcp:22,udp:68,tcp:8080']),
      },
    ],
  ];
  return { base, edit: () => pick(edits)() };
}

describe('bpf incremental compile', () => {
  for (const seed of [1, 2, 3, 4, 5])
    it(`equals a fresh full compile after each of 40 random edits (seed ${seed})`, () => {
      const { base, edit } = world(seed);
      const calc = new PolicyCalculator(NODE);
      expect(calc.apply(base).invalid).toEqual([]);
      const compiler = new BpfCompiler();
      let reused = 0;
      for (let step = 0; step <= 40; step++) {
        if (step > 0) expect(calc.apply(edit()).invalid).toEqual([]);
        const got = reachable(compiler.compile(calc));
        expect(got, `seed ${seed} step ${step}`).toEqual(reachable(encodePolicy(mapsOf(calc))));
        reused += compiler.stats.reused;
      }
      // Not a full recompile each time: most endpoints survive most edits.
      expect(reused).toBeGreaterThan(0);
    });

  it('one policy edit recompiles only the endpoints it selects', () => {
    const { base } = world(7);
    const calc = new PolicyCalculator(NODE);
    calc.apply(base);
    const compiler = new BpfCompiler();
    compiler.compile(calc);
    expect(compiler.stats.compiled).toBe(calc.plans().size);
    compiler.compile(calc);
    expect(compiler.stats).toEqual({ compiled: 0, reused: calc.plans().size });
    calc.apply([
      {
        key: Keys.policy('GlobalNetworkPolicy', '', 'solo'),
        value: {
          tier: 't0',
          order: 99,
          selector: "role == 'node'",
          types: ['ingress'],
          inboundRules: [{ action: 'deny' }],
        },
      },
    ]);
    compiler.compile(calc);
    // Only the host endpoint carries role == 'node'.
    expect(compiler.stats.compiled).toBe(1);
  });
});
