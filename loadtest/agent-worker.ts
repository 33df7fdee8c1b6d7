// A `tabby loadtest` agent process: holds a share of the agents (at most a few thousand
// sockets; a process may hold 20,000 files) and runs whichever mode the run is in with the
// same code — LeanClients for Tabby and the ceiling (both speak the sync protocol),
// DirectAgents for the API. Reports in-sync counts for the progress line and, per window,
// a latency histogram of stamped writes, bytes, reconnects and resumes.

import { DirectAgent, type DirectSink } from './direct-agent.js';
import { serveCommands } from './ipc.js';
import { type ClientSink, LeanClient, wallNow } from './lean-client.js';
import { Histogram, type HistogramJson } from './stats.js';
import { SampleLog, type SplitPart, splitSamples } from './upstream.js';

export interface AgentConnectArgs {
  kind: 'sync' | 'direct';
  /** sync: replica (or broadcaster) ports; agent i dials ports[i % n] first. */
  ports: number[];
  apiPort: number;
  agents: number;
  firstId: number;
  /** Connects in flight at once (a storm passes the agent count). */
  concurrency: number;
  /** Reconnect to the next port after a close, offering resume or not (rollouts). */
  reconnect?: { resume: boolean };
  deadlineMs: number;
}

export interface AgentConnectResult {
  agents: number;
  synced: number;
  failed: number;
  timedOut: boolean;
  errors: string[];
  /** Per agent: start to in sync (snapshot end, or every watch open), ms. */
  syncMs: number[];
  firstStartAtMs: number;
  lastSyncedAtMs: number;
}

export interface AgentProgress {
  agents: number;
  inSync: number;
  samples: number;
  bytes: number;
}

export interface AgentWindow {
  latency: HistogramJson;
  bytes: number;
  deltaFrames: number;
  snapshots: number;
  connects: number;
  resumes: number;
  disconnects: number;
  cpuMs: number;
  alive: number;
}

export interface WindowArgs {
  sinceMs: number;
  /** Keep each sample of the agents connected to this port, to split against the recorder's (upstream.ts). */
  keepSamplesOnPort?: number;
}

export interface SplitArgs {
  /** [stamp, upstream latency ms] pairs from the recorder. */
  upstream: [number, number][];
  tailAboveMs: number;
}

export interface CurrentResult {
  current: number;
  alive: number;
  timedOut: boolean;
  /** When the last agent became current (wall ms), 0 if none. */
  lastCurrentAtMs: number;
}

let leans: LeanClient[] = [];
let directs: DirectAgent[] = [];
let firstId = 0;
let inSync: Uint8Array = new Uint8Array(0);
let inSyncCount = 0;
/** Newest stamp each agent received, and when. */
let newest: Float64Array = new Float64Array(0);
/** First time each agent was in sync (wall ms). */
let firstSyncedAt: Float64Array = new Float64Array(0);
/** Agents whose newest stamp is at least `currentAfter`, and when the last one got there. */
let currentAfter = Number.POSITIVE_INFINITY;
let currentCount = 0;
let lastCurrentAt = 0;
const errors: string[] = [];
let failed = 0;
let onChange: (() => void) | undefined;
let w = newWindow({ sinceMs: 0 });

function newWindow(a: WindowArgs) {
  return {
    sinceMs: a.sinceMs,
    keepOnPort: a.keepSamplesOnPort,
    samples: new SampleLog(),
    latency: new Histogram(),
    bytes: 0,
    deltaFrames: 0,
    snapshots: 0,
    disconnects: 0,
    cpu: process.cpuUsage(),
  };
}

const local = (id: number): number => id - firstId;

function setInSync(id: number, v: boolean): void {
  const i = local(id);
  if (inSync[i] === (v ? 1 : 0)) return;
  inSync[i] = v ? 1 : 0;
  inSyncCount += v ? 1 : -1;
  if (v && firstSyncedAt[i] === 0) firstSyncedAt[i] = wallNow();
  onChange?.();
}

function noteError(why: string): void {
  if (errors.length < 5) errors.push(why);
}

function sample(latencyMs: number, sentAtMs: number, id: number): void {
  const i = local(id);
  if (sentAtMs > newest[i]!) {
    if (newest[i]! < currentAfter && sentAtMs >= currentAfter) {
      currentCount++;
      lastCurrentAt = wallNow();
      onChange?.();
    }
    newest[i] = sentAtMs;
  }
  // Stamps from before the window (a snapshot re-sent, a relist) are not deliveries.
  if (sentAtMs < w.sinceMs) return;
  w.latency.record(latencyMs);
  // leans[i] is agent firstId + i (connect() creates them in id order).
  if (w.keepOnPort !== undefined && leans[i]?.port === w.keepOnPort) w.samples.push(sentAtMs, latencyMs);
}

const leanSink: ClientSink = {
  onSample: sample,
  onDeltaFrame: () => w.deltaFrames++,
  onBytes: (n) => {
    w.bytes += n;
  },
  onGeneration() {},
  onSnapshotEnd(c) {
    w.snapshots++;
    setInSync(c.id, true);
  },
  onGone(c, why) {
    failed++;
    noteError(`agent ${c.id}: ${why}`);
    setInSync(c.id, false);
    onChange?.();
  },
  onConnected(c, resumed) {
    if (resumed) setInSync(c.id, true);
  },
  onDisconnected(c) {
    w.disconnects++;
    setInSync(c.id, false);
  },
};

