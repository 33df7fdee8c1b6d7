// The four modes of a run, all driving the same agent processes: through Tabby (recording
// what it sends), the ceiling (a bare broadcaster replaying that recording with as many
// processes), direct (agents List+Watch the API), and a rolling restart of the replicas
// with resume on or off. Each returns a ModeResult; every process it starts it stops.

import { writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import type { Scenario } from '../src/config/loadtest-config.js';
import { RESOURCE_TYPES } from '../src/datastore/kube/resources.js';
import type { StatsSnapshot } from '../src/testing/emulator/stats.js';
import type {
  AgentConnectArgs,
  AgentConnectResult,
  AgentWindow,
  CurrentResult,
  SplitArgs,
  WindowArgs,
} from './agent-worker.js';
import type { ApiInfo } from './api-process.js';
import { Child } from './ipc.js';
import { wallNow } from './lean-client.js';
import { type LoopDelay, scrapeLoopDelay } from './loop-delay.js';
import { ProcGroup, withChildren } from './proc-stats.js';
import { deltaBody, Recorder, type Recording } from './recorder.js';
import { type Replica, startReplicas, type TabbyEntry } from './replicas.js';
import { type ApiLoad, cdfPoints, type ModeResult, summarize } from './results.js';
import { Sampler } from './sampler.js';
import { readStamps } from './stamp.js';
import { Histogram, percentile } from './stats.js';
import { mergeSplits, type SplitPart } from './upstream.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;
/** Sockets one process may hold, with room for its own files (the limit is 20,000). */
const FILES_PER_PROCESS = 19_000;

export interface RunContext {
  sc: Scenario;
  entry: TabbyEntry;
  api: Child;
  apiInfo: ApiInfo;
  apiProc: ProcGroup;
  agents: Child[];
  serveArgs: string[];
  progress: boolean;
  tmpDir: string;
  /** Tracks every replica and broadcaster, so that nothing outlives the run. */
  track(x: Replica | Child): void;
  recording?: { path: string; stamps: number; spanMs: number };
  snapshotWireBytes?: number;
}

const share = (total: number, parts: number, i: number) =>
  Math.floor(total / parts) + (i < total % parts ? 1 : 0);

async function connectAgents(
  ctx: RunContext,
  args: Omit<AgentConnectArgs, 'agents' | 'firstId' | 'deadlineMs' | 'concurrency'>,
  agents: number,
): Promise<ModeResult['sync'] & { ok: boolean }> {
  const deadlineMs = ctx.sc.syncTimeoutS * 1_000;
  const concurrency = ctx.sc.agents.connect === 'storm' ? agents : ctx.sc.agents.concurrency;
  let first = 0;
  const results = await Promise.all(
    ctx.agents.map((c, i) => {
      const n = share(agents, ctx.agents.length, i);
      first += n;
      const a: AgentConnectArgs = { ...args, agents: n, firstId: first - n, deadlineMs, concurrency };
      return c.request<AgentConnectResult>('connect', a, deadlineMs + 15_000);
    }),
  );
  const synced = results.reduce((s, r) => s + r.synced, 0);
  const all = results.flatMap((r) => r.syncMs);
  return {
    ok: synced >= agents,
    allSyncedMs:
      Math.max(...results.map((r) => r.lastSyncedAtMs)) - Math.min(...results.map((r) => r.firstStartAtMs)),
    perAgentMs: {
      count: all.length,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      max: percentile(all, 100),
    },
    failed:
      results.reduce((s, r) => s + r.failed, 0) +
      (agents - synced - results.reduce((s, r) => s + r.failed, 0)),
    errors: results.flatMap((r) => r.errors).slice(0, 5),
  };
}

const apiStats = (ctx: RunContext, resetLoopDelay = false) =>
  ctx.api.request<StatsSnapshot & { stamped: number; loopDelay: LoopDelay }>(
    'stats',
    { resetLoopDelay },
    10_000,
  );

function apiLoad(before: StatsSnapshot, after: StatsSnapshot): ApiLoad {
  const a = after.total;
  const b = before.total;
  return {
    watchesOpen: a.watchesOpen,
    watchesStarted: a.watchesStarted - b.watchesStarted,
    lists: a.lists - b.lists,
    listItems: a.listItems - b.listItems,
    bytesServed: a.bytesServed - b.bytesServed,
    eventsSent: a.eventsSent - b.eventsSent,
  };
}

/** Waits until deliveries stop growing (every agent drained what was sent), at most `maxMs`. */
async function settle(ctx: RunContext, maxMs: number): Promise<void> {
  let last = -1;
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    await sleep(1_000);
    // A busy agent process (niced, on a loaded machine) answers late: that is "not settled".
    const p = await Promise.all(
      ctx.agents.map((c) => c.request<{ samples: number }>('progress', {}, 30_000).catch(() => undefined)),
    );
    if (p.some((x) => x === undefined)) continue;
    const n = p.reduce((s, x) => s + x!.samples, 0);
    if (n === last) return;
    last = n;
  }
}

