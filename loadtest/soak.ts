// `npm run soak -- --minutes N --seed S`: the API emulator with churn in a process of its own,
// 2–3 `tabby serve --datastore kubernetes` replicas on it, agents (verifying light agents,
// lean clients for load, full policy agents over a dry-run dataplane) in another process,
// and faults from a seeded plan (soak-faults.ts) one after another, each timed from
// injection to detection and from its end to recovery. At the end, churn stops and every
// agent's acknowledged state hash must equal the hash a fresh replica (started after the
// faults, never faulted) serves for the API's final state. Exit code 1 on any mismatch,
// unrecovered fault, or agent not back in sync.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SyncClient } from '../src/client/sync-client.js';
import { generateObjects } from '../src/testing/sim/index.js';
import type { ApiInfo } from './api-process.js';
import { Child } from './ipc.js';
import { freePort, Replica, SOURCE_ENTRY, startReplicas, type TabbyEntry } from './replicas.js';
import type { SoakAgentsInit, SoakAgentsStatus } from './soak-agents.js';
import { type FaultTargets, planFaults, runFault } from './soak-faults.js';
import { viewReplica } from './soak-probe.js';
import {
  type FaultRecord,
  faultSummary,
  faultsTable,
  RssSampler,
  type RssTrend,
  rssTable,
} from './soak-report.js';

export interface SoakOptions {
  minutes: number;
  seed: number;
  replicas: number;
  /** Verifying SyncClients without a dataplane. */
  light: number;
  /** Lean clients: load only, they hold no state to compare. */
  lean: number;
  /** Policy agents over a dry-run dataplane, one per node (at most the cluster's nodes). */
  full: number;
  nodes: number;
  pods: number;
  churnPerSec: number;
  /** Multiplies fault durations and calm gaps (CI runs shorter ones). */
  faultScale: number;
  /** Deadline for convergence after a fault and at the end (a loaded machine needs room). */
  settleMs: number;
  entry: TabbyEntry;
  log: (line: string) => void;
}

export const DEFAULT_SOAK: Omit<SoakOptions, 'minutes' | 'seed'> = {
  replicas: 3,
  light: 16,
  lean: 100,
  full: 3,
  nodes: 12,
  pods: 360,
  churnPerSec: 20,
  faultScale: 1,
  settleMs: 180_000,
  entry: SOURCE_ENTRY,
  log: (line) => console.log(line),
};

