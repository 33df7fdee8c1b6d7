// The bench's two scenarios, driven from the parent process: fan-out (connect N clients,
// measure server memory, then publish phases of deltas) and snapshot storm (N clients
// connect at once). Every wait has a deadline; children are always stopped afterwards.

import type { ConnectArgs, ConnectResult, PhaseResult } from './client-worker.js';
import type { Child } from './ipc.js';
import { diffTcpCounters, readTcpCounters } from './kernel.js';
import { type Settings, startServer, startWorkers, stopAll, type Workers } from './processes.js';
import type { MemoryReport, PhaseReport, ScenarioReport, ServerCost } from './report.js';
import type { PublishResult } from './server-side.js';
import type { PhaseSpec } from './settings.js';
import { Histogram, percentile, summarize } from './stats.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Splits `total` as evenly as possible over `parts`. */
const share = (total: number, parts: number, i: number) =>
  Math.floor(total / parts) + (i < total % parts ? 1 : 0);

async function serverCost(server: Child): Promise<{ cost: ServerCost; mergedBuilt: number }> {
  const m = await server.request<{
    wallMs: number;
    cpuUserMs: number;
    cpuSystemMs: number;
    eventLoopUtilization: number;
    cache: { mergedBuilt: number };
  }>('sinceMark', {}, 30_000);
  const cpuMs = m.cpuUserMs + m.cpuSystemMs;
  return {
    cost: {
      cpuMs: Math.round(cpuMs),
      cpuUserMs: Math.round(m.cpuUserMs),
      cpuSystemMs: Math.round(m.cpuSystemMs),
      cpuCorePct: (100 * cpuMs) / m.wallMs,
      eventLoopUtilization: m.eventLoopUtilization,
    },
    mergedBuilt: m.cache.mergedBuilt,
  };
}

/** Connects every client and waits until all hold the snapshot; fills the snapshot fields of `r`. */
async function connectClients(
  server: Child,
  w: Workers,
  port: number,
  clients: number,
  concurrency: number,
  s: Settings,
  r: ScenarioReport,
): Promise<boolean> {
  await server.request('mark', {}, 10_000);
  const tcpBefore = readTcpCounters();
  const deadlineMs = 60_000 + clients * 10;
  const connect = (c: Child, args: Pick<ConnectArgs, 'clients' | 'firstId' | 'verifiers'>) =>
    c.request<ConnectResult>('connect', { ...args, port, concurrency, deadlineMs }, deadlineMs + 10_000);
  let firstId = 0;
  const [verified, ...results] = await Promise.all([
    w.verifier ? connect(w.verifier, { clients: 0, firstId: clients, verifiers: s.verifiers }) : undefined,
    ...w.lean.map((c, i) => {
      const n = share(clients, w.lean.length, i);
      firstId += n;
      return connect(c, { clients: n, firstId: firstId - n, verifiers: 0 });
    }),
  ]);
  const lean = results as ConnectResult[];
  r.snapshotServer = (await serverCost(server)).cost;
  r.tcp = diffTcpCounters(tcpBefore, readTcpCounters());
  const synced = lean.reduce((a, x) => a + x.synced, 0);
  const all = lean.flatMap((x) => x.snapshotMs);
  r.perClientSnapshotMs = {
    count: all.length,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    max: percentile(all, 100),
  };
  r.allSnapshotsMs =
    Math.max(...lean.map((x) => x.lastSnapshotEndAtMs)) - Math.min(...lean.map((x) => x.firstStartAtMs));
  r.verifierSnapshotMs = (verified?.verifierSnapshotMs ?? []).map(Math.round);
  const everyone = verified ? [...lean, verified] : lean;
  const timedOut = everyone.some((x) => x.timedOut);
  if (synced < clients || timedOut) {
    const errs = everyone.flatMap((x) => x.errors).slice(0, 5);
    r.error =
      `${synced} of ${clients} clients got the snapshot${timedOut ? ' before the deadline' : ''}; ` +
      `first errors: ${errs.join(' | ') || 'none'}`;
    return false;
  }
  return true;
}