interface WindowPlan {
  /** Starts the traffic (API churn, or the broadcasters' replay). */
  begin(sinceMs: number): Promise<void>;
  end(): Promise<void>;
  durationMs: number;
  expectedStamps(): Promise<number>;
  /** Event-loop delay since begin(), read once the window has drained. */
  eventLoop?(): Promise<Window['eventLoop']>;
}

type Window = NonNullable<ModeResult['window']>;

/** The recorder's side of the upstream/fan-out split (tabby mode). */
interface SplitSource {
  /** Port the recorder is on: only agents on that replica are split against it. */
  port: number;
  upstream(sinceMs: number): Map<number, number>;
}

async function splitWindow(ctx: RunContext, src: SplitSource, sinceMs: number, h: Histogram) {
  const up = src.upstream(sinceMs);
  const upH = new Histogram();
  for (const v of up.values()) upH.record(Math.max(0, v));
  const args: SplitArgs = { upstream: [...up], tailAboveMs: h.percentile(99) };
  const parts = await Promise.all(ctx.agents.map((c) => c.request<SplitPart>('split', args, 60_000)));
  const m = mergeSplits(parts);
  return {
    upstreamMs: summarize(upH),
    fanoutMs: summarize(m.fanout),
    matched: m.matched,
    unmatched: m.unmatched,
    beforeRecorder: m.beforeRecorder,
    tailUpstreamShare: m.tailUpstreamShare,
    tailSamples: m.tailSamples,
    upstreamCdf: cdfPoints(upH.toJSON()),
    fanoutCdf: cdfPoints(m.fanout.toJSON()),
  };
}

async function measure(
  ctx: RunContext,
  sampler: Sampler,
  server: ProcGroup,
  agents: number,
  plan: WindowPlan,
  split?: SplitSource,
): Promise<Window> {
  sampler.phase = 'measure';
  sampler.resetPeak();
  const sinceMs = wallNow();
  const wa: WindowArgs = { sinceMs, ...(split ? { keepSamplesOnPort: split.port } : {}) };
  await Promise.all(ctx.agents.map((c) => c.request('window', wa, 60_000)));
  const cpu0 = server.read().cpuMs;
  const t0 = performance.now();
  await plan.begin(sinceMs);
  const faults = ctx.sc.faults.dropWatchesAtS.map((s) =>
    setTimeout(() => void ctx.api.request('dropWatches', {}, 10_000).catch(() => {}), s * 1_000),
  );
  await sleep(plan.durationMs);
  for (const f of faults) clearTimeout(f);
  await plan.end();
  sampler.phase = 'drain';
  await settle(ctx, 60_000);
  const wallMs = performance.now() - t0;
  const cpuMs = server.read().cpuMs - cpu0;
  const windows = await Promise.all(ctx.agents.map((c) => c.request<AgentWindow>('collect', {}, 60_000)));
  const h = new Histogram();
  for (const w of windows) h.merge(w.latency);
  const bytes = windows.reduce((s, w) => s + w.bytes, 0);
  const eventLoop = await plan.eventLoop?.();
  return {
    ...(split ? { split: await splitWindow(ctx, split, sinceMs, h) } : {}),
    ...(eventLoop ? { eventLoop } : {}),
    durationMs: Math.round(wallMs),
    latencyMs: summarize(h),
    expectedSamples: (await plan.expectedStamps()) * agents,
    deltasPerSec: h.count / (plan.durationMs / 1_000),
    bytes,
    bytesPerAgent: bytes / Math.max(1, agents),
    serverCpuPct: (100 * cpuMs) / wallMs,
    serverRssMaxMiB: sampler.rssMax,
    agentCpuMs: Math.round(windows.reduce((s, w) => s + w.cpuMs, 0)),
    cdf: cdfPoints(h.toJSON()),
  };
}

