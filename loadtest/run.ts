// The engine behind `tabby loadtest`: starts the API emulator and the agent processes once,
// runs the scenario's modes one after the other with them (same agent code, same processes),
// then writes <name>.json and the self-contained <name>.html and prints the table.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Scenario } from '../src/config/loadtest-config.js';
import type { ApiInfo } from './api-process.js';
import { renderHtml } from './html-report.js';
import { Child } from './ipc.js';
import {
  agentProcessCount,
  niceAgents,
  type RunContext,
  runCeiling,
  runDirect,
  runRollout,
  runTabby,
  startAgentProcesses,
} from './modes.js';
import { ProcGroup } from './proc-stats.js';
import { type Replica, SOURCE_ENTRY, serveHelp, serverFlags, type TabbyEntry } from './replicas.js';
import { formatJson } from './report.js';
import { checkTargets, consoleTable, type LoadtestResult, type ModeResult } from './results.js';

export interface RunOptions {
  entry?: TabbyEntry;
  outDir: string;
  html: boolean;
  progress: boolean;
}

export interface RunOutput {
  result: LoadtestResult;
  jsonPath: string;
  htmlPath: string | undefined;
}

const live = new Set<Replica | Child>();
process.on('exit', () => {
  for (const x of live) x.killNow();
});

/** `tabby serve` flags every replica gets (the scenario's `server:` section is added to them). */
function baseServeArgs(kubeconfig: string, maxConnections: number): string[] {
  return [
    ...['--datastore', 'kubernetes', '--kubeconfig', kubeconfig],
    ...['--max-connections', String(maxConnections), '--log-level', 'warn', '--lint', 'false'],
  ];
}

export async function runScenario(sc: Scenario, o: RunOptions): Promise<RunOutput> {
  const started = Date.now();
  const entry = o.entry ?? SOURCE_ENTRY;
  // Fails before anything starts if the scenario asks for a flag this server lacks.
  const extra = serverFlags(sc.server, await serveHelp(entry));
  const tmpDir = mkdtempSync(join(tmpdir(), 'tabby-loadtest-run-'));
  const track = (x: Replica | Child) => live.add(x);
  const api = new Child('api', new URL('./api-process.ts', import.meta.url).pathname, [
    '--max-old-space-size=8192',
  ]);
  track(api);
  const agents = startAgentProcesses(agentProcessCount(sc), track);
  const result: LoadtestResult = {
    scenario: sc,
    startedAt: new Date(started).toISOString(),
    elapsedS: 0,
    machine: {
      node: process.version,
      cpus: cpus().length,
      loadAvg1AtStart: Math.round(loadavg()[0]! * 100) / 100,
      totalMemGiB: Math.round(totalmem() / 2 ** 30),
    },
    cluster: { objects: 0, pods: 0 },
    modes: [],
    targets: [],
  };
  try {
    await Promise.all([api.ready, ...agents.map((a) => a.ready)]);
    niceAgents(agents);
    const { nodes, podsPerNode, namespaces, seed } = sc.cluster;
    const apiInfo = await api.request<ApiInfo>(
      'init',
      { sim: { nodes, pods: nodes * podsPerNode, namespaces, seed, churnPerSec: 0 } },
      300_000,
    );
    result.cluster = { objects: apiInfo.objects, pods: apiInfo.pods };
    const perReplica = Math.ceil(sc.agents.count / sc.replicas) + 100;
    const ctx: RunContext = {
      sc,
      entry,
      api,
      apiInfo,
      apiProc: new ProcGroup(() => (api.proc.pid ? [api.proc.pid] : [])),
      agents,
      serveArgs: [...baseServeArgs(apiInfo.kubeconfig, Math.max(10_000, perReplica * 2)), ...extra],
      progress: o.progress,
      tmpDir,
      track,
    };
    for (const mode of sc.modes) {
      const runs: Promise<ModeResult>[] = [];
      if (mode === 'tabby') runs.push(runTabby(ctx));
      else if (mode === 'ceiling') runs.push(runCeiling(ctx));
      else if (mode === 'direct') runs.push(runDirect(ctx));
      for (const m of mode === 'rollout' ? sc.rollout.resume : [])
        result.modes.push(await runRollout(ctx, m));
      for (const r of runs) result.modes.push(await r);
    }
    if (ctx.snapshotWireBytes !== undefined) result.cluster.snapshotWireBytes = ctx.snapshotWireBytes;
  } finally {
    await Promise.all([...agents, api].map((c) => c.request('close', {}, 15_000).catch(() => {})));
    await Promise.all([...agents, api].map((c) => c.stop()));
    for (const x of live) x.killNow();
    live.clear();
    rmSync(tmpDir, { recursive: true, force: true });
  }
  result.elapsedS = Math.round((Date.now() - started) / 1_000);
  result.targets = checkTargets(result);
  mkdirSync(o.outDir, { recursive: true });
  const jsonPath = join(o.outDir, `${sc.name}.json`);
  writeFileSync(jsonPath, `${formatJson(JSON.parse(JSON.stringify(result)))}\n`);
  let htmlPath: string | undefined;
  if (o.html) {
    htmlPath = join(o.outDir, `${sc.name}.html`);
    writeFileSync(htmlPath, renderHtml(result));
  }
  console.log(`\n${consoleTable(result)}\n`);
  return { result, jsonPath, htmlPath };
}