async function runPhase(server: Child, w: Workers, clients: number, p: PhaseSpec): Promise<PhaseReport> {
  await Promise.all(w.all.map((c) => c.request('phase', {}, 10_000)));
  await server.request('mark', {}, 10_000);
  const tcpBefore = readTcpCounters();
  const pub = await server.request<PublishResult>(
    'publish',
    { generations: p.generations, keysPerGen: p.keysPerGen, ratePerSec: p.ratePerSec },
    (p.generations / p.ratePerSec) * 1_000 + 120_000,
  );
  const deadlineMs = 120_000;
  const awaitHead = (c: Child) =>
    c.request<PhaseResult>(
      'awaitGeneration',
      { generation: pub.headGeneration, deadlineMs },
      deadlineMs + 10_000,
    );
  const [verified, ...rest] = await Promise.all([
    w.verifier ? awaitHead(w.verifier) : undefined,
    ...w.lean.map(awaitHead),
  ]);
  const results = rest as PhaseResult[];
  const tcp = diffTcpCounters(tcpBefore, readTcpCounters());
  const { cost, mergedBuilt } = await serverCost(server);
  if (results.some((x) => x.timedOut) || verified?.timedOut) {
    const at = results.reduce((a, x) => a + x.clientsAtTarget, 0);
    throw new Error(
      `${p.name} phase: only ${at} of ${clients} clients reached generation ${pub.headGeneration} in ${deadlineMs} ms`,
    );
  }
  const latency = new Histogram();
  for (const x of results) latency.merge(x.latency);
  const durationMs = Math.max(...results.map((x) => x.lastArrivalAtMs)) - pub.firstSentAtMs;
  const frames = results.reduce((a, x) => a + x.deltaFrames, 0);
  const bytes = results.reduce((a, x) => a + x.bytes, 0);
  return {
    ...p,
    latencyMs: summarize(latency),
    expectedSamples: clients * p.generations,
    deltaFrames: frames,
    durationMs: Math.round(durationMs),
    deltasPerSec: latency.count / (durationMs / 1_000),
    bytesPerSec: bytes / (durationMs / 1_000),
    publishLagMaxMs: Math.round(pub.publishLagMaxMs * 100) / 100,
    clientCpuMs: Math.round(results.reduce((a, x) => a + x.cpuMs, 0)),
    server: {
      ...cost,
      microsPerDeltaFrame: (cost.cpuMs * 1_000) / Math.max(1, frames),
      mergedDeltasBuilt: mergedBuilt,
    },
    verifiers: verified ? verifierCheck(verified, pub.headGeneration) : 'none',
    tcp,
  };
}

function verifierCheck(result: PhaseResult, generation: number): string {
  const bad = result.verifiers.filter((v) => v.generation < generation || v.disconnects.length > 0);
  if (bad.length > 0) return `PROBLEM: ${JSON.stringify(bad)}`;
  return `${result.verifiers.length} ok at generation ${generation} (${result.verifiers[0]?.keys ?? 0} keys)`;
}

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  connections: number;
}

function memoryReport(before: Memory, after: Memory): MemoryReport {
  const MiB = 2 ** 20;
  const n = Math.max(1, after.connections);
  return {
    connections: after.connections,
    rssBeforeMiB: before.rss / MiB,
    heapUsedBeforeMiB: before.heapUsed / MiB,
    rssConnectedMiB: after.rss / MiB,
    heapUsedConnectedMiB: after.heapUsed / MiB,
    rssPerConnKiB: (after.rss - before.rss) / n / 1024,
    heapPerConnKiB: (after.heapUsed - before.heapUsed) / n / 1024,
    externalPerConnKiB: (after.external - before.external) / n / 1024,
  };
}

export async function fanout(clients: number, s: Settings): Promise<ScenarioReport> {
  console.log(`\n== fan-out to ${clients.toLocaleString('en-US')} clients`);
  const { server, port } = await startServer(s);
  let workers: Workers | undefined;
  const r: ScenarioReport = { kind: 'fanout', clients, workers: 0, verifiers: s.verifiers, phases: [] };
  try {
    workers = await startWorkers(clients, s);
    r.workers = workers.lean.length;
    const before = await server.request<Memory>('memory', {}, 30_000);
    const ok = await connectClients(server, workers, port, clients, s.concurrency, s, r);
    console.log(
      `   connect + snapshot: ${ok ? 'ok' : r.error} in ${(r.allSnapshotsMs! / 1000).toFixed(2)} s`,
    );
    await sleep(s.idleMs);
    r.memory = memoryReport(before, await server.request<Memory>('memory', {}, 30_000));
    if (!ok) return r;
    for (const spec of s.phases) {
      const p = await runPhase(server, workers, clients, spec);
      console.log(
        `   ${p.name}: p50 ${p.latencyMs.p50} ms, p99 ${p.latencyMs.p99} ms, max ${p.latencyMs.max} ms`,
      );
      r.phases.push(p);
    }
  } catch (err) {
    r.error = (err as Error).message;
    console.error(`   failed: ${r.error}`);
  } finally {
    await stopAll(workers?.all ?? []);
    await stopAll([server]);
  }
  return r;
}

export async function snapshotStorm(clients: number, s: Settings): Promise<ScenarioReport> {
  console.log(`\n== snapshot to ${clients.toLocaleString('en-US')} clients connecting at once`);
  const { server, port } = await startServer(s);
  let workers: Workers | undefined;
  const r: ScenarioReport = { kind: 'snapshot', clients, workers: 0, verifiers: s.verifiers, phases: [] };
  try {
    workers = await startWorkers(clients, s);
    r.workers = workers.lean.length;
    const ok = await connectClients(server, workers, port, clients, clients, s, r);
    console.log(`   all snapshots: ${ok ? 'ok' : r.error} in ${(r.allSnapshotsMs! / 1000).toFixed(2)} s`);
  } catch (err) {
    r.error = (err as Error).message;
    console.error(`   failed: ${r.error}`);
  } finally {
    await stopAll(workers?.all ?? []);
    await stopAll([server]);
  }
  return r;
}