/** API churn for the window; `replicas`' event-loop delay is bracketed by scrapes of their /metrics. */
function churnPlan(ctx: RunContext, replicas: Replica[] = []): WindowPlan {
  let stamped0 = 0;
  return {
    durationMs: ctx.sc.durationS * 1_000,
    async begin() {
      await Promise.all(replicas.map((r) => scrapeLoopDelay(r.healthPort)));
      stamped0 = (await apiStats(ctx, true)).stamped;
      await ctx.api.request('churn', { eventsPerSec: ctx.sc.churn.eventsPerSec }, 10_000);
    },
    async end() {
      await ctx.api.request('churn', { eventsPerSec: 0 }, 10_000);
    },
    async expectedStamps() {
      return (await apiStats(ctx)).stamped - stamped0;
    },
    async eventLoop() {
      const [api, reps] = await Promise.all([
        apiStats(ctx),
        Promise.all(replicas.map((r) => scrapeLoopDelay(r.healthPort))),
      ]);
      return { api: api.loopDelay, ...(replicas.length > 0 ? { replicas: reps } : {}) };
    },
  };
}

/** Shared frame of a mode: sampler, connect, idle memory, then the plan's window. */
async function runMode(
  ctx: RunContext,
  label: string,
  mode: string,
  server: ProcGroup,
  serverProcesses: number,
  connect: () => Promise<NonNullable<ModeResult['sync']> & { ok: boolean }>,
  agents: number,
  body: (r: ModeResult, sampler: Sampler) => Promise<void>,
  /** Runs before the memory baseline (e.g. the first snapshot built, so it is not charged to agents). */
  prepare: () => Promise<void> = async () => {},
  /** API counters from before the mode's servers started (their initial lists count). */
  apiBefore?: StatsSnapshot,
): Promise<ModeResult> {
  const sampler = new Sampler({
    label,
    agents: ctx.agents,
    api: ctx.api,
    apiProc: ctx.apiProc,
    server,
    progress: ctx.progress,
  });
  sampler.total = agents;
  const r: ModeResult = { mode, label, agents, serverProcesses, timeline: sampler.timeline };
  const api0 = apiBefore ?? (await apiStats(ctx));
  sampler.start();
  try {
    sampler.phase = 'connect';
    await prepare();
    const rss0 = server.read().rssBytes;
    const { ok, ...sync } = await connect();
    r.sync = sync;
    if (!ok)
      throw new Error(`${agents - sync.failed} of ${agents} agents in sync; ${sync.errors.join(' | ')}`);
    sampler.phase = 'idle';
    await sleep(1_000);
    const rss1 = server.read().rssBytes;
    r.memory = {
      rssBeforeMiB: rss0 / MiB,
      rssSyncedMiB: rss1 / MiB,
      perAgentKiB: (rss1 - rss0) / agents / 1024,
    };
    await body(r, sampler);
  } catch (err) {
    r.error = (err as Error).message;
    console.error(`\n[${label}] failed: ${r.error}`);
  } finally {
    await sampler.stop();
    r.api = apiLoad(api0, await apiStats(ctx));
    await Promise.all(ctx.agents.map((c) => c.request('disconnect', {}, 30_000).catch(() => {})));
  }
  return r;
}

function saveRecording(ctx: RunContext, rec: Recording): void {
  const path = join(ctx.tmpDir, 'recording.v8');
  writeFileSync(path, serialize(rec));
  let stamps = 0;
  for (const d of rec.deltas) stamps += new Set(readStamps(deltaBody(d.frame))).size;
  ctx.recording = { path, stamps, spanMs: rec.deltas.at(-1)?.atMs ?? 0 };
  ctx.snapshotWireBytes = rec.preamble.length;
}