const directSink: DirectSink = {
  onSample: sample,
  onBytes: (n) => {
    w.bytes += n;
  },
  onSynced: (a) => setInSync(a.id, true),
  onFailed(a, why) {
    failed++;
    noteError(`agent ${a.id}: ${why}`);
    setInSync(a.id, false);
    onChange?.();
  },
};

/** One coarse timer for every LeanClient: ACK at most once a second, PING every 10 s. */
let tick = 0;
setInterval(() => {
  tick++;
  for (const c of leans) {
    c.ack();
    if ((c.id + tick) % 10 === 0) c.ping();
  }
}, 1_000).unref();

function reset(n: number, first: number): void {
  for (const c of leans) c.destroy();
  for (const a of directs) a.destroy();
  leans = [];
  directs = [];
  firstId = first;
  inSync = new Uint8Array(n);
  inSyncCount = 0;
  newest = new Float64Array(n);
  firstSyncedAt = new Float64Array(n);
  currentAfter = Number.POSITIVE_INFINITY;
  currentCount = 0;
  errors.length = 0;
  failed = 0;
}

function connect(a: AgentConnectArgs): Promise<AgentConnectResult> {
  reset(a.agents, a.firstId);
  w = newWindow({ sinceMs: Number.POSITIVE_INFINITY });
  const started: number[] = new Array(a.agents).fill(0);
  return new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    const launchOne = () => {
      const id = a.firstId + next;
      started[next++] = wallNow();
      if (a.kind === 'direct') {
        const d = new DirectAgent(id, a.apiPort, directSink);
        directs.push(d);
        d.start();
        return;
      }
      const ports = a.ports;
      const first = ports[id % ports.length]!;
      const c = new LeanClient(id, leanSink, {
        stamps: 'label',
        ...(a.reconnect ? { reconnect: { ports, resume: a.reconnect.resume } } : {}),
      });
      leans.push(c);
      inFlight++;
      c.start(first, () => {
        inFlight--;
        launch();
      });
    };
    const launch = () => {
      // Direct agents have no handshake to wait for: `concurrency` agents start per 50 ms.
      const room = a.kind === 'direct' ? a.concurrency : a.concurrency - inFlight;
      for (let k = 0; k < room && next < a.agents; k++) launchOne();
      if (a.kind === 'direct' && next < a.agents) setTimeout(launch, 50);
    };
    const finish = (timedOut: boolean) => {
      onChange = undefined;
      clearTimeout(deadline);
      const synced = [...firstSyncedAt];
      const done = synced.map((t, i) => (t > 0 ? t - started[i]! : -1)).filter((x) => x >= 0);
      resolve({
        agents: a.agents,
        synced: inSyncCount,
        failed,
        timedOut,
        errors: [...errors],
        syncMs: done,
        firstStartAtMs: Math.min(...started.filter((t) => t > 0)),
        lastSyncedAtMs: Math.max(0, ...synced),
      });
    };
    const deadline = setTimeout(() => finish(true), a.deadlineMs);
    onChange = () => {
      if (inSyncCount + failed >= a.agents) finish(false);
    };
    launch();
    if (a.agents === 0) finish(false);
  });
}

function awaitCurrent(args: { afterMs: number; deadlineMs: number }): Promise<CurrentResult> {
  return new Promise((resolve) => {
    const alive = () => leans.filter((c) => !c.gone).length + directs.filter((d) => !d.gone).length;
    currentAfter = args.afterMs;
    currentCount = 0;
    lastCurrentAt = 0;
    for (const t of newest) if (t >= currentAfter) currentCount++;
    // Already current when asked: counted as of now (a slight overestimate, never an underestimate).
    if (currentCount > 0) lastCurrentAt = wallNow();
    const finish = (timedOut: boolean) => {
      onChange = undefined;
      clearTimeout(deadline);
      resolve({ current: currentCount, alive: alive(), timedOut, lastCurrentAtMs: lastCurrentAt });
      currentAfter = Number.POSITIVE_INFINITY;
    };
    const deadline = setTimeout(() => finish(true), args.deadlineMs);
    onChange = () => {
      if (currentCount >= alive()) finish(false);
    };
    onChange();
  });
}

serveCommands({
  connect: (a: AgentConnectArgs) => connect(a),
  window(args: WindowArgs) {
    w = newWindow(args);
    return {};
  },
  split(a: SplitArgs): SplitPart {
    return splitSamples(w.samples, new Map(a.upstream), a.tailAboveMs);
  },
  progress(): AgentProgress {
    return { agents: inSync.length, inSync: inSyncCount, samples: w.latency.count, bytes: w.bytes };
  },
  awaitCurrent,
  collect(): AgentWindow {
    const u = process.cpuUsage(w.cpu);
    return {
      latency: w.latency.toJSON(),
      bytes: w.bytes,
      deltaFrames: w.deltaFrames,
      snapshots: w.snapshots,
      connects: leans.reduce((s, c) => s + c.connects, 0),
      resumes: leans.reduce((s, c) => s + c.resumes, 0),
      disconnects: w.disconnects,
      cpuMs: (u.user + u.system) / 1_000,
      alive: leans.filter((c) => !c.gone).length + directs.filter((d) => !d.gone).length,
    };
  },
  disconnect() {
    reset(0, 0);
    return {};
  },
  close() {
    reset(0, 0);
    return {};
  },
});
