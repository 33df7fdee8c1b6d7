// The shape of a `tabby loadtest` result (the JSON file, the HTML report's data), the console
// table, and the targets checked against the figures of the same run.

import type { Scenario } from '../src/config/loadtest-config.js';
import { RESOURCE_TYPES } from '../src/datastore/kube/resources.js';
import { Histogram, type HistogramJson } from './stats.js';

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface TimelinePoint {
  /** Seconds since the mode started. */
  t: number;
  phase: string;
  inSync: number;
  deltasPerSec: number;
  serverCpuPct: number;
  serverRssMiB: number;
  apiCpuPct: number;
  apiRssMiB: number;
  apiBytesPerSec: number;
}

export interface ApiLoad {
  watchesOpen: number;
  watchesStarted: number;
  lists: number;
  listItems: number;
  bytesServed: number;
  eventsSent: number;
}

export interface ModeResult {
  mode: string;
  /** e.g. "rollout, resume on". */
  label: string;
  agents: number;
  /** Server-side processes: replicas × workers, broadcasters, or the API for direct. */
  serverProcesses: number;
  error?: string;
  note?: string;
  sync?: { allSyncedMs: number; perAgentMs: Summary; failed: number; errors: string[] };
  memory?: { rssBeforeMiB: number; rssSyncedMiB: number; perAgentKiB: number };
  window?: {
    durationMs: number;
    latencyMs: Summary;
    /** Stamped pod writes in the window × agents: the deliveries expected. */
    expectedSamples: number;
    deltasPerSec: number;
    bytes: number;
    bytesPerAgent: number;
    serverCpuPct: number;
    serverRssMaxMiB: number;
    agentCpuMs: number;
    /** [latency ms, fraction ≤] pairs, for the CDF plot. */
    cdf: [number, number][];
  };
  rollout?: {
    resume: boolean;
    bytesDuringRollout: number;
    snapshots: number;
    resumes: number;
    disconnects: number;
    /** From the last replica ready to every agent holding a write made after it. */
    everyAgentCurrentMs: number;
    current: number;
    alive: number;
  };
  api?: ApiLoad;
  timeline: TimelinePoint[];
}

export interface Target {
  name: string;
  target: string;
  measured: string;
  ok: boolean | undefined;
}

export interface LoadtestResult {
  scenario: Scenario;
  startedAt: string;
  elapsedS: number;
  machine: { node: string; cpus: number; loadAvg1AtStart: number; totalMemGiB: number };
  cluster: { objects: number; pods: number; snapshotWireBytes?: number };
  modes: ModeResult[];
  targets: Target[];
}

export function summarize(h: Histogram): Summary {
  return { count: h.count, p50: h.percentile(50), p99: h.percentile(99), max: h.count ? h.max : Number.NaN };
}

/** About 200 points of the latency CDF, evenly spaced in rank. */
export function cdfPoints(j: HistogramJson): [number, number][] {
  const h = Histogram.fromJSON(j);
  if (h.count === 0) return [];
  const out: [number, number][] = [];
  for (let i = 1; i <= 200; i++) {
    const p = i / 2;
    out.push([Math.round(h.percentile(p) * 100) / 100, p / 100]);
  }
  return out;
}