export async function runTabby(ctx: RunContext): Promise<ModeResult> {
  const api0 = await apiStats(ctx);
  const replicas = await startReplicas(ctx.sc.replicas, ctx.serveArgs, ctx.entry, 120_000);
  for (const r of replicas) ctx.track(r);
  const server = new ProcGroup(() => withChildren(replicas.map((r) => r.pid).filter((p) => p !== undefined)));
  const ports = replicas.map((r) => r.port);
  const recorder = new Recorder();
  const n = ctx.sc.agents.count;
  try {
    return await runMode(
      ctx,
      'tabby',
      'tabby',
      server,
      replicas.length * (ctx.sc.server.workers ?? 1),
      () => connectAgents(ctx, { kind: 'sync', ports, apiPort: ctx.apiInfo.port }, n),
      n,
      async (r, sampler) => {
        recorder.record();
        const split = { port: ports[0]!, upstream: (since: number) => recorder.upstream(since) };
        r.window = await measure(ctx, sampler, server, n, churnPlan(ctx, replicas), split);
        if (ctx.sc.modes.includes('ceiling')) saveRecording(ctx, recorder.stop());
      },
      async () => {
        recorder.start(ports[0]!);
        // Every socket-owning process (each replica, each of its workers) encodes the snapshot
        // for its first client. Warm them all, so that no snapshot is charged to the agents'
        // memory: connections are dealt round-robin to workers, two per worker covers each.
        const warmers = ports.flatMap((port) =>
          Array.from({ length: 2 * (ctx.sc.server.workers ?? 1) }, () => {
            const w = new Recorder();
            w.start(port);
            return w;
          }),
        );
        await Promise.race([
          Promise.all([recorder.synced, ...warmers.map((w) => w.synced)]),
          sleep(ctx.sc.syncTimeoutS * 1_000),
        ]);
        for (const w of warmers) w.stop();
        await sleep(1_000);
      },
      api0,
    );
  } finally {
    recorder.stop();
    await Promise.all(replicas.map((r) => r.stop(15_000)));
  }
}

export async function runCeiling(ctx: RunContext): Promise<ModeResult> {
  const rec = ctx.recording;
  const n = ctx.sc.agents.count;
  const procs = ctx.sc.replicas * (ctx.sc.server.workers ?? 1);
  const label = 'ceiling';
  if (!rec)
    return {
      mode: 'ceiling',
      label,
      agents: n,
      serverProcesses: procs,
      error: 'no recording of Tabby',
      timeline: [],
    };
  const casters = Array.from(
    { length: procs },
    (_, i) =>
      new Child(`broadcaster-${i}`, new URL('./broadcaster-process.ts', import.meta.url).pathname, [
        '--max-old-space-size=4096',
      ]),
  );
  for (const c of casters) ctx.track(c);
  try {
    await Promise.all(casters.map((c) => c.ready));
    const ports = await Promise.all(
      casters.map((c) =>
        c.request<{ port: number }>('init', { recordingPath: rec.path }, 60_000).then((x) => x.port),
      ),
    );
    const server = new ProcGroup(() => casters.filter((c) => !c.exited).map((c) => c.proc.pid!));
    return await runMode(
      ctx,
      label,
      'ceiling',
      server,
      procs,
      () => connectAgents(ctx, { kind: 'sync', ports, apiPort: ctx.apiInfo.port }, n),
      n,
      async (r, sampler) => {
        r.window = await measure(ctx, sampler, server, n, {
          durationMs: rec.spanMs + 500,
          async begin(sinceMs) {
            await Promise.all(casters.map((c) => c.request('play', { startAtMs: sinceMs + 200 }, 10_000)));
          },
          async end() {},
          async expectedStamps() {
            return rec.stamps;
          },
        });
      },
    );
  } finally {
    await Promise.all(casters.map((c) => c.request('close', {}, 10_000).catch(() => {})));
    await Promise.all(casters.map((c) => c.stop()));
  }
}

export async function runDirect(ctx: RunContext): Promise<ModeResult> {
  const wanted = ctx.sc.agents.count;
  // Every agent holds one watch per type, and all of them end in the one API process.
  const fit = Math.floor(FILES_PER_PROCESS / RESOURCE_TYPES.length);
  const n = Math.min(wanted, fit);
  const pid = ctx.api.proc.pid!;
  const server = new ProcGroup(() => [pid]);
  const r = await runMode(
    ctx,
    'direct',
    'direct',
    server,
    1,
    () => connectAgents(ctx, { kind: 'direct', ports: [], apiPort: ctx.apiInfo.port }, n),
    n,
    async (res, sampler) => {
      res.window = await measure(ctx, sampler, server, n, churnPlan(ctx));
    },
  );
  if (n < wanted)
    r.note =
      `${n} of ${wanted} agents: ${RESOURCE_TYPES.length} watches each, and the API process may hold ` +
      `20,000 files; ${wanted} agents would need ${(wanted * RESOURCE_TYPES.length).toLocaleString('en-US')} watches`;
  return r;
}

