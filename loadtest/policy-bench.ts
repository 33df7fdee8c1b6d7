// Policy calculation and iptables rendering at scale: a 50,000-endpoint / 5,000-policy
// snapshot applied to one node's PolicyCalculator and rendered, then one policy edit and one
// pod relabel applied incrementally. `npm run bench:policy`; each repetition runs in a fresh
// child process (node --expose-gc) and the parent reports medians.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CalcUpdate, PolicyCalculator } from '../src/agent/calc/index.js';
import {
  appliedState,
  ChainHashCache,
  type RenderedDataplane,
  render,
  renderRestore,
} from '../src/agent/dataplane/iptables/index.js';
import { type DataplaneSnapshot, RenderCache, SnapshotFeed } from '../src/agent/dataplane/rules/index.js';
import { convertObject } from '../src/datastore/convert/index.js';
import type { KubeObject } from '../src/datastore/kube/object.js';
import { benchPolicyEdit, DEFAULTS, generate } from './policy-gen.js';

const REPS = Number(process.env['POLICY_BENCH_REPS'] ?? 3);
const NODE_INDEX = 7;
const MiB = 1024 * 1024;

type Sample = Record<string, number | string>;

const now = (): number => performance.now();
const heapMiB = (): number => {
  (globalThis as { gc?: () => void }).gc!();
  (globalThis as { gc?: () => void }).gc!();
  return process.memoryUsage().heapUsed / MiB;
};

/**
 * Held across renders, as the agent's dataplane adapter and driver hold them: the feed takes
 * each calc update (the snapshot changes only where the update says), chains of unchanged
 * policies, profiles and endpoints are reused, and unchanged chains not re-hashed.
 */
const renderCache = new RenderCache();
const hashCache = new ChainHashCache();

/** What the kernel would hold after applying `r` (as parseIptablesSave would read it back). */
const stateOf = (r: RenderedDataplane) => appliedState(r, hashCache);

let feed: SnapshotFeed | undefined;

/** The feed's snapshot after `update` (the first call builds it from the calculator). */
function fed(calc: PolicyCalculator, update?: CalcUpdate): DataplaneSnapshot {
  feed ??= new SnapshotFeed(calc);
  if (update !== undefined) feed.update(update);
  return feed.snapshot();
}

function renderAll(calc: PolicyCalculator, previous?: RenderedDataplane, update?: CalcUpdate) {
  const t0 = now();
  const snap = fed(calc, update);
  const t1 = now();
  const rendered = render(snap, {}, renderCache);
  const t2 = now();
  const restore = renderRestore(rendered, previous === undefined ? undefined : stateOf(previous), hashCache);
  const t3 = now();
  let setsChanged = 0;
  if (previous !== undefined) {
    const names = new Set([...previous.ipSets.keys(), ...rendered.ipSets.keys()]);
    for (const n of names) {
      const a = previous.ipSets.get(n)?.members;
      const b = rendered.ipSets.get(n)?.members;
      if (a === undefined || b === undefined || a.length !== b.length || a.some((m, i) => m !== b[i]))
        setsChanged++;
    }
  }
  return {
    snap,
    rendered,
    restore,
    setsChanged,
    ms: { snapshot: t1 - t0, render: t2 - t1, restore: t3 - t2, total: t3 - t0 },
  };
}

/** The nftables renderer, if this checkout has one (optional; loaded by path so its absence is fine). */
interface NftModule {
  render(
    snapshot: DataplaneSnapshot,
    options?: Record<string, never>,
    cache?: RenderCache,
  ): {
    chains: ReadonlyMap<string, readonly string[]>;
    sets: ReadonlyMap<string, { members: readonly string[] }>;
    text: string;
  };
  renderReplace(rendered: unknown): string;
}
async function loadNft(): Promise<NftModule | undefined> {
  const spec = '../src/agent/dataplane/nftables/index.js';
  try {
    const m = (await import(spec)) as Partial<NftModule>;
    return typeof m.render === 'function' && typeof m.renderReplace === 'function'
      ? (m as NftModule)
      : undefined;
  } catch {
    return undefined;
  }
}

type NftRendered = ReturnType<NftModule['render']>;
const nftCache = new RenderCache();
/** nftables from the same fed snapshot as iptables (the feed's update is timed there). */
function nftRender(nft: NftModule, snap: DataplaneSnapshot, previous?: NftRendered) {
  const t0 = now();
  const rendered = nft.render(snap, {}, nftCache);
  const text = nft.renderReplace(rendered);
  const ms = now() - t0;
  let chainsChanged = 0;
  if (previous !== undefined) {
    const names = new Set([...previous.chains.keys(), ...rendered.chains.keys()]);
    for (const n of names) {
      const a = previous.chains.get(n);
      const b = rendered.chains.get(n);
      if (a === undefined || b === undefined || a.length !== b.length || a.some((r, i) => r !== b[i]))
        chainsChanged++;
    }
  }
  const rules = [...rendered.chains.values()].reduce((n, c) => n + c.length, 0);
  return { rendered, ms, bytes: Buffer.byteLength(text), rules, chainsChanged };
}

