// Shapes of the bench's results, the console tables and the small JSON file. Only summary
// numbers go into the JSON (no histograms), so it stays small enough to diff between runs.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TcpCounters } from './kernel.js';
import type { SnapshotInfo } from './server-side.js';

export interface Latency {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ServerCost {
  cpuMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Share of one core the server's process used over the window. */
  cpuCorePct: number;
  eventLoopUtilization: number;
}

export interface PhaseReport {
  name: string;
  generations: number;
  keysPerGen: number;
  ratePerSec: number;
  /** One sample per client per generation, send stamp to arrival. */
  latencyMs: Latency;
  expectedSamples: number;
  /** Delta frames received (fewer than samples when the server merged generations). */
  deltaFrames: number;
  durationMs: number;
  deltasPerSec: number;
  bytesPerSec: number;
  publishLagMaxMs: number;
  /** CPU of all lean-client worker processes over the phase. */
  clientCpuMs: number;
  server: ServerCost & { microsPerDeltaFrame: number; mergedDeltasBuilt: number };
  /** What the hash-checking full clients saw. */
  verifiers: string;
  tcp?: TcpCounters;
}

export interface MemoryReport {
  connections: number;
  rssBeforeMiB: number;
  heapUsedBeforeMiB: number;
  rssConnectedMiB: number;
  heapUsedConnectedMiB: number;
  rssPerConnKiB: number;
  heapPerConnKiB: number;
  externalPerConnKiB: number;
}

export interface ScenarioReport {
  kind: 'fanout' | 'snapshot';
  clients: number;
  workers: number;
  verifiers: number;
  error?: string;
  /** First connect() to the last client's SNAPSHOT_END. */
  allSnapshotsMs?: number;
  perClientSnapshotMs?: Latency;
  verifierSnapshotMs?: number[];
  snapshotServer?: ServerCost;
  /** Host-wide kernel TCP counters over the connect phase (listen-queue overflows cost 1 s retries). */
  tcp?: TcpCounters;
  memory?: MemoryReport;
  phases: PhaseReport[];
}

export interface BenchReport {
  startedAt: string;
  machine: { node: string; cpus: number; cpuModel: string; totalMemGiB: number };
  settings: Record<string, unknown>;
  snapshot: SnapshotInfo;
  scenarios: ScenarioReport[];
}

const f = (x: number | undefined, digits = 1): string =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
const big = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function printReport(r: BenchReport): void {
  const s = r.snapshot;
  console.log(
    `\nState: ${big(s.keys)} keys; snapshot ${f(s.rawBytes / 2 ** 20, 2)} MiB raw, ` +
      `${f(s.deflateBytes / 2 ** 20, 2)} MiB deflate (${f(s.rawBytes / s.deflateBytes, 1)}x) in ` +
      `${s.deflateFrames} frames, built once in ${f(s.deflateBuildMs, 0)} ms`,
  );
  const conn = r.scenarios.filter((x) => x.memory || x.allSnapshotsMs !== undefined);
  console.log('\nConnect + initial snapshot, server memory');
  console.log(
    table(
      [
        'scenario',
        'clients',
        'all synced s',
        'client p50 ms',
        'p99 ms',
        'srv CPU s',
        'listen ovf',
        'RSS MiB',
        'heap MiB',
        'RSS/conn KiB',
        'heap/conn KiB',
        'error',
      ],
      conn.map((x) => [
        x.kind,
        big(x.clients),
        f((x.allSnapshotsMs ?? Number.NaN) / 1000, 2),
        f(x.perClientSnapshotMs?.p50, 0),
        f(x.perClientSnapshotMs?.p99, 0),
        f((x.snapshotServer?.cpuMs ?? Number.NaN) / 1000, 2),
        x.tcp ? big(x.tcp.ListenOverflows) : '-',
        x.memory ? `${f(x.memory.rssBeforeMiB, 0)}→${f(x.memory.rssConnectedMiB, 0)}` : '-',
        x.memory ? `${f(x.memory.heapUsedBeforeMiB, 0)}→${f(x.memory.heapUsedConnectedMiB, 0)}` : '-',
        f(x.memory?.rssPerConnKiB),
        f(x.memory?.heapPerConnKiB),
        x.error ? x.error.slice(0, 60) : '',
      ]),
    ),
  );
  const rows: string[][] = [];
  for (const x of r.scenarios)
    for (const p of x.phases)
      rows.push([
        big(x.clients),
        p.name,
        `${p.generations}x${p.keysPerGen}@${p.ratePerSec}/s`,
        f(p.latencyMs.p50, 2),
        f(p.latencyMs.p99, 2),
        f(p.latencyMs.max, 2),
        `${big(p.latencyMs.count)}/${big(p.expectedSamples)}`,
        big(p.deltaFrames),
        big(p.deltasPerSec),
        f(p.bytesPerSec / 2 ** 20, 1),
        f(p.server.cpuCorePct, 0),
        f((100 * p.clientCpuMs) / p.durationMs, 0),
        f(p.server.eventLoopUtilization, 2),
        f(p.server.microsPerDeltaFrame, 1),
        f(p.publishLagMaxMs, 0),
        p.tcp ? `${big(p.tcp.TCPRcvQDrop)}/${big(p.tcp.TCPTimeouts)}` : '-',
      ]);
  if (rows.length > 0) {
    console.log('\nDelta fan-out (latency = scheduled send to arrival in the client process)');
    console.log(
      table(
        [
          'clients',
          'phase',
          'gens',
          'p50 ms',
          'p99 ms',
          'max ms',
          'samples',
          'frames',
          'deltas/s',
          'MiB/s',
          'srv CPU %',
          'cli CPU %',
          'ELU',
          'µs/frame',
          'pub lag ms',
          'rcvQ drop/RTO',
        ],
        rows,
      ),
    );
  }
  console.log('');
  for (const x of r.scenarios) {
    const full = x.verifierSnapshotMs?.length
      ? `full-client snapshot ${x.verifierSnapshotMs.join(', ')} ms`
      : '';
    const phases = x.phases.map((p) => `${p.name}: ${p.verifiers}`).join('; ');
    console.log(`verifiers (${x.kind} ${x.clients}): ${[full, phases].filter(Boolean).join('; ')}`);
  }
}

/**
 * JSON laid out the way the repo's formatter (biome) lays it out, so a results file left in
 * the tree does not fail `npm run lint`: objects expanded, arrays of scalars on one line
 * when they fit in 110 columns.
 */
export function formatJson(value: unknown, indent = '', prefixLength = 0): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      const flat = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      if (indent.length + prefixLength + flat.length + 1 <= 110) return flat;
      if (value.every((v) => typeof v === 'number')) {
        // Numbers are packed into as few lines as fit ("fill"), as the formatter does.
        const lines: string[] = [];
        let line = '';
        for (const v of value.map((x) => JSON.stringify(x))) {
          if (line && inner.length + line.length + 2 + v.length + 1 > 110) {
            lines.push(line);
            line = v;
          } else line = line ? `${line}, ${v}` : v;
        }
        lines.push(line);
        return `[\n${lines.map((l) => inner + l).join(',\n')}\n${indent}]`;
      }
    }
    return `[\n${value.map((v) => inner + formatJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([k, v]) => {
    const key = `${JSON.stringify(k)}: `;
    return inner + key + formatJson(v, inner, key.length);
  });
  return `{\n${lines.join(',\n')}\n${indent}}`;
}

export function writeReport(path: string, r: BenchReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${formatJson(JSON.parse(JSON.stringify(r)))}\n`);
}