export async function runRollout(ctx: RunContext, resume: boolean): Promise<ModeResult> {
  const { drainMs, pauseMs } = ctx.sc.rollout;
  const args = [...ctx.serveArgs, '--shutdown-drain-ms', String(drainMs)];
  const api0 = await apiStats(ctx);
  const replicas = await startReplicas(ctx.sc.replicas, args, ctx.entry, 120_000);
  for (const r of replicas) ctx.track(r);
  const server = new ProcGroup(() => withChildren(replicas.map((r) => r.pid).filter((p) => p !== undefined)));
  const ports = replicas.map((r) => r.port);
  const n = ctx.sc.agents.count;
  const label = `rollout, resume ${resume ? 'on' : 'off'}`;
  try {
    return await runMode(
      ctx,
      label,
      'rollout',
      server,
      replicas.length * (ctx.sc.server.workers ?? 1),
      () => connectAgents(ctx, { kind: 'sync', ports, apiPort: ctx.apiInfo.port, reconnect: { resume } }, n),
      n,
      async (res, sampler) => {
        await ctx.api.request('churn', { eventsPerSec: ctx.sc.churn.eventsPerSec }, 10_000);
        await sleep(2_000);
        await Promise.all(ctx.agents.map((c) => c.request('window', { sinceMs: wallNow() }, 60_000)));
        for (const rep of replicas) {
          if (rep.index > 0) await sleep(pauseMs);
          sampler.phase = `restart-${rep.index}`;
          await rep.stop(drainMs + 15_000);
          await rep.start(120_000);
        }
        const readyAt = wallNow();
        sampler.phase = 'converge';
        const current = await Promise.all(
          ctx.agents.map((c) =>
            c.request<CurrentResult>('awaitCurrent', { afterMs: readyAt, deadlineMs: 60_000 }, 70_000),
          ),
        );
        const windows = await Promise.all(
          ctx.agents.map((c) => c.request<AgentWindow>('collect', {}, 60_000)),
        );
        await ctx.api.request('churn', { eventsPerSec: 0 }, 10_000);
        res.rollout = {
          resume,
          bytesDuringRollout: windows.reduce((s, w) => s + w.bytes, 0),
          snapshots: windows.reduce((s, w) => s + w.snapshots, 0),
          resumes: windows.reduce((s, w) => s + w.resumes, 0),
          disconnects: windows.reduce((s, w) => s + w.disconnects, 0),
          everyAgentCurrentMs: current.some((c) => c.current > 0)
            ? Math.max(...current.map((c) => c.lastCurrentAtMs)) - readyAt
            : Number.NaN,
          current: current.reduce((s, c) => s + c.current, 0),
          alive: current.reduce((s, c) => s + c.alive, 0),
        };
        if (current.some((c) => c.timedOut))
          res.error = `only ${res.rollout.current} of ${res.rollout.alive} agents current 60 s after the rollout`;
      },
      undefined,
      api0,
    );
  } finally {
    await Promise.all(replicas.map((r) => r.stop(15_000)));
  }
}

/** Agent processes: enough that none holds more than 2,500 agents (or a scenario's count). */
export function agentProcessCount(sc: Scenario): number {
  return sc.agents.processes > 0
    ? sc.agents.processes
    : Math.min(4, Math.max(1, Math.ceil(sc.agents.count / 2_500)));
}

export function startAgentProcesses(count: number, track: (c: Child) => void): Child[] {
  return Array.from({ length: count }, (_, i) => {
    const c = new Child(`agents-${i}`, new URL('./agent-worker.ts', import.meta.url).pathname, [
      '--max-old-space-size=4096',
    ]);
    track(c);
    return c;
  });
}

/** Agents yield the CPU to the servers (the same for every mode): the figures are the servers'. */
export function niceAgents(agents: Child[]): void {
  for (const c of agents) if (c.proc.pid) setPriority(c.proc.pid, 10);
}
