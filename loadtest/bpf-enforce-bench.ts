// Policy change -> enforcement under iptables, nftables and bpf on the same namespace lab (the
// seed lab, 2 nodes × 3 pods; root). Per rep: a deny policy for frontend -> api:80 is added to
// both nodes' calculators, each node's dataplane syncs (what the agent's apply loop runs), and
// frontend -> api:80 is probed until it is dropped; then the policy is removed and the flow
// probed until it connects again. Reports medians of the sync time (change in -> kernel
// programmed) and of the time until a probe saw it. `npm run bench:enforce` (root).

import { PolicyCalculator } from '../src/agent/calc/index.js';
import { BpfDataplane } from '../src/agent/dataplane/bpf/manager.js';
import type { PolicyDataplane } from '../src/agent/runtime/parts.js';
import { convertObject } from '../src/datastore/convert/index.js';
import type { KubeObject } from '../src/datastore/kube/object.js';
import { keyKind } from '../src/model/keys.js';
import { silentLogger } from '../src/model/logger.js';
import { IPTABLES, NFTABLES } from '../test/e2e/harness/agent-dataplanes.js';
import { bpfDriver, bpfToolchainProblem } from '../test/e2e/harness/bpf-node.js';
import { namedPortsPolicy } from '../test/e2e/harness/extra-policies.js';
import { Prober } from '../test/e2e/harness/prober.js';
import { IDENTITIES, labObjects, podObject } from '../test/e2e/harness/seed-lab.js';
import { Lab, type LabNode } from '../test/e2e/harness/topology.js';

const REPS = Number(process.env['ENFORCE_BENCH_REPS'] ?? 7);
const problem = bpfToolchainProblem();
if (problem) throw new Error(problem);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const lab = await Lab.create({ nodes: 2, podsPerNode: 3 });
try {
  const pod = (name: string) => lab.pods.find((p) => IDENTITIES[p.name]!.name === name)!;
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
  await Promise.all(lab.pods.map((p) => p.listen(80)));
  const prober = new Prober(pod('frontend').ns);
  const api = pod('api').ip;
  const policy: KubeObject = namedPortsPolicy();
  const kinds: [string, (n: LabNode) => { dataplane: PolicyDataplane; cleanup(): Promise<void> }][] = [
    ['iptables', (n) => IPTABLES.create(n.ns, silentLogger)],
    ['nftables', (n) => NFTABLES.create(n.ns, silentLogger)],
    [
      'bpf',
      (n) => {
        const d = bpfDriver(lab, n);
        return { dataplane: new BpfDataplane(silentLogger, d), cleanup: () => d.cleanup() };
      },
    ],
  ];
  for (const [name, create] of kinds) {
    const calcs = lab.nodes.map((n) => {
      const c = new PolicyCalculator(n.name);
      c.apply(kvs);
      return c;
    });
    const dps = lab.nodes.map(create);
    const syncAll = () => Promise.all(dps.map((d, i) => d.dataplane.sync(calcs[i]!)));
    await syncAll();
    const sync: number[] = [];
    const seen: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      for (const del of [false, true]) {
        const change = convertObject(policy).map((kv) => (del ? { key: kv.key, value: null } : kv));
        const t0 = performance.now();
        for (const c of calcs) c.apply(change);
        await syncAll();
        const t1 = performance.now();
        // Dropped: a probe that times out (200 ms); allowed again: one that connects.
        const want = del ? 'connected' : 'timeout';
        while ((await prober.probe('tcp', api, 80, 200)) !== want) {
          if (performance.now() - t0 > 10_000) throw new Error(`${name}: not enforced after 10 s`);
        }
        const t2 = performance.now() - (del ? 0 : 200);
        if (!del) {
          sync.push(t1 - t0);
          seen.push(t2 - t0);
        }
      }
    }
    for (const d of dps) await d.cleanup();
    console.log(
      `${name.padEnd(9)} add a deny policy: synced in ${median(sync).toFixed(1)} ms (median of ${REPS}), first dropped probe sent by ${median(seen).toFixed(1)} ms`,
    );
  }
  prober.close();
} finally {
  await lab.destroy();
}
