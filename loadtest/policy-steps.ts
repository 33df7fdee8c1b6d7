// The incremental policy render path, step by step, in CPU time (process.cpuUsage: user + sys,
// which a loaded machine's run-queue waits do not inflate, unlike the wall clock) and wall time:
// on the policy bench's 50k-endpoint model, node 7, 40 alternating steps: one policy edit (the
// bench's, then its undo) and one remote pod relabel; each step's calc.apply, then the snapshot
// + iptables render + renderRestore diff, as the agent's iptables dataplane does them. Medians.
//
//   node --import tsx loadtest/policy-steps.ts [checkout]
//
// `checkout` (default: this one) is where the code under test is loaded from, so one session
// can measure a checkout from before a change against this one; one without a SnapshotFeed
// re-reads the state with snapshotOf at every step, as the agent did before it.

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KV } from '../src/model/types.js';

type Calc = typeof import('../src/agent/calc/index.js');
type Iptables = typeof import('../src/agent/dataplane/iptables/index.js');
type Rules = Partial<typeof import('../src/agent/dataplane/rules/index.js')> &
  Pick<typeof import('../src/agent/dataplane/rules/index.js'), 'RenderCache' | 'snapshotOf'>;
type Convert = typeof import('../src/datastore/convert/index.js');
type Gen = typeof import('./policy-gen.js');

const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const load = <M>(rel: string): Promise<M> => import(path.join(root, rel)) as Promise<M>;
const { PolicyCalculator } = await load<Calc>('src/agent/calc/index.ts');
const ipt = await load<Iptables>('src/agent/dataplane/iptables/index.ts');
const rules = await load<Rules>('src/agent/dataplane/rules/index.ts');
const { convertObject } = await load<Convert>('src/datastore/convert/index.ts');
const { benchPolicyEdit, DEFAULTS, generate } = await load<Gen>('loadtest/policy-gen.ts');

const NODE_INDEX = 7;
const STEPS = 40;
const cluster = generate(DEFAULTS);
const byKey = new Map(cluster.kvs.map((kv) => [kv.key, kv]));
const calc = new PolicyCalculator(`node-${String(NODE_INDEX).padStart(3, '0')}`);
calc.apply(cluster.kvs);
const cache = new rules.RenderCache();
const hashes = new ipt.ChainHashCache();
const feed = rules.SnapshotFeed === undefined ? undefined : new rules.SnapshotFeed(calc);
const snapshot = (u?: ReturnType<typeof calc.apply>) => {
  if (feed === undefined) return rules.snapshotOf(calc);
  if (u !== undefined) feed.update(u);
  return feed.snapshot();
};
let previous = ipt.render(snapshot(), {}, cache);
ipt.renderRestore(previous, undefined, hashes);

const edit = benchPolicyEdit(calc, byKey);
const undo = byKey.get(edit.key)!;
const remote = cluster.pods.filter((_p, i) => i % DEFAULTS.nodes !== NODE_INDEX && i >= 1000);
const ms = { edit: { calc: [], cpu: [], wall: [] }, relabel: { calc: [], cpu: [], wall: [] } } as Record<
  'edit' | 'relabel',
  Record<'calc' | 'cpu' | 'wall', number[]>
>;
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
};
for (let i = 0; i < STEPS; i++) {
  const kind = i % 2 === 0 ? 'edit' : 'relabel';
  let kvs: KV[];
  if (kind === 'edit') kvs = [i % 4 === 0 ? edit : undo];
  else {
    const pod = structuredClone(remote[i]!);
    const labels = pod.metadata.labels!;
    labels['app'] = labels['app'] === 'a0' ? 'a1' : 'a0';
    kvs = convertObject(pod);
  }
  const a0 = process.cpuUsage();
  const u = calc.apply(kvs);
  ms[kind].calc.push(cpuMs(a0));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const rendered = ipt.render(snapshot(u), {}, cache);
  ipt.renderRestore(rendered, ipt.appliedState(previous, hashes), hashes);
  ms[kind].cpu.push(cpuMs(c0));
  ms[kind].wall.push(performance.now() - t0);
  previous = rendered;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  JSON.stringify({
    checkout: root,
    snapshot: feed === undefined ? 'snapshotOf' : 'SnapshotFeed',
    steps: STEPS,
    editCalcCpuMs: median(ms.edit.calc),
    editRenderCpuMs: median(ms.edit.cpu),
    editRenderWallMs: median(ms.edit.wall),
    relabelCalcCpuMs: median(ms.relabel.calc),
    relabelRenderCpuMs: median(ms.relabel.cpu),
    relabelRenderWallMs: median(ms.relabel.wall),
    loadavg: os.loadavg(),
  }),
);