const f = (x: number | undefined, d = 1): string =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d);
const big = (x: number | undefined): string =>
  x === undefined || !Number.isFinite(x) ? '-' : Math.round(x).toLocaleString('en-US');

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function consoleTable(r: LoadtestResult): string {
  const rows = r.modes.map((m) => [
    m.label,
    big(m.agents),
    String(m.serverProcesses),
    f((m.sync?.allSyncedMs ?? Number.NaN) / 1000, 2),
    f(m.window?.latencyMs.p50, 1),
    f(m.window?.latencyMs.p99, 1),
    m.window ? `${big(m.window.latencyMs.count)}/${big(m.window.expectedSamples)}` : '-',
    f(m.window?.serverCpuPct, 0),
    f(m.window?.serverRssMaxMiB, 0),
    f(m.memory?.perAgentKiB, 1),
    big(m.window?.bytesPerAgent),
    m.api ? `${big(m.api.watchesOpen)}/${big(m.api.lists)}` : '-',
    m.rollout
      ? `${big(m.rollout.bytesDuringRollout / 2 ** 20)} MiB, ${f(m.rollout.everyAgentCurrentMs / 1000, 2)} s`
      : '',
    (m.error ?? '').slice(0, 50),
  ]);
  const head = [
    'mode',
    'agents',
    'procs',
    'sync s',
    'p50 ms',
    'p99 ms',
    'samples',
    'srv CPU%',
    'srv RSS',
    'KiB/agent',
    'B/agent',
    'API watches/lists',
    'rollout bytes, current',
    'error',
  ];
  const targets = r.targets.map((t) => [
    t.name,
    t.target,
    t.measured,
    t.ok === undefined ? '?' : t.ok ? 'met' : 'MISSED',
  ]);
  return `${table(head, rows)}\n\n${table(['target', 'wanted', 'measured', ''], targets)}`;
}

const by = (r: LoadtestResult, label: string) => r.modes.find((m) => m.label === label && !m.error);

/** The targets that this run's modes can speak to; the rest are left out. */
export function checkTargets(r: LoadtestResult): Target[] {
  const out: Target[] = [];
  const tabby = by(r, 'tabby');
  const ceiling = by(r, 'ceiling');
  if (tabby?.window && ceiling?.window) {
    const ratio = tabby.window.latencyMs.p99 / ceiling.window.latencyMs.p99;
    out.push({
      name: `p99 vs ceiling (${tabby.agents} agents)`,
      target: '≤ 1.1×',
      measured: `${f(ratio, 2)}× (${f(tabby.window.latencyMs.p99)} / ${f(ceiling.window.latencyMs.p99)} ms)`,
      ok: ratio <= 1.1,
    });
  }
  if (tabby?.sync && r.scenario.agents.connect === 'storm')
    out.push({
      name: `storm: ${tabby.agents} agents in sync`,
      target: '< 5 s, RSS < 400 MB',
      measured: `${f(tabby.sync.allSyncedMs / 1000, 2)} s, ${f(tabby.memory?.rssSyncedMiB, 0)} MiB`,
      ok: tabby.sync.allSyncedMs < 5_000 && (tabby.memory?.rssSyncedMiB ?? 0) * 2 ** 20 < 400e6,
    });
  if (tabby?.memory)
    out.push({
      name: 'idle connection memory',
      target: '< 8 KiB each',
      measured: `${f(tabby.memory.perAgentKiB)} KiB RSS`,
      ok: tabby.memory.perAgentKiB < 8,
    });
  if (tabby?.api)
    out.push({
      name: 'API watches through Tabby',
      target: `one per type per replica (${RESOURCE_TYPES.length * r.scenario.replicas})`,
      measured: `${tabby.api.watchesOpen} open`,
      ok: tabby.api.watchesOpen <= RESOURCE_TYPES.length * r.scenario.replicas,
    });
  const on = r.modes.find((m) => m.rollout?.resume === true && !m.error);
  const off = r.modes.find((m) => m.rollout?.resume === false && !m.error);
  if (on?.rollout && off?.rollout) {
    const share = on.rollout.bytesDuringRollout / off.rollout.bytesDuringRollout;
    out.push({
      name: 'rollout bytes re-sent, resume on/off',
      target: '< 5 %',
      measured: `${f(100 * share)} % (${on.rollout.resumes} resumes)`,
      ok: share < 0.05,
    });
  }
  if (on?.rollout)
    out.push({
      name: 'rollout: every agent current',
      target: '< 10 s after last replica ready',
      measured: `${f(on.rollout.everyAgentCurrentMs / 1000, 2)} s (${on.rollout.current}/${on.rollout.alive})`,
      ok: on.rollout.everyAgentCurrentMs < 10_000 && on.rollout.current >= on.rollout.alive,
    });
  return out;
}
