// The bpf dataplane on the 50,000-endpoint / 5,000-policy bench (loadtest/policy-gen.ts, node 7,
// as `npm run bench:policy`): the bytes one version writes to the kernel — key + value bytes of
// every map update and delete that planApply emits, which is exactly the `bpftool batch` the
// driver runs — for the full snapshot, one policy edit and one remote pod relabel, beside the
// iptables-restore bytes of the same steps. Each step also times the compile both ways: a fresh
// full one (encodePolicy(mapsOf(calc))) and the agent's incremental BpfCompiler (only endpoints
// whose inputs changed), and checks that both plans write the same bytes. Pure: no kernel
// needed. `npm run bench:bpf`.

import { loadavg } from 'node:os';
import { PolicyCalculator } from '../src/agent/calc/index.js';
import { BpfCompiler, EMPTY_STATE, encodePolicy, planApply } from '../src/agent/dataplane/bpf/index.js';
import {
  appliedState,
  ChainHashCache,
  render,
  renderRestore,
} from '../src/agent/dataplane/iptables/index.js';
import { mapsOf } from '../src/agent/dataplane/maps/index.js';
import { RenderCache, snapshotOf } from '../src/agent/dataplane/rules/index.js';
import { convertObject } from '../src/datastore/convert/index.js';
import type { KubeObject } from '../src/datastore/kube/object.js';
import { benchPolicyEdit, DEFAULTS, generate } from './policy-gen.js';

const NODE_INDEX = 7;
const nodeName = `node-${String(NODE_INDEX).padStart(3, '0')}`;
const cluster = generate(DEFAULTS);
const byKey = new Map(cluster.kvs.map((kv) => [kv.key, kv]));
const calc = new PolicyCalculator(nodeName);
calc.apply(cluster.kvs);

// Interfaces get ifindexes in plan order; the bench has no kernel to ask.
const ifindex = new Map([...calc.plans().values()].map((p, i) => [p.interfaceName, 100 + i]));
const mapPath = (m: string) => `/sys/fs/bpf/tabby/maps/${m}`;
const renderCache = new RenderCache();
const hashCache = new ChainHashCache();
const compiler = new BpfCompiler();

function step(label: string, state = EMPTY_STATE, previous?: ReturnType<typeof render>) {
  let t = performance.now();
  const fullEnc = encodePolicy(mapsOf(calc));
  const fullMs = performance.now() - t;
  t = performance.now();
  const enc = compiler.compile(calc);
  const incMs = performance.now() - t;
  t = performance.now();
  const plan = planApply(state, enc, ifindex, mapPath as never);
  const planMs = performance.now() - t;
  const check = planApply(state, fullEnc, ifindex, mapPath as never);
  if (check.lines.join('\n') !== plan.lines.join('\n'))
    throw new Error(`${label}: the incremental compile's plan differs from the full compile's`);
  t = performance.now();
  const rendered = render(snapshotOf(calc), {}, renderCache);
  const restore = renderRestore(rendered, previous && appliedState(previous, hashCache), hashCache);
  const iptMs = performance.now() - t;
  const batchBytes = plan.lines.reduce((n, l) => n + l.length + 1, 0);
  console.log(
    `${label.padEnd(16)} bpf: ${plan.stats.bytes} B to the kernel (${plan.lines.length} map ops, batch file ${batchBytes} B; ` +
      `sets +${plan.stats.setsWritten} entries +${plan.stats.setEntriesWritten}/-${plan.stats.setEntriesDeleted}, ` +
      `programs +${plan.stats.programsWritten} (${plan.stats.opsWritten} ops), endpoints ${plan.stats.endpointsWritten}) ` +
      `| compile: full ${fullMs.toFixed(0)} ms, incremental ${incMs.toFixed(0)} ms ` +
      `(${compiler.stats.compiled} endpoints compiled, ${compiler.stats.reused} reused), plan ${planMs.toFixed(0)} ms ` +
      `| iptables-restore: ${Buffer.byteLength(restore.text)} B in ${iptMs.toFixed(0)} ms`,
  );
  return { state: plan.state, rendered };
}

console.log(
  `node ${nodeName}: ${calc.plans().size} local endpoints, ${calc.ipSetIds().length} IP sets; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const full = step('full snapshot');

// One rule of one local Calico NetworkPolicy edited (the policy-bench's edit).
calc.apply([benchPolicyEdit(calc, byKey)]);
const edited = step('policy edit', full.state, full.rendered);

// One remote pod relabelled: IP set members move.
const podIdx = cluster.pods.findIndex((_p, i) => i % DEFAULTS.nodes !== NODE_INDEX && i >= 1000);
const pod = structuredClone(cluster.pods[podIdx]!) as KubeObject;
pod.metadata.labels!['app'] = pod.metadata.labels!['app'] === 'a0' ? 'a1' : 'a0';
calc.apply(convertObject(pod));
step('remote relabel', edited.state, edited.rendered);
