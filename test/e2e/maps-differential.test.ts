// Differential: judges of the same flows on a namespace lab (2 nodes × 3 pods) — the compiled
// maps, twice, and real packets through the iptables, nftables and bpf dataplanes, each
// programmed in turn on every node by its agent dataplane. explain() is the maps evaluator and
// nothing else (agent/dataplane/maps/explain.ts): here it is the destination node's calculator
// judging each flow on the maps it compiles for each node (a host endpoint is known only to its
// own node's calculator); the "maps" judge is each node's own calculator's maps (evaluateAcross:
// egress on the source node's, ingress on the destination's). So the two differ only in whose calculator compiled the maps; the kernel
// judges are the independent ones. The models are the
// seed lab and seeded random ones (random labels, tiers with Deny/Pass ends, policies with
// Pass/log, named ports, selectors, nets); ≥ 200 TCP and UDP flows in all. The random models
// also give each node a host endpoint on its fabric interface (random labels, so the random
// policies select some; a random profile or none), probed from the fabric namespace to the
// node's own address: failsafe ports, host policy, profiles and the no-policy drop. Any
// disagreement fails the test with the flow and every judge's verdict.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { BpfDataplane } from '../../src/agent/dataplane/bpf/manager.js';
import { evaluateAcross, explain, type Flow, mapsOf } from '../../src/agent/dataplane/maps/index.js';
import type { PolicyDataplane } from '../../src/agent/runtime/parts.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { Keys, keyKind } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { FABRIC_GATEWAY } from './harness/addressing.js';
import { IPTABLES, NFTABLES } from './harness/agent-dataplanes.js';
import { bpfDriver, describeBpf } from './harness/bpf-node.js';
import { Cleanup } from './harness/cleanup.js';
import { preflight } from './harness/preflight.js';
import { startListener } from './harness/probe.js';
import { Prober } from './harness/prober.js';
import { mulberry32, randomModel, TCP_PORTS, UDP_PORTS } from './harness/random-model.js';
import { IDENTITIES, labObjects, podObject } from './harness/seed-lab.js';
import { Lab, type LabNode, type LabPod } from './harness/topology.js';

const tools = await preflight([...IPTABLES.tools, ...NFTABLES.tools]);

type Verdict = 'allow' | 'deny';
/** A pod → pod flow, or (host flows) the fabric → a node's own address. */
interface Probe {
  readonly a: LabPod | 'fabric';
  readonly b: LabPod | LabNode;
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
}
const nameOf = (x: LabPod | LabNode | 'fabric') => (x === 'fabric' ? x : x.name);
const ipOf = (x: LabPod | LabNode) => x.ip;
/** The node whose dataplane judges an end of the flow (undefined: the fabric, unmanaged). */
const nodeOf = (x: LabPod | LabNode | 'fabric') =>
  x === 'fabric' ? undefined : 'node' in x ? x.node.name : x.name;

/** Host flows per random model: the fabric → each node's address, on these ports. */
const HOST_PORTS = [22, 80, 8080, 9090] as const;
const HOST_FLOWS = 6;
interface Judged {
  readonly flow: string;
  readonly verdicts: Record<string, Verdict>;
}

/** Flows probed per model; 30 per random model × 7 models + the seed lab's 40 = 250. */
const RANDOM_MODELS = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
const PER_MODEL = 30;
const SEED_FLOWS = 40;
const BATCH = 30;