export interface SoakResult {
  ok: boolean;
  seed: number;
  minutes: number;
  faults: FaultRecord[];
  rss: RssTrend[];
  expectedHash: string;
  agents: { checked: number; matching: number; lean: SoakAgentsStatus['lean'] };
  dataplanes: SoakAgentsStatus['dataplanes'];
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const here = (f: string) => new URL(f, import.meta.url).pathname;

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(250);
  }
  return false;
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const t0 = Date.now();
  const problems: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tabby-soak-'));
  const api = new Child('api', here('./api-process.ts'), ['--max-old-space-size=2048']);
  const agents = new Child('agents', here('./soak-agents.ts'), ['--max-old-space-size=2048']);
  let replicas: Replica[] = [];
  const rss = new RssSampler();
  let sampler: NodeJS.Timeout | undefined;
  try {
    await Promise.all([api.ready, agents.ready]);
    const sim = { nodes: o.nodes, pods: o.pods, seed: o.seed, churnPerSec: 0 };
    const info = await api.request<ApiInfo>('init', { sim }, 120_000);
    await api.request('churn', { eventsPerSec: o.churnPerSec }, 10_000);
    const serveArgs = [
      ...['--datastore', 'kubernetes', '--kubeconfig', info.kubeconfig],
      ...['--log-level', 'warn'],
    ];
    replicas = await startReplicas(o.replicas, serveArgs, o.entry, o.settleMs);
    const nodes = generateObjects(sim)
      .filter((x) => x.kind === 'Node')
      .map((x) => x.metadata.name);
    const init: SoakAgentsInit = {
      ports: replicas.map((r) => r.port),
      light: o.light,
      lean: o.lean,
      fullNodes: nodes.slice(0, o.full),
    };
    await agents.request('start', init, 30_000);
    // Generous: on a loaded machine the agents' process can be busy for a while (a snapshot storm).
    const status = () => agents.request<SoakAgentsStatus>('status', {}, 120_000);
    const converged = async () => {
      const [s, views] = await Promise.all([
        status().catch(() => undefined),
        Promise.all(replicas.map((r) => viewReplica(r, false))),
      ]);
      if (!s) return false;
      return (
        views.every((v) => v.inSync) &&
        s.agents.every((a) => a.connected && a.status === 'in-sync') &&
        s.lean.synced === s.lean.total
      );
    };
    if (!(await until(converged, o.settleMs))) throw new Error('agents never converged at the start');
    o.log(
      `soak: ${info.objects} objects, ${o.replicas} replicas, agents in sync after ${Date.now() - t0} ms`,
    );

    const procs = () => [
      { role: 'soak', pid: process.pid },
      { role: 'api', pid: api.proc.pid },
      { role: 'agents', pid: agents.proc.pid },
      ...replicas.map((r) => ({ role: `replica-${r.index}`, pid: r.pid })),
    ];
    const sampleEvery = Math.max(2_000, Math.round((o.minutes * 60_000) / 400));
    rss.sample(procs(), Date.now());
    sampler = setInterval(() => rss.sample(procs(), Date.now()), sampleEvery);

    const targets: FaultTargets = { api, agents, replicas, replicaStartMs: o.settleMs };
    // Minutes of faults: start-up (replicas, first snapshots) is not counted.
    const end = Date.now() + o.minutes * 60_000;
    const records: FaultRecord[] = [];
    for (const f of planFaults(o.seed, 10_000, o.replicas, o.faultScale)) {
      if (Date.now() + f.gapMs + f.durationMs > end) break;
      await sleep(f.gapMs);
      const rec = await exercise(f, records.length + 1);
      records.push(rec);
      o.log(faultsTable([rec]).split('\n')[1]!);
      if (rec.recoverMs === undefined) {
        problems.push(`fault ${rec.n} (${rec.kind}) did not recover within ${o.settleMs} ms`);
        break;
      }
    }

    async function exercise(f: ReturnType<typeof planFaults>[number], n: number): Promise<FaultRecord> {
      const base = await Promise.all(
        replicas.map(async (r) => ({ pid: r.pid, v: await viewReplica(r, true) })),
      );
      const reconnects = (s: SoakAgentsStatus) =>
        s.agents.reduce((a, x) => a + x.reconnects, 0) + s.lean.reconnects;
      const baseReconnects = reconnects(await status());
      const at = Date.now();
      let detectedAt: number | undefined;
      let done = false;
      // Two watchers, so that a slow answer from the busy agents' process does not delay the replicas'.
      const poll = async (seen: () => Promise<boolean>) => {
        while (!done && detectedAt === undefined) {
          if (await seen().catch(() => false)) detectedAt ??= Date.now();
          else await sleep(200);
        }
      };
      const byReplicas = poll(async () => {
        const views = await Promise.all(replicas.map((r) => viewReplica(r, true)));
        return views.some(
          (v, i) =>
            v.up &&
            (!v.inSync || (base[i]!.pid === replicas[i]!.pid && v.reactions !== base[i]!.v.reactions)),
        );
      });
      const byAgents = poll(async () => reconnects(await status()) > baseReconnects);
      const endedAt = await runFault(f, targets);
      const recovered = await until(converged, o.settleMs);
      const recoveredAt = Date.now();
      // A reaction may come after recovery looks complete (a relist after a 410): look a while longer.
      await until(async () => detectedAt !== undefined, 10_000);
      done = true;
      await Promise.all([byReplicas, byAgents]);
      return {
        n,
        kind: f.kind,
        param: f.param,
        durationMs: endedAt - at,
        atS: Math.round((at - t0) / 1_000),
        detectMs: detectedAt === undefined ? undefined : detectedAt - at,
        recoverMs: recovered ? recoveredAt - endedAt : undefined,
      };
    }

    // The end: no more writes; the state every agent must reach is what a fresh replica serves.
    await api.request('churn', { eventsPerSec: 0 }, 10_000);
    if (!(await until(converged, o.settleMs))) problems.push('agents not back in sync after the last fault');
    const expectedHash = await freshReplicaHash(serveArgs, o, dir);
    await until(
      async () =>
        (await status().catch(() => undefined))?.agents.every((a) => a.hash === expectedHash) ?? false,
      o.settleMs,
    );
    const last = await status();
    const wrong = last.agents.filter((a) => a.hash !== expectedHash);
    for (const a of wrong.slice(0, 10))
      problems.push(
        `${a.id} on ${a.serverId || 'no replica'} (${a.status}) holds ${a.hash ?? 'no state'}, API state ${expectedHash}`,
      );
    if (wrong.length > 10) problems.push(`… and ${wrong.length - 10} more agents with another state`);
    if (last.lean.synced !== last.lean.total)
      problems.push(
        `${last.lean.total - last.lean.synced} of ${last.lean.total} lean clients not in sync at the end`,
      );
    for (const d of last.dataplanes)
      if (d.endpoints === 0 && d.maxEndpoints > 0)
        problems.push(`full agent ${d.node}: its dry-run dataplane was left with no endpoints (flushed)`);
    clearInterval(sampler);
    rss.sample(procs(), Date.now());
    const trends = rss.trends();
    return {
      ok: problems.length === 0,
      seed: o.seed,
      minutes: o.minutes,
      faults: records,
      rss: trends,
      expectedHash,
      agents: { checked: last.agents.length, matching: last.agents.length - wrong.length, lean: last.lean },
      dataplanes: last.dataplanes,
      problems,
    };
  } finally {
    clearInterval(sampler);
    await agents.request('close', {}, 15_000).catch(() => {});
    await Promise.all(replicas.map((r) => r.stop(5_000)));
    await api.request('close', {}, 15_000).catch(() => {});
    await Promise.all([agents.stop(), api.stop()]);
    for (const r of replicas) r.killNow();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A replica started now, never faulted, and a client of it: the hash of the API's state. */
async function freshReplicaHash(serveArgs: string[], o: SoakOptions, _dir: string): Promise<string> {
  const fresh = new Replica(99, await freePort(), await freePort(), serveArgs, o.entry);
  await fresh.start(o.settleMs);
  const c = new SyncClient({
    addresses: [`127.0.0.1:${fresh.port}`],
    syncer: 'felix',
    hostname: 'soak-referee',
  });
  try {
    c.start();
    const ok = await until(async () => c.status === 'in-sync' && c.state.hashHex() !== undefined, o.settleMs);
    if (!ok) throw new Error('the fresh replica did not bring a client in sync');
    return c.state.hashHex()!;
  } finally {
    await c.stop();
    await fresh.stop(5_000);
  }
}

export function formatSoak(r: SoakResult): string {
  return [
    `soak: seed ${r.seed}, ${r.minutes} min, ${r.faults.length} faults`,
    '',
    faultsTable(r.faults),
    '',
    faultSummary(r.faults),
    '',
    "RSS per process (each one's first 30 s skipped: start-up is growth, not a trend)",
    rssTable(r.rss),
    '',
    `API state hash ${r.expectedHash}: ${r.agents.matching} of ${r.agents.checked} agents hold it; ` +
      `lean clients in sync ${r.agents.lean.synced}/${r.agents.lean.total}`,
    `full agents' dry-run dataplanes: ${r.dataplanes.map((d) => `${d.node} ${d.applies} applies, ${d.endpoints} endpoints`).join('; ')}`,
    r.rss.some((t) => t.upward)
      ? `RSS: upward trend in ${r.rss
          .filter((t) => t.upward)
          .map((t) => t.proc)
          .join(', ')}`
      : 'RSS: no upward trend',
    r.ok ? 'OK' : `FAILED:\n  ${r.problems.join('\n  ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '15' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      replicas: { type: 'string', default: String(DEFAULT_SOAK.replicas) },
      light: { type: 'string', default: String(DEFAULT_SOAK.light) },
      lean: { type: 'string', default: String(DEFAULT_SOAK.lean) },
      full: { type: 'string', default: String(DEFAULT_SOAK.full) },
      churn: { type: 'string', default: String(DEFAULT_SOAK.churnPerSec) },
      'fault-scale': { type: 'string', default: '1' },
      json: { type: 'string' },
      dist: { type: 'boolean', default: false },
    },
  });
  const num = (k: keyof typeof values) => {
    const v = Number(values[k]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${k}: expected a number >= 0, got ${values[k]}`);
    return v;
  };
  const replicas = num('replicas');
  if (replicas < 2 || replicas > 3) throw new Error('--replicas: 2 or 3');
  const o: SoakOptions = {
    ...DEFAULT_SOAK,
    minutes: num('minutes'),
    seed: Math.floor(num('seed')),
    replicas,
    light: num('light'),
    lean: num('lean'),
    full: num('full'),
    churnPerSec: num('churn'),
    faultScale: num('fault-scale'),
    entry: values.dist ? { execArgv: [], main: here('../dist/cli/main.js') } : SOURCE_ENTRY,
  };
  console.log(`soak: --minutes ${o.minutes} --seed ${o.seed} (replay a failure with the same seed)`);
  const r = await runSoak(o);
  console.log(formatSoak(r));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
  process.exitCode = r.ok ? 0 : 1;
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  main().catch((err: Error) => {
    console.error(`soak: ${err.message}`);
    process.exitCode = 2;
  });
}
