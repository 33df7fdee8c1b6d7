// Seeded random policy models for the differential e2e: workload endpoints for a Lab's pods
// (random labels, declared named ports, a profile each) and random tiers (Deny or Pass ends)
// holding random GlobalNetworkPolicies whose rules draw from the constructs every dataplane
// encodes — allow/deny/Pass/log, protocols, numeric and named ports and ranges, negations,
// selectors on both sides, nets and notNets, runs of rules differing only in nets (the maps
// fold them into one set lookup). Plain calc KVs, so any calculator takes them.

import { Keys } from '../../../src/model/keys.js';
import type { JsonValue, KV } from '../../../src/model/types.js';
import type { Lab } from './topology.js';

/** A small deterministic PRNG (mulberry32), so a seed always gives the same model. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ports the lab pods listen on (the flows the differential samples). */
export const TCP_PORTS = [80, 8080, 9090] as const;
export const UDP_PORTS = [53] as const;

const SELECTORS = [
  "role == 'web'",
  "role == 'api'",
  "role != 'db'",
  "env == 'prod'",
  'has(env)',
  "role in {'web', 'db'}",
  'all()',
];
const NAMED = [
  { name: 'http', protocol: 'TCP', port: 80 },
  { name: 'alt', protocol: 'TCP', port: 8080 },
  { name: 'dns', protocol: 'UDP', port: 53 },
];

export function randomModel(lab: Lab, seed: number): KV[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number) => rand() < p;
  const kvs: KV[] = [];

  kvs.push(
    {
      key: Keys.profile('open'),
      value: { inboundRules: [{ action: 'allow' }], outboundRules: [{ action: 'allow' }] },
    },
    { key: Keys.profile('closed'), value: { inboundRules: [], outboundRules: [] } },
    {
      key: Keys.profile('picky'),
      value: {
        inboundRules: [{ action: 'allow', protocol: 'udp' }],
        outboundRules: [{ action: 'deny', protocol: 'tcp', dstPorts: [9090] }, { action: 'allow' }],
      },
    },
  );
  for (const p of lab.pods) {
    const labels: Record<string, string> = { role: pick(['web', 'api', 'db']) };
    if (chance(0.6)) labels['env'] = pick(['prod', 'dev']);
    kvs.push({
      key: Keys.workloadEndpoint(p.node.name, 'ns', p.name),
      value: {
        name: p.hostIface,
        ipv4Nets: [`${p.ip}/32`],
        ipv6Nets: [],
        labels,
        profileIds: [pick(['open', 'open', 'closed', 'picky'])],
        ports: NAMED.filter(() => chance(0.6)) as unknown as JsonValue[],
      },
    });
  }

  const portSpec = (): JsonValue[] => {
    const n = 1 + Math.floor(rand() * 2);
    return Array.from({ length: n }, () =>
      pick<JsonValue>([80, 8080, 9090, 53, 'http', 'alt', 'dns', '8000:8100']),
    );
  };
  const nets = (): string[] => [
    pick([...lab.pods.map((p) => `${p.ip}/32`), ...lab.nodes.map((n) => n.podCidr), '192.0.2.0/24']),
  ];
  const rule = (): Record<string, JsonValue> => {
    const r: Record<string, JsonValue> = {
      action: pick(['allow', 'allow', 'deny', 'deny', 'next-tier', 'log']),
    };
    if (chance(0.7)) r['protocol'] = pick(['tcp', 'udp']);
    if (r['protocol'] !== undefined && chance(0.6)) r['dstPorts'] = portSpec();
    if (r['protocol'] !== undefined && chance(0.15)) r['notDstPorts'] = [pick([80, 8080, 'http'])];
    if (chance(0.35)) r['srcSelector'] = pick(SELECTORS);
    if (chance(0.35)) r['dstSelector'] = pick(SELECTORS);
    if (chance(0.1)) r['notSrcSelector'] = pick(SELECTORS);
    if (chance(0.15)) r[pick(['srcNets', 'dstNets'])] = nets();
    if (chance(0.1)) r[pick(['notSrcNets', 'notDstNets'])] = nets();
    if (chance(0.05)) r['notProtocol'] = 'udp';
    return r;
  };
  /** Same-action rules differing only in one side's nets: the maps fold them into one set lookup. */
  const netRun = (): JsonValue[] => {
    const base = { ...rule(), action: pick(['allow', 'deny']) };
    const side = pick(['srcNets', 'dstNets']);
    return Array.from({ length: 2 + Math.floor(rand() * 2) }, () => ({ ...base, [side]: nets() }));
  };
  const rules = (): JsonValue[] => {
    const out: JsonValue[] = Array.from({ length: Math.floor(rand() * 4) }, rule);
    if (chance(0.3)) out.splice(Math.floor(rand() * (out.length + 1)), 0, ...netRun());
    return out;
  };

  const tiers = 1 + Math.floor(rand() * 3);
  for (let t = 0; t < tiers; t++) {
    const tier = `t${t}`;
    kvs.push({ key: Keys.tier(tier), value: { order: t + 1, defaultAction: pick(['Deny', 'Pass']) } });
    const policies = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < policies; i++) {
      const types = pick([['ingress'], ['egress'], ['ingress', 'egress']]);
      kvs.push({
        key: Keys.policy('GlobalNetworkPolicy', '', `${tier}.p${i}`),
        value: {
          tier,
          order: 1 + Math.floor(rand() * 20),
          selector: pick(SELECTORS),
          types,
          inboundRules: types.includes('ingress') ? rules() : [],
          outboundRules: types.includes('egress') ? rules() : [],
        },
      });
    }
  }
  return kvs;
}
