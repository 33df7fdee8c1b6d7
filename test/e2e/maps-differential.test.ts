// Differential: the eBPF-style maps against the iptables dataplane on a namespace lab (2 nodes ×
// 3 pods with the seed lab's identities, as test/e2e/iptables-lab.test.ts sets it up). Each node's
// calc is rendered and applied with the real iptables driver and compiled to maps; a fixed
// pseudo-random sample of TCP flows (pod pairs × ports 80/8080/53) must connect exactly when the
// maps (egress from the source node's, ingress from the destination node's) allow, and the maps'
// answer must equal explain()'s.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { explain, PolicyCalculator } from '../../src/agent/calc/index.js';
import { execShim, IptablesDriver, render } from '../../src/agent/dataplane/iptables/index.js';
import { type CompiledMaps, evaluateAcross, mapsOf } from '../../src/agent/dataplane/maps/index.js';
import { snapshotOf } from '../../src/agent/dataplane/rules/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { keyKind } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';
import { describeE2E, preflight } from './harness/preflight.js';
import { IDENTITIES, labObjects, podObject } from './harness/seed-lab.js';
import { Lab } from './harness/topology.js';

const reason = await preflight(['ip', 'iptables', 'iptables-restore', 'iptables-save', 'ipset']);

/** A small deterministic PRNG (mulberry32), so the sample is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describeE2E('e2e maps: compiled maps agree with the iptables dataplane on real TCP', reason, () => {
  let lab: Lab;
  const calcs = new Map<string, PolicyCalculator>();
  const drivers = new Map<string, IptablesDriver>();
  const maps = new Map<string, CompiledMaps>();

  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, podsPerNode: 3 });
    const kvs: KV[] = [...labObjects(), ...lab.pods.map((p) => podObject(p))].flatMap((o) => {
      const converted = convertObject(o);
      if (o.kind !== 'Pod') return converted;
      const p = lab.pods.find((x) => IDENTITIES[x.name]!.name === o.metadata.name)!;
      return converted.map((kv) =>
        keyKind(kv.key) === 'workloadEndpoint'
          ? { key: kv.key, value: { ...(kv.value as Record<string, never>), name: p.hostIface } }
          : kv,
      );
    });
    for (const node of lab.nodes) {
      const calc = new PolicyCalculator(node.name);
      expect(calc.apply(kvs).invalid).toEqual([]);
      calcs.set(node.name, calc);
      drivers.set(node.name, new IptablesDriver(execShim({ netns: node.ns })));
      maps.set(node.name, mapsOf(calc));
    }
    await Promise.all(lab.pods.flatMap((p) => [p.listen(80), p.listen(8080), p.listen(53)]));
    // Warm the neighbour caches before any policy, so a later timeout means a DROP.
    const open = await Promise.all(
      lab.pods.flatMap((a) => lab.pods.filter((b) => b !== a).map((b) => a.connect(b.ip, 80))),
    );
    expect(new Set(open)).toEqual(new Set(['connected']));
    for (const node of lab.nodes) {
      const r = render(snapshotOf(calcs.get(node.name)!));
      expect(r.warnings).toEqual([]);
      await drivers.get(node.name)!.apply(r);
    }
  }, 30_000);

  afterAll(async () => {
    for (const d of drivers.values()) await d.cleanup().catch(() => undefined);
    await lab?.destroy();
  });

  it('~40 pseudo-random TCP flows: real connect == evaluateMaps == explain', async () => {
    const rand = mulberry32(0x7ab1);
    const all = lab.pods.flatMap((a) =>
      lab.pods.filter((b) => b !== a).flatMap((b) => [80, 8080, 53].map((port) => ({ a, b, port }))),
    );
    // Fisher-Yates with the seeded PRNG, then the first 40.
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    const sample = all.slice(0, 40);
    const results = await Promise.all(
      sample.map(async ({ a, b, port }) => {
        const flow = { srcIp: a.ip, dstIp: b.ip, protocol: 'tcp', dstPort: port };
        const viaMaps = evaluateAcross(maps.get(a.node.name)!, maps.get(b.node.name)!, flow);
        expect(viaMaps, `${a.name} -> ${b.name}:${port}`).toEqual(explain(calcs.get('node0')!, flow));
        const got = await a.connect(b.ip, port, { timeoutMs: viaMaps.verdict === 'allow' ? 3000 : 500 });
        return { what: `${a.name} -> ${b.name}:${port}`, want: viaMaps.verdict, got };
      }),
    );
    const mismatches = results.filter((r) => (r.want === 'allow') !== (r.got === 'connected'));
    expect(mismatches).toEqual([]);
    // The sample covers both verdicts.
    expect(new Set(results.map((r) => r.want))).toEqual(new Set(['allow', 'deny']));
  }, 15_000);
});
