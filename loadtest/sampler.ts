// Once a second while a mode runs: agents in sync and deliveries from the agent processes,
// CPU and RSS of the server side and of the API from /proc, bytes the API served. Keeps the
// timeline for the report and prints the live progress line.

import type { StatsSnapshot } from '../src/testing/emulator/stats.js';
import type { AgentProgress } from './agent-worker.js';
import type { Child } from './ipc.js';
import type { ProcGroup } from './proc-stats.js';
import type { TimelinePoint } from './results.js';

const MiB = 2 ** 20;

export interface SamplerTargets {
  label: string;
  agents: Child[];
  api: Child;
  apiProc: ProcGroup;
  server: ProcGroup;
  /** Live line on stderr (a TTY gets it rewritten in place; otherwise one line every 5 s). */
  progress: boolean;
}

export class Sampler {
  readonly timeline: TimelinePoint[] = [];
  phase = 'start';
  total = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = performance.now();
  private prev = { t: 0, samples: 0, serverCpu: 0, apiCpu: 0, apiBytes: 0 };
  private busy = false;
  rssMax = 0;

  constructor(private readonly s: SamplerTargets) {
    const srv = s.server.read();
    const api = s.apiProc.read();
    this.prev = { t: 0, samples: 0, serverCpu: srv.cpuMs, apiCpu: api.cpuMs, apiBytes: 0 };
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), 1_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.s.progress && process.stderr.isTTY) process.stderr.write('\n');
  }

  /** The newest window's peak server RSS is reset by the caller at window start. */
  resetPeak(): void {
    this.rssMax = 0;
  }

  private async tick(): Promise<void> {
    if (this.busy) return; // a slow IPC round must not pile up
    this.busy = true;
    try {
      const progress = await Promise.all(
        this.s.agents.map((c) => c.request<AgentProgress>('progress', {}, 5_000).catch(() => undefined)),
      );
      const api = await this.s.api.request<StatsSnapshot>('stats', {}, 5_000).catch(() => undefined);
      const t = (performance.now() - this.t0) / 1_000;
      const dt = Math.max(1e-3, t - this.prev.t);
      const srv = this.s.server.read();
      const apiProc = this.s.apiProc.read();
      const samples = progress.reduce((a, p) => a + (p?.samples ?? 0), 0);
      const apiBytes = api?.total.bytesServed ?? this.prev.apiBytes;
      const point: TimelinePoint = {
        t: Math.round(t * 10) / 10,
        phase: this.phase,
        inSync: progress.reduce((a, p) => a + (p?.inSync ?? 0), 0),
        deltasPerSec: Math.max(0, (samples - this.prev.samples) / dt),
        serverCpuPct: Math.max(0, (srv.cpuMs - this.prev.serverCpu) / (dt * 10)),
        serverRssMiB: srv.rssBytes / MiB,
        apiCpuPct: Math.max(0, (apiProc.cpuMs - this.prev.apiCpu) / (dt * 10)),
        apiRssMiB: apiProc.rssBytes / MiB,
        apiBytesPerSec: Math.max(0, (apiBytes - this.prev.apiBytes) / dt),
      };
      this.rssMax = Math.max(this.rssMax, point.serverRssMiB);
      this.prev = { t, samples, serverCpu: srv.cpuMs, apiCpu: apiProc.cpuMs, apiBytes };
      this.timeline.push(point);
      this.print(point);
    } finally {
      this.busy = false;
    }
  }

  private print(p: TimelinePoint): void {
    if (!this.s.progress) return;
    const line =
      `[${this.s.label}] ${p.phase} ${Math.round(p.t)}s | in sync ${p.inSync}/${this.total} | ` +
      `${Math.round(p.deltasPerSec)} deltas/s | server ${Math.round(p.serverCpuPct)}% CPU ` +
      `${Math.round(p.serverRssMiB)} MiB | API ${Math.round(p.apiCpuPct)}% ${Math.round(p.apiRssMiB)} MiB`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
    else if (this.timeline.length % 5 === 1) process.stderr.write(`${line}\n`);
  }
}
