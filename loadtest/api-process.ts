// The load test's Kubernetes API: the project's API emulator in a process of its own (so its
// CPU, memory and the 20,000-file limit are its own), seeded with the simulated cluster, and
// the churn: the simulator's events written as API calls at a set rate, each pod stamped with
// the wall time of its write (stamp.ts). Answers the coordinator over IPC.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { KubeObject } from '../src/datastore/kube/object.js';
import { apiVersionOf, RESOURCE_TYPES } from '../src/datastore/kube/resources.js';
import { ApiEmulator } from '../src/testing/emulator/emulator.js';
import type { RequestFaultSettings } from '../src/testing/emulator/faults.js';
import type { StatsSnapshot } from '../src/testing/emulator/stats.js';
import { ChurnGenerator, generateObjects, type SimOptions } from '../src/testing/sim/index.js';
import { serveCommands } from './ipc.js';
import { wallNow } from './lean-client.js';
import { formatStamp, STAMP_LABEL } from './stamp.js';

const TICK_MS = 20;
/** As `--datastore sim-api`: 75 s of history (kube-apiserver's watch cache), not 5 min. */
const HISTORY_MS = 75_000;

let emulator: ApiEmulator | undefined;
let churn: ChurnGenerator | undefined;
let dir: string | undefined;
let timer: NodeJS.Timeout | undefined;
let carry = 0;
let writes = 0;
let writeErrors = 0;
/** Pod writes carrying a stamp: each should reach every agent once. */
let stampedWrites = 0;
/** Stalls of this process hold up every watch: the coordinator reads them per window (10 ms, as prom-client). */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

export interface ApiInit {
  sim: Partial<SimOptions>;
}

export type ApiFault =
  | { kind: 'compact' | 'down' | 'up' | 'freeze' | 'resume' | 'clear-requests' | 'replace' }
  | { kind: 'requests'; settings: Partial<RequestFaultSettings>; dropWatches?: boolean };

/** An object as a client would create it: the new store sets uid, resourceVersion and the rest. */
function stripServerMeta(o: KubeObject): KubeObject {
  const {
    resourceVersion: _rv,
    uid: _uid,
    creationTimestamp: _ct,
    generation: _g,
    ...meta
  } = o.metadata as Record<string, unknown>;
  return { ...o, metadata: meta as KubeObject['metadata'] };
}

export interface ApiInfo {
  port: number;
  kubeconfig: string;
  objects: number;
  pods: number;
}

function need(): ApiEmulator {
  if (!emulator) throw new Error('API emulator not started');
  return emulator;
}

function stamped(obj: KubeObject): KubeObject {
  if (obj.kind !== 'Pod') return obj;
  stampedWrites++;
  const labels = { ...obj.metadata.labels, [STAMP_LABEL]: formatStamp(wallNow()) };
  return { ...obj, metadata: { ...obj.metadata, labels } };
}

function tick(perTick: number): void {
  const e = need();
  carry += perTick;
  const n = Math.floor(carry + 1e-9);
  carry -= n;
  if (n === 0 || !churn) return;
  for (const ev of churn.next(n)) {
    try {
      if (ev.type === 'DELETED') e.delete(ev.object);
      else if (ev.type === 'ADDED') e.create(stamped(ev.object));
      else {
        const obj = stamped(ev.object);
        e.update({ ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } });
      }
      writes++;
    } catch {
      writeErrors++;
    }
  }
}

serveCommands({
  async init(a: ApiInit): Promise<ApiInfo> {
    emulator = new ApiEmulator({ historyMaxAgeMs: HISTORY_MS });
    const objects = generateObjects(a.sim);
    const loaded = emulator.loadObjects(objects);
    if (loaded.errors.length > 0)
      throw new Error(`seed rejected: ${JSON.stringify(loaded.errors.slice(0, 3))}`);
    // The churn generator replays the same cluster (same options and seed) from its own state.
    churn = new ChurnGenerator(a.sim);
    const url = await emulator.start({ host: '127.0.0.1', port: 0 });
    dir = await mkdtemp(join(tmpdir(), 'tabby-loadtest-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await emulator.writeKubeconfig(kubeconfig);
    return {
      port: Number(new URL(url).port),
      kubeconfig,
      objects: loaded.loaded,
      pods: objects.filter((o) => o.kind === 'Pod').length,
    };
  },

  churn(a: { eventsPerSec: number }) {
    if (timer) clearInterval(timer);
    timer = undefined;
    carry = 0;
    if (a.eventsPerSec > 0) {
      const perTick = (a.eventsPerSec * TICK_MS) / 1_000;
      timer = setInterval(() => tick(perTick), TICK_MS);
    }
    return {};
  },

  /** With `resetLoopDelay`, the event-loop delay figures start again after this answer. */
  stats(a: { resetLoopDelay?: boolean } = {}): StatsSnapshot & {
    writes: number;
    writeErrors: number;
    stamped: number;
    loopDelay: { p99Ms: number; maxMs: number };
  } {
    const d = { p99Ms: loopDelay.percentile(99) / 1e6, maxMs: loopDelay.max / 1e6 };
    if (a?.resetLoopDelay) loopDelay.reset();
    return { ...need().stats(), writes, writeErrors, stamped: stampedWrites, loopDelay: d };
  },

  dropWatches() {
    return { dropped: need().dropWatches() };
  },

  /** The soak's API faults (loadtest/soak-faults.ts): one emulator fault hook per call. */
  async fault(a: ApiFault) {
    const e = need();
    switch (a.kind) {
      case 'compact':
        e.compact();
        return { dropped: e.dropWatches() };
      case 'down':
        await e.stop();
        return {};
      case 'up':
        await e.start();
        return {};
      case 'freeze':
        e.freeze();
        return {};
      case 'resume':
        e.resume();
        return {};
      case 'requests':
        e.faults.set(a.settings);
        return { dropped: a.dropWatches ? e.dropWatches() : 0 };
      case 'clear-requests':
        e.faults.clear();
        return { ...e.faults.counts };
      case 'replace': {
        // A restored etcd holding the same objects: every resourceVersion starts again at 1.
        const all = RESOURCE_TYPES.flatMap((r) => e.list(apiVersionOf(r), r.kind));
        await e.stop();
        const loaded = e.replaceStore(all.map(stripServerMeta));
        await e.start();
        return { objects: loaded.loaded, resourceVersion: e.resourceVersion };
      }
    }
  },

  async close() {
    if (timer) clearInterval(timer);
    await emulator?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    return {};
  },
});
