// A load-generating child process (forked by bench.ts): holds up to a few thousand
// LeanClients plus a few full SyncClients ("verifiers", which decode everything and check
// the state hash at every step), and reports per-phase latency histograms, bytes and
// snapshot times. Separate processes because one process may hold at most 20,000 files.

import { SyncClient } from '../src/client/sync-client.js';
import { serveCommands } from './ipc.js';
import { type ClientSink, LeanClient, wallNow } from './lean-client.js';
import { Histogram, type HistogramJson } from './stats.js';

export interface ConnectArgs {
  port: number;
  clients: number;
  firstId: number;
  /** Connects in flight at once: keeps the listen backlog from overflowing into SYN retries. */
  concurrency: number;
  verifiers: number;
  deadlineMs: number;
}

export interface ConnectResult {
  clients: number;
  synced: number;
  failed: number;
  timedOut: boolean;
  errors: string[];
  firstStartAtMs: number;
  lastSnapshotEndAtMs: number;
  /** Per client: connect() to SNAPSHOT_END, ms. */
  snapshotMs: number[];
  verifierSnapshotMs: number[];
}

export interface PhaseResult {
  clientsAtTarget: number;
  clientsAlive: number;
  timedOut: boolean;
  latency: HistogramJson;
  deltaFrames: number;
  bytes: number;
  lastArrivalAtMs: number;
  /** This worker's CPU over the phase (the clients share the 2 cores with the server). */
  cpuMs: number;
  verifiers: { generation: number; keys: number; disconnects: string[] }[];
}

const clients: LeanClient[] = [];
const verifiers: { client: SyncClient; generation: number; disconnects: string[] }[] = [];
const errors: string[] = [];
let phase = newPhase();
let target = Number.POSITIVE_INFINITY;
let belowTarget = 0;
let onProgress: (() => void) | undefined;
let synced = 0;
let failed = 0;

function newPhase() {
  return { latency: new Histogram(), deltaFrames: 0, bytes: 0, lastArrivalAtMs: 0, cpu: process.cpuUsage() };
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1_000;

function noteError(why: string): void {
  if (errors.length < 5) errors.push(why);
}

const sink: ClientSink = {
  onSample(ms) {
    phase.latency.record(ms);
    phase.lastArrivalAtMs = wallNow();
  },
  onDeltaFrame() {
    phase.deltaFrames++;
  },
  onBytes(n) {
    phase.bytes += n;
  },
  onGeneration(_c, from, to) {
    if (from < target && to >= target) {
      belowTarget--;
      if (belowTarget === 0) onProgress?.();
    }
  },
  onSnapshotEnd() {
    synced++;
    onProgress?.();
  },
  onGone(c, why) {
    failed++;
    if (c.generation < target) belowTarget--;
    noteError(`client ${c.id}: ${why}`);
    onProgress?.();
  },
};

/** One coarse timer for all clients, like SyncClient's per-client ones: ACK ≤1/s, PING every 10 s. */
let tick = 0;
const ticker = setInterval(() => {
  tick++;
  for (const c of clients) {
    c.ack();
    if ((c.id + tick) % 10 === 0) c.ping();
  }
}, 1_000);
ticker.unref();

function startVerifiers(port: number, n: number, firstId: number, done: (ms: number) => void): void {
  for (let i = 0; i < n; i++) {
    const started = wallNow();
    const v = {
      client: new SyncClient({
        addresses: [`127.0.0.1:${port}`],
        syncer: 'felix',
        hostname: `bench-verifier-${firstId + i}`,
        verifyHash: true,
      }),
      generation: -1,
      disconnects: [] as string[],
    };
    v.client.on('generation', (g) => {
      if (v.generation < 0) done(wallNow() - started);
      if (v.generation < target && g >= target) belowTarget--;
      v.generation = g;
      if (belowTarget === 0) onProgress?.();
    });
    v.client.on('disconnected', (info) => v.disconnects.push(info.reason));
    v.client.start();
    verifiers.push(v);
  }
}

function connectAll(a: ConnectArgs): Promise<ConnectResult> {
  const verifierSnapshotMs: number[] = [];
  return new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    const launch = () => {
      while (inFlight < a.concurrency && next < a.clients) {
        const c = new LeanClient(a.firstId + next++, sink);
        clients.push(c);
        inFlight++;
        c.start(a.port, () => {
          inFlight--;
          launch();
        });
      }
    };
    const finish = (timedOut: boolean) => {
      onProgress = undefined;
      clearTimeout(deadline);
      const done = clients.filter((c) => c.snapshotEndAtMs > 0);
      resolve({
        clients: a.clients,
        synced,
        failed,
        timedOut,
        errors: [...errors],
        firstStartAtMs: Math.min(...clients.map((c) => c.startedAtMs)),
        lastSnapshotEndAtMs: Math.max(0, ...done.map((c) => c.snapshotEndAtMs)),
        snapshotMs: done.map((c) => c.snapshotEndAtMs - c.startedAtMs),
        verifierSnapshotMs,
      });
    };
    const deadline = setTimeout(() => finish(true), a.deadlineMs);
    onProgress = () => {
      if (synced + failed >= a.clients && verifierSnapshotMs.length >= a.verifiers) finish(false);
    };
    startVerifiers(a.port, a.verifiers, a.firstId + a.clients, (ms) => {
      verifierSnapshotMs.push(ms);
      onProgress?.();
    });
    launch();
  });
}

function awaitGeneration(args: { generation: number; deadlineMs: number }): Promise<PhaseResult> {
  target = args.generation;
  belowTarget =
    clients.filter((c) => !c.gone && c.generation < target).length +
    verifiers.filter((v) => v.generation < target).length;
  return new Promise((resolve) => {
    const finish = (timedOut: boolean) => {
      onProgress = undefined;
      clearTimeout(deadline);
      resolve({
        clientsAtTarget: clients.filter((c) => c.generation >= target).length,
        clientsAlive: clients.filter((c) => !c.gone).length,
        timedOut,
        latency: phase.latency.toJSON(),
        deltaFrames: phase.deltaFrames,
        bytes: phase.bytes,
        lastArrivalAtMs: phase.lastArrivalAtMs,
        cpuMs: cpuMs(process.cpuUsage(phase.cpu)),
        verifiers: verifiers.map((v) => ({
          generation: v.generation,
          keys: v.client.state.size,
          disconnects: v.disconnects,
        })),
      });
    };
    const deadline = setTimeout(() => finish(true), args.deadlineMs);
    onProgress = () => {
      if (belowTarget <= 0) finish(false);
    };
    onProgress();
  });
}

serveCommands({
  connect: (a: ConnectArgs) => connectAll(a),
  phase() {
    phase = newPhase();
    return {};
  },
  awaitGeneration,
  async close() {
    await Promise.all(verifiers.map((v) => v.client.stop()));
    for (const c of clients) c.destroy();
    return {};
  },
});
