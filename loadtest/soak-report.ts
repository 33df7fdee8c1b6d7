// The soak's figures: resident memory of every process sampled over the run (first against
// last quartile, an upward trend flagged), and the table of faults injected, detected and
// recovered with their times.

import { readProc } from './proc-stats.js';

const MiB = 2 ** 20;

/** RSS series per process incarnation ("replica-1#4242"): a restarted replica starts a new one. */
export class RssSampler {
  readonly series = new Map<string, Array<{ atMs: number; rssBytes: number }>>();

  sample(procs: ReadonlyArray<{ role: string; pid: number | undefined }>, atMs: number): void {
    for (const { role, pid } of procs) {
      if (pid === undefined) continue;
      const r = readProc(pid);
      if (!r) continue;
      const key = `${role}#${pid}`;
      const s = this.series.get(key) ?? [];
      s.push({ atMs, rssBytes: r.rssBytes });
      this.series.set(key, s);
    }
  }

  /**
   * Per series with at least 8 samples after its first `warmUpMs` (a process's start-up and first
   * snapshots are growth, not a trend): mean RSS of its first and last quarter.
   */
  trends(warmUpMs = 30_000, minRatio = 1.2, minRiseMiB = 16): RssTrend[] {
    const out: RssTrend[] = [];
    for (const [proc, all] of this.series) {
      const s = all.filter((x) => x.atMs >= all[0]!.atMs + warmUpMs);
      if (s.length < 8) continue;
      const q = Math.floor(s.length / 4);
      const mean = (xs: typeof s) => xs.reduce((a, x) => a + x.rssBytes, 0) / xs.length / MiB;
      const first = mean(s.slice(0, q));
      const last = mean(s.slice(-q));
      out.push({
        proc,
        samples: s.length,
        spanS: Math.round((s.at(-1)!.atMs - s[0]!.atMs) / 1_000),
        firstQuartileMiB: round1(first),
        lastQuartileMiB: round1(last),
        maxMiB: round1(Math.max(...s.map((x) => x.rssBytes)) / MiB),
        upward: last > first * minRatio && last - first > minRiseMiB,
      });
    }
    return out;
  }
}

export interface RssTrend {
  proc: string;
  samples: number;
  spanS: number;
  firstQuartileMiB: number;
  lastQuartileMiB: number;
  maxMiB: number;
  /** Last quartile above the first by more than the ratio and the rise given to trends(). */
  upward: boolean;
}

export interface FaultRecord {
  n: number;
  kind: string;
  param: number;
  durationMs: number;
  /** Since the start of the soak. */
  atS: number;
  /** Injection to the first sign a replica or an agent reacted; undefined: nothing noticed it. */
  detectMs: number | undefined;
  /** End of the fault to every replica ready and every agent connected and in sync; undefined: never. */
  recoverMs: number | undefined;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const pad = (s: string, n: number) => s.padEnd(n);
const ms = (x: number | undefined) => (x === undefined ? '—' : `${(x / 1_000).toFixed(1)} s`);

export function faultsTable(records: readonly FaultRecord[]): string {
  const rows = [
    ['#', 'at', 'fault', 'param', 'lasted', 'detected after', 'recovered after end'],
    ...records.map((r) => [
      String(r.n),
      `${r.atS} s`,
      r.kind,
      String(r.param),
      ms(r.durationMs),
      ms(r.detectMs),
      r.recoverMs === undefined ? 'NOT RECOVERED' : ms(r.recoverMs),
    ]),
  ];
  return table(rows);
}

export function faultSummary(records: readonly FaultRecord[]): string {
  const kinds = new Map<string, FaultRecord[]>();
  for (const r of records) kinds.set(r.kind, [...(kinds.get(r.kind) ?? []), r]);
  const rows = [['fault', 'injected', 'detected', 'recovered', 'recover max']];
  for (const [kind, rs] of [...kinds].sort()) {
    const rec = rs.filter((r) => r.recoverMs !== undefined);
    rows.push([
      kind,
      String(rs.length),
      String(rs.filter((r) => r.detectMs !== undefined).length),
      String(rec.length),
      ms(rec.length ? Math.max(...rec.map((r) => r.recoverMs!)) : undefined),
    ]);
  }
  return table(rows);
}

export function rssTable(trends: readonly RssTrend[]): string {
  return table([
    ['process', 'samples', 'span', 'first ¼ MiB', 'last ¼ MiB', 'max MiB', 'trend'],
    ...trends.map((t) => [
      t.proc,
      String(t.samples),
      `${t.spanS} s`,
      String(t.firstQuartileMiB),
      String(t.lastQuartileMiB),
      String(t.maxMiB),
      t.upward ? 'UPWARD' : 'flat',
    ]),
  ]);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => pad(c, widths[i]!)).join('  ')).join('\n');
}