async function child(): Promise<Sample> {
  const nft = await loadNft();
  const nodeName = `node-${String(NODE_INDEX).padStart(3, '0')}`;
  let t = now();
  const cluster = generate(DEFAULTS);
  const genMs = now() - t;
  const byKey = new Map(cluster.kvs.map((kv) => [kv.key, kv]));
  const heapBefore = heapMiB();

  // (1) Full snapshot.
  const calc = new PolicyCalculator(nodeName);
  t = now();
  const first = calc.apply(cluster.kvs);
  const applyMs = now() - t;
  const heapAfter = heapMiB();
  const setIds = calc.ipSetIds();
  let setMembers = 0;
  for (const id of setIds) setMembers += calc.ipSetMemberCounts(id)?.size ?? 0;

  // (2) Render this node's rules.
  const r1 = renderAll(calc);
  const n1 = nft === undefined ? undefined : nftRender(nft, r1.snap);
  const rules1 = [...r1.rendered.chains.values()].reduce((n, c) => n + c.length, 0);
  let renderedMembers = 0;
  for (const s of r1.rendered.ipSets.values()) renderedMembers += s.members.length;

  // (3) Edit one rule of one Calico NetworkPolicy that applies to a local endpoint.
  const edit = benchPolicyEdit(calc, byKey);
  t = now();
  const u3 = calc.apply([edit]);
  const policyCalcMs = now() - t;
  const r3 = renderAll(calc, r1.rendered, u3);
  const n3 = nft === undefined ? undefined : nftRender(nft, r3.snap, n1!.rendered);

  // (4) Relabel one remote pod (app aK -> another app): IP set members move, no chain changes.
  const local = `/calico/v1/host/${nodeName}/`;
  const podIdx = cluster.pods.findIndex((_p, i) => i % DEFAULTS.nodes !== NODE_INDEX && i >= 1000);
  const pod = structuredClone(cluster.pods[podIdx]!) as KubeObject;
  const labels = pod.metadata.labels!;
  labels['app'] = labels['app'] === 'a0' ? 'a1' : 'a0';
  const relabel = convertObject(pod);
  if (relabel.length !== 1 || relabel[0]!.key.startsWith(local)) throw new Error('bad relabel target');
  t = now();
  const u4 = calc.apply(relabel);
  const labelCalcMs = now() - t;
  let memberChanges = 0;
  for (const c of u4.ipSetChanges) memberChanges += c.added.length + c.removed.length;
  const r4 = renderAll(calc, r3.rendered, u4);
  const n4 = nft === undefined ? undefined : nftRender(nft, r4.snap, n3!.rendered);
  const nftFigures: Sample =
    n1 === undefined
      ? {}
      : {
          nftRenderMs: n1.ms,
          nftChains: n1.rendered.chains.size,
          nftRules: n1.rules,
          nftBytes: n1.bytes,
          nftSets: n1.rendered.sets.size,
          nftPolicyRenderMs: n3!.ms,
          nftPolicyChainsChanged: n3!.chainsChanged,
          nftLabelRenderMs: n4!.ms,
          nftLabelChainsChanged: n4!.chainsChanged,
        };

  return {
    genMs,
    kvs: cluster.kvs.length,
    applyMs,
    heapBeforeMiB: heapBefore,
    heapAfterMiB: heapAfter,
    calcHeapMiB: heapAfter - heapBefore,
    rssMiB: process.memoryUsage().rss / MiB,
    localEndpoints: calc.plans().size,
    ipSets: setIds.length,
    ipSetMembers: setMembers,
    ipSetEvaluations: calc.ipSetEvaluations,
    planChangesFull: first.endpointPlanChanges.length,
    renderSnapshotMs: r1.ms.snapshot,
    renderMs: r1.ms.render,
    restoreMs: r1.ms.restore,
    renderTotalMs: r1.ms.total,
    chains: r1.rendered.chains.size,
    rules: rules1,
    restoreBytes: Buffer.byteLength(r1.restore.text),
    renderedIpSets: r1.rendered.ipSets.size,
    renderedIpSetMembers: renderedMembers,
    warnings: r1.rendered.warnings.length,
    policyEdited: edit.key,
    policyCalcMs,
    policyPlanChanges: u3.endpointPlanChanges.length,
    policyProgramChanges: u3.policyProgramChanges.length,
    policyRenderMs: r3.ms.total,
    policySnapshotMs: r3.ms.snapshot,
    policyRenderOnlyMs: r3.ms.render,
    policyRestoreMs: r3.ms.restore,
    policyChainsWritten: r3.restore.written.length,
    policyChainsDeleted: r3.restore.deleted.length,
    policyRestoreBytes: Buffer.byteLength(r3.restore.text),
    policyIpSetsChanged: r3.setsChanged,
    podRelabelled: relabel[0]!.key,
    labelCalcMs,
    labelIpSetsChanged: u4.ipSetChanges.length,
    labelIpSetMemberChanges: memberChanges,
    labelPlanChanges: u4.endpointPlanChanges.length,
    labelRenderMs: r4.ms.total,
    labelSnapshotMs: r4.ms.snapshot,
    labelRenderOnlyMs: r4.ms.render,
    labelRestoreMs: r4.ms.restore,
    labelChainsWritten: r4.restore.written.length,
    labelChainsDeleted: r4.restore.deleted.length,
    labelRenderedIpSetsChanged: r4.setsChanged,
    ...nftFigures,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function parent(): void {
  const self = fileURLToPath(import.meta.url);
  const samples: Sample[] = [];
  const started = new Date().toISOString();
  for (let i = 0; i < REPS; i++) {
    const res = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--child'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * MiB,
    });
    if (res.status !== 0) throw new Error(`repetition ${i + 1} failed (exit ${res.status})`);
    const line = res.stdout.trim().split('\n').at(-1)!;
    samples.push(JSON.parse(line) as Sample);
    process.stderr.write(
      `repetition ${i + 1}/${REPS}: apply ${Number(samples.at(-1)!['applyMs']).toFixed(0)} ms\n`,
    );
  }
  const med: Sample = {};
  for (const [k, v] of Object.entries(samples[0]!))
    med[k] = typeof v === 'number' ? median(samples.map((s) => Number(s[k]))) : v;

  const f = (k: string, digits = 1): string => Number(med[k]).toFixed(digits);
  const n = (k: string): string => Number(med[k]).toLocaleString('en-US');
  const rows: [string, string, string][] = [
    ['(1) full snapshot', 'apply (calc)', `${f('applyMs', 0)} ms`],
    ['', 'heap retained by calc (after gc)', `${f('calcHeapMiB')} MiB (heap total ${f('heapAfterMiB')} MiB)`],
    ['', 'local endpoints / plans', n('localEndpoints')],
    ['', 'selector IP sets / total members', `${n('ipSets')} / ${n('ipSetMembers')}`],
    ['', 'selector evaluations', n('ipSetEvaluations')],
    ['(2) render node', 'feed snapshot + render + renderRestore', `${f('renderTotalMs')} ms`],
    [
      '',
      '  of which feed / render / restore',
      `${f('renderSnapshotMs')} / ${f('renderMs')} / ${f('restoreMs')} ms`,
    ],
    ['', 'chains / rules / restore bytes', `${n('chains')} / ${n('rules')} / ${n('restoreBytes')}`],
    ['', 'kernel IP sets referenced / members', `${n('renderedIpSets')} / ${n('renderedIpSetMembers')}`],
    ['(3) policy rule edit', 'calc', `${f('policyCalcMs', 2)} ms`],
    ['', 're-render + diff', `${f('policyRenderMs')} ms`],
    [
      '',
      '  of which feed / render / restore',
      `${f('policySnapshotMs')} / ${f('policyRenderOnlyMs')} / ${f('policyRestoreMs')} ms`,
    ],
    ['', 'chains written / deleted', `${n('policyChainsWritten')} / ${n('policyChainsDeleted')}`],
    ['', 'plan changes / restore bytes', `${n('policyPlanChanges')} / ${n('policyRestoreBytes')}`],
    ['(4) remote pod relabel', 'calc', `${f('labelCalcMs', 2)} ms`],
    ['', 'IP sets changed / member changes', `${n('labelIpSetsChanged')} / ${n('labelIpSetMemberChanges')}`],
    ['', 're-render + diff', `${f('labelRenderMs')} ms`],
    [
      '',
      '  of which feed / render / restore',
      `${f('labelSnapshotMs')} / ${f('labelRenderOnlyMs')} / ${f('labelRestoreMs')} ms`,
    ],
    ['', 'chains written / deleted', `${n('labelChainsWritten')} / ${n('labelChainsDeleted')}`],
  ];
  if (med['nftRenderMs'] !== undefined)
    rows.push(
      ['nftables (optional)', 'render + renderReplace', `${f('nftRenderMs')} ms`],
      [
        '',
        'chains / rules / nft -f bytes / sets',
        `${n('nftChains')} / ${n('nftRules')} / ${n('nftBytes')} / ${n('nftSets')}`,
      ],
      [
        '',
        'policy edit: re-render / chains changed',
        `${f('nftPolicyRenderMs')} ms / ${n('nftPolicyChainsChanged')}`,
      ],
      [
        '',
        'pod relabel: re-render / chains changed',
        `${f('nftLabelRenderMs')} ms / ${n('nftLabelChainsChanged')}`,
      ],
    );
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(
    `policy bench: ${n('kvs')} KVs (${DEFAULTS.endpoints} endpoints on ${DEFAULTS.nodes} nodes, ` +
      `${DEFAULTS.namespaces} namespaces, ${DEFAULTS.policies} policies); median of ${REPS}`,
  );
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);

  const out = {
    startedAt: started,
    machine: { node: process.version, cpus: os.cpus().length, loadavg: os.loadavg() },
    model: DEFAULTS,
    repetitions: REPS,
    median: med,
    samples,
  };
  const dir = path.join(path.dirname(self), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'policy-latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), path.join(dir, 'policy-latest.json'))}`);
}

if (process.argv.includes('--child')) {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') throw new Error('run with --expose-gc');
  console.log(JSON.stringify(await child()));
} else parent();
