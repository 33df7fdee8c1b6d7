// The soak's faults: what each kind does to the API process or the replicas, and the seeded
// plan of which faults come in which order, how long each lasts and how long the calm before
// it is. The plan depends on the seed alone (pure-rand through the simulator's Rng), so a
// failing run replays with the same faults in the same order; wall times follow recovery.

import { once } from 'node:events';
import { Rng, RngStream } from '../src/testing/sim/rng.js';
import type { ApiFault } from './api-process.js';
import type { Child } from './ipc.js';
import type { Replica } from './replicas.js';

export const FAULT_KINDS = [
  'watch-cut',
  'gone-410',
  'api-unreachable',
  'api-errors',
  'api-slow',
  'list-cut',
  'api-frozen',
  'api-replaced',
  'replica-sigkill',
  'replicas-down',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  kind: FaultKind;
  /** Calm before the fault, after the previous one recovered. */
  gapMs: number;
  /** How long the fault lasts (0: a single event, e.g. a cut). */
  durationMs: number;
  /** Replica to kill, or the delay of slow answers / the share of failing requests. */
  param: number;
}

/** [min, max] duration in ms per kind; the frozen API outlasts the replicas' 20 s probe bound. */
const DURATION: Record<FaultKind, [number, number]> = {
  'watch-cut': [0, 0],
  'gone-410': [0, 0],
  'api-unreachable': [3_000, 20_000],
  'api-errors': [3_000, 12_000],
  'api-slow': [3_000, 12_000],
  'list-cut': [2_000, 5_000],
  'api-frozen': [5_000, 30_000],
  'api-replaced': [0, 0],
  'replica-sigkill': [2_000, 10_000],
  'replicas-down': [5_000, 30_000],
};

/**
 * The first faults are every kind once in a seeded order (a short run covers as many kinds
 * as it can), then kinds drawn at random. `scale` shortens durations and gaps (CI).
 */
export function planFaults(seed: number, count: number, replicas: number, scale = 1): PlannedFault[] {
  const rng = Rng.stream(seed, RngStream.Build);
  const order = [...FAULT_KINDS];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const plan: PlannedFault[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i < order.length ? order[i]! : rng.pick(FAULT_KINDS);
    const [lo, hi] = DURATION[kind];
    const param =
      kind === 'replica-sigkill'
        ? rng.below(replicas)
        : kind === 'api-slow'
          ? rng.int(500, 4_000)
          : kind === 'api-errors'
            ? rng.int(1, 3)
            : 0;
    plan.push({
      kind,
      gapMs: Math.round(rng.int(3_000, 15_000) * scale),
      durationMs: Math.round(rng.int(lo, hi) * scale),
      param,
    });
  }
  return plan;
}

export interface FaultTargets {
  api: Child;
  agents: Child;
  replicas: Replica[];
  replicaStartMs: number;
}

/** SIGKILL, and wait until the process is gone (its ports free for the restart). */
async function kill(r: Replica): Promise<void> {
  const p = r.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = once(p, 'exit');
  r.killNow();
  await gone;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const apiFault = (t: FaultTargets, f: ApiFault) => t.api.request('fault', f, 60_000);

/**
 * Injects `f`, waits its duration, and ends it (restarting what it killed). Resolves to when the
 * fault was lifted (a killed replica: when its restart began, so recovery includes its start-up).
 */
export async function runFault(f: PlannedFault, t: FaultTargets): Promise<number> {
  let lifted = 0;
  const hold = async () => {
    await sleep(f.durationMs);
    lifted = Date.now();
  };
  await inject(f, t, hold);
  return lifted || Date.now();
}

async function inject(f: PlannedFault, t: FaultTargets, hold: () => Promise<void>): Promise<void> {
  switch (f.kind) {
    case 'watch-cut':
      await t.api.request('dropWatches', {}, 60_000);
      return;
    case 'gone-410':
      await apiFault(t, { kind: 'compact' });
      return;
    case 'api-unreachable':
      await apiFault(t, { kind: 'down' });
      await hold();
      await apiFault(t, { kind: 'up' });
      return;
    case 'api-errors':
      await apiFault(t, { kind: 'requests', settings: { failEvery: f.param }, dropWatches: true });
      await hold();
      await apiFault(t, { kind: 'clear-requests' });
      return;
    case 'api-slow':
      await apiFault(t, { kind: 'requests', settings: { delayMs: f.param } });
      await hold();
      await apiFault(t, { kind: 'clear-requests' });
      return;
    case 'list-cut':
      // The cut watches find their history compacted and relist; the first lists are cut.
      await apiFault(t, { kind: 'requests', settings: { cutLists: 3 } });
      await apiFault(t, { kind: 'compact' });
      await hold();
      await apiFault(t, { kind: 'clear-requests' });
      return;
    case 'api-frozen':
      await apiFault(t, { kind: 'freeze' });
      await hold();
      await apiFault(t, { kind: 'resume' });
      return;
    case 'api-replaced':
      await apiFault(t, { kind: 'replace' });
      return;
    case 'replica-sigkill': {
      const r = t.replicas[f.param % t.replicas.length]!;
      // Mid snapshot storm: the lean clients reconnect without resume, then the replica dies.
      await t.agents.request('storm', {}, 120_000);
      await sleep(150);
      await kill(r);
      await hold();
      await r.start(t.replicaStartMs);
      return;
    }
    case 'replicas-down':
      await Promise.all(t.replicas.map(kill));
      await hold();
      await Promise.all(t.replicas.map((r) => r.start(t.replicaStartMs)));
      return;
  }
}
