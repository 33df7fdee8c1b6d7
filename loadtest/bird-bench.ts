// BIRD configuration at scale: the BGP model (computeBgp) and the BIRD 2 text (renderBird)
// for one node of a 1,000-node full mesh and for a reflector and a client of a 5,000-node
// route-reflector topology (mesh off, three reflectors by label), plus `bird -p` on each
// output. `npm run bench:bird`; medians of BIRD_BENCH_REPS (default 5) runs.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { computeBgp } from '../src/agent/calc/routing/bgp.js';
import { RoutingState } from '../src/agent/calc/routing/state.js';
import { renderBirdConfig } from '../src/agent/dataplane/bird/render.js';
import { Keys } from '../src/model/keys.js';
import type { JsonValue, KV } from '../src/model/types.js';
import { generateInitialState } from '../src/testing/sim/index.js';

const REPS = Number(process.env['BIRD_BENCH_REPS'] ?? 5);
const RR_LABEL = 'calico-route-reflector';
const CLUSTER_ID = '224.0.0.1';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function time<T>(fn: () => T): { ms: number; value: T } {
  const t = performance.now();
  const value = fn();
  return { ms: performance.now() - t, value };
}

/** The sim's node KV with the reflector label and cluster ID added (a third reflector). */
function makeReflector(kvs: KV[], name: string): KV {
  const kv = kvs.find((k) => k.key === Keys.node(name));
  if (kv === undefined) throw new Error(`no node ${name}`);
  const v = structuredClone(kv.value) as {
    metadata: { labels: Record<string, string> };
    spec: { bgp: Record<string, JsonValue> };
  };
  v.metadata.labels[RR_LABEL] = 'true';
  v.spec.bgp['routeReflectorClusterID'] = CLUSTER_ID;
  return { key: kv.key, value: v as unknown as JsonValue };
}

interface Row {
  scenario: string;
  peers: number;
  modelMs: number;
  renderMs: number;
  bytes: number;
  lines: number;
  birdParseMs: number | string;
}

function birdParseMs(text: string): number | string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tabby-bird-bench-'));
  try {
    const file = path.join(dir, 'bird.conf');
    writeFileSync(file, text);
    const runs: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const { ms, value } = time(() => spawnSync('bird', ['-p', '-c', file], { encoding: 'utf8' }));
      if (value.error) return `bird unavailable (${value.error.message})`;
      if (value.status !== 0) return `bird -p failed: ${value.stderr.trim()}`;
      runs.push(ms);
    }
    return median(runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function measure(scenario: string, state: RoutingState, node: string): Row {
  const modelRuns: number[] = [];
  const renderRuns: number[] = [];
  let text = '';
  let peers = 0;
  for (let i = 0; i < REPS; i++) {
    const m = time(() => computeBgp(state, node));
    if (!m.value.available) throw new Error(m.value.message);
    const model = m.value;
    const r = time(() => renderBirdConfig(model));
    modelRuns.push(m.ms);
    renderRuns.push(r.ms);
    text = r.value;
    peers = model.peers.length;
  }
  return {
    scenario,
    peers,
    modelMs: median(modelRuns),
    renderMs: median(renderRuns),
    bytes: Buffer.byteLength(text),
    lines: text.split('\n').length - 1,
    birdParseMs: birdParseMs(text),
  };
}

function main(): void {
  const rows: Row[] = [];
  let t = time(() => generateInitialState({ nodes: 1000, pods: 3000 }));
  const mesh = new RoutingState();
  mesh.apply(t.value);
  console.error(`[bird-bench] 1,000-node mesh cluster built in ${t.ms.toFixed(0)} ms`);
  rows.push(measure('1,000-node full mesh, a worker (node-010)', mesh, 'node-010'));

  t = time(() => generateInitialState({ nodes: 5000, pods: 10000, nodeToNodeMesh: false }));
  const rr = new RoutingState();
  // The sim labels node-0000 and node-0001 as reflectors; a third joins them.
  rr.apply([...t.value, makeReflector(t.value, 'node-0002')]);
  console.error(`[bird-bench] 5,000-node RR cluster built in ${t.ms.toFixed(0)} ms`);
  rows.push(measure('5,000-node RR (3 RRs), a reflector (node-0000)', rr, 'node-0000'));
  rows.push(measure('5,000-node RR (3 RRs), a client (node-0010)', rr, 'node-0010'));

  const fmt = (v: number | string) => (typeof v === 'number' ? v.toFixed(2) : v);
  console.log(`\nBIRD config (median of ${REPS}; model = computeBgp, render = renderBirdConfig)\n`);
  console.log('| scenario | peers | model ms | render ms | bytes | lines | bird -p ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows)
    console.log(
      `| ${r.scenario} | ${r.peers} | ${fmt(r.modelMs)} | ${fmt(r.renderMs)} | ${r.bytes} | ${r.lines} | ${fmt(r.birdParseMs)} |`,
    );
}

main();