await describeBpf('e2e differential: explain(), maps, iptables, nftables and bpf agree on real flows', () => {
  let lab: Lab;
  const results: Judged[] = [];
  const probers = new Map<LabPod | 'fabric', Prober>();
  const cleanup = new Cleanup();

  beforeAll(async () => {
    if (tools !== undefined) throw new Error(`differential needs iptables and nftables: ${tools}`);
    lab = await Lab.create({ nodes: 2, podsPerNode: 3 });
    await Promise.all(
      lab.pods.flatMap((p) => [
        ...TCP_PORTS.map((port) => p.listen(port)),
        ...UDP_PORTS.map((u) => p.listenUdp(u)),
      ]),
    );
    await Promise.all(
      lab.nodes.flatMap((n) => HOST_PORTS.map((port) => startListener(n.ns, 'tcp', port, cleanup))),
    );
    for (const p of lab.pods) probers.set(p, new Prober(p.ns));
    probers.set('fabric', new Prober(lab.fabricNs));
    // Warm the neighbour caches before any policy, so a later timeout means a DROP.
    const open = await Promise.all(
      lab.pods.flatMap((a) =>
        lab.pods.filter((b) => b !== a).map((b) => probers.get(a)!.probe('tcp', b.ip, 80, 5000)),
      ),
    );
    expect(new Set(open)).toEqual(new Set(['connected']));
  }, 60_000);

  afterAll(async () => {
    for (const p of probers.values()) p.close();
    await cleanup.run();
    await lab?.destroy();
  });

  /** The candidate flows: every ordered pod pair × every listening port, shuffled by `seed`. */
  function sample(seed: number, n: number, protocols: readonly ('tcp' | 'udp')[]): Probe[] {
    const all: Probe[] = lab.pods.flatMap((a) =>
      lab.pods
        .filter((b) => b !== a)
        .flatMap((b) => [
          ...(protocols.includes('tcp')
            ? TCP_PORTS.map((port) => ({ a, b, protocol: 'tcp' as const, port }))
            : []),
          ...(protocols.includes('udp')
            ? UDP_PORTS.map((port) => ({ a, b, protocol: 'udp' as const, port }))
            : []),
        ]),
    );
    const rand = mulberry32(seed);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, n);
  }

  /** One kernel judge: program every node, probe each flow, remove everything again. */
  async function kernelJudge(
    name: string,
    create: (node: (typeof lab.nodes)[number]) => { dataplane: PolicyDataplane; cleanup(): Promise<void> },
    calcs: ReadonlyMap<string, PolicyCalculator>,
    probes: readonly Probe[],
    expected: readonly Verdict[],
  ): Promise<Verdict[]> {
    const nodes = lab.nodes.map((n) => ({ n, dp: create(n) }));
    try {
      for (const { n, dp } of nodes) await dp.dataplane.sync(calcs.get(n.name)!);
      const out: Verdict[] = [];
      for (let i = 0; i < probes.length; i += BATCH) {
        const batch = probes.slice(i, i + BATCH);
        out.push(
          ...(await Promise.all(
            batch.map(async (p, j) => {
              const timeoutMs = expected[i + j] === 'allow' ? 3000 : 500;
              const r = await probers.get(p.a)!.probe(p.protocol, ipOf(p.b), p.port, timeoutMs);
              if (r !== 'connected' && r !== 'reply' && r !== 'timeout')
                throw new Error(`${nameOf(p.a)} -> ${nameOf(p.b)} ${p.protocol}/${p.port}: ${r}`);
              return r === 'timeout' ? 'deny' : 'allow';
            }),
          )),
        );
      }
      return out;
    } catch (err) {
      throw new Error(`judge ${name}: ${(err as Error).message}`, { cause: err });
    } finally {
      for (const { dp } of nodes) await dp.cleanup().catch(() => undefined);
    }
  }

  async function judgeAll(model: string, kvs: readonly KV[], probes: readonly Probe[]): Promise<void> {
    const calcs = new Map<string, PolicyCalculator>();
    for (const node of lab.nodes) {
      const calc = new PolicyCalculator(node.name);
      expect(calc.apply([...kvs]).invalid).toEqual([]);
      calcs.set(node.name, calc);
    }
    const maps = new Map([...calcs].map(([n, c]) => [n, mapsOf(c)]));
    const flows: Flow[] = probes.map((p) => ({
      srcIp: p.a === 'fabric' ? FABRIC_GATEWAY : p.a.ip,
      dstIp: ipOf(p.b),
      protocol: p.protocol,
      dstPort: p.port,
    }));
    // A host endpoint is known only to its own node's calculator: explain() on that node.
    const ref = probes.map((p, i) => explain(calcs.get(nodeOf(p.b)!)!, flows[i]!).verdict);
    const viaMaps = probes.map((p, i) => {
      const ingress = maps.get(nodeOf(p.b)!)!;
      return evaluateAcross(maps.get(nodeOf(p.a) ?? nodeOf(p.b)!)!, ingress, flows[i]!).verdict;
    });
    const log = silentLogger;
    const iptables = await kernelJudge('iptables', (n) => IPTABLES.create(n.ns, log), calcs, probes, ref);
    const nftables = await kernelJudge('nftables', (n) => NFTABLES.create(n.ns, log), calcs, probes, ref);
    const bpf = await kernelJudge(
      'bpf',
      (n) => {
        const driver = bpfDriver(lab, n);
        return { dataplane: new BpfDataplane(log, driver), cleanup: () => driver.cleanup() };
      },
      calcs,
      probes,
      ref,
    );
    for (const [i, p] of probes.entries())
      results.push({
        flow: `${model}: ${nameOf(p.a)} -> ${nameOf(p.b)} ${p.protocol}/${p.port}`,
        verdicts: {
          explain: ref[i]!,
          maps: viaMaps[i]!,
          iptables: iptables[i]!,
          nftables: nftables[i]!,
          bpf: bpf[i]!,
        },
      });
  }

  it('the seed lab: 40 TCP flows', async () => {
    const kvs = [...labObjects(), ...lab.pods.map((p) => podObject(p))].flatMap((o) => {
      const converted = convertObject(o);
      if (o.kind !== 'Pod') return converted;
      const p = lab.pods.find((x) => IDENTITIES[x.name]!.name === o.metadata.name)!;
      return converted.map((kv) =>
        keyKind(kv.key) === 'workloadEndpoint'
          ? { key: kv.key, value: { ...(kv.value as Record<string, never>), name: p.hostIface } }
          : kv,
      );
    });
    await judgeAll('seed lab', kvs, sample(0x7ab1, SEED_FLOWS, ['tcp']));
  }, 120_000);

  /** A host endpoint on each node's fabric interface, with random labels and profile. */
  function hostEndpoints(seed: number): KV[] {
    const rand = mulberry32(seed ^ 0x4e9);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    return lab.nodes.map((n) => {
      const labels: Record<string, string> = { role: pick(['web', 'api', 'db']) };
      if (rand() < 0.5) labels['env'] = pick(['prod', 'dev']);
      return {
        key: Keys.hostEndpoint(n.name, `${n.name}-eth0`),
        value: {
          name: n.iface,
          expectedIPv4Addrs: [n.ip],
          labels,
          profileIds: pick<JsonValue[]>([[], ['open'], ['picky']]),
        },
      };
    });
  }

  /** The fabric → node flows, shuffled by `seed`. */
  function hostSample(seed: number, n: number): Probe[] {
    const all: Probe[] = lab.nodes.flatMap((b) =>
      HOST_PORTS.map((port) => ({ a: 'fabric' as const, b, protocol: 'tcp' as const, port })),
    );
    const rand = mulberry32(seed);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, n);
  }

  for (const seed of RANDOM_MODELS)
    it(`random model ${seed.toString(16)}: ${PER_MODEL} TCP/UDP flows + ${HOST_FLOWS} to host endpoints`, async () => {
      await judgeAll(
        `model ${seed.toString(16)}`,
        [...randomModel(lab, seed), ...hostEndpoints(seed)],
        [...sample(seed * 7, PER_MODEL, ['tcp', 'udp']), ...hostSample(seed * 13, HOST_FLOWS)],
      );
    }, 120_000);

  it('no judge disagrees on any flow (≥ 200 flows, both verdicts seen)', () => {
    expect(results.length).toBeGreaterThanOrEqual(200);
    const disagreements = results
      .filter((r) => new Set(Object.values(r.verdicts)).size > 1)
      .map((r) => `${r.flow}: ${JSON.stringify(r.verdicts)}`);
    expect(disagreements).toEqual([]);
    expect(new Set(results.map((r) => r.verdicts['explain']))).toEqual(new Set(['allow', 'deny']));
    // Host endpoint flows were judged both ways too.
    const host = results.filter((r) => r.flow.includes('fabric ->'));
    expect(host.length).toBeGreaterThanOrEqual(RANDOM_MODELS.length * HOST_FLOWS);
    expect(new Set(host.map((r) => r.verdicts['explain']))).toEqual(new Set(['allow', 'deny']));
  });
});
