// The server's own process (forked by bench.ts): runs BenchServer and answers the bench's
// commands. Kept apart from the clients and from the bench's bookkeeping so that its
// memory, CPU time and event-loop utilisation are the server's alone. Needs --expose-gc.

import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { Logger } from '../src/model/logger.js';
import { serveCommands } from './ipc.js';
import { BenchServer, type BenchServerOptions } from './server-side.js';

/** Warnings and errors to stderr, at most a few: 10,000 clients can fail 10,000 times. */
function benchLogger(): Logger {
  let printed = 0;
  const out =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      if (printed++ < 20) console.error(`[server ${level}]`, msg ?? '', JSON.stringify(obj));
    };
  const log: Logger = {
    debug() {},
    info() {},
    warn: out('warn'),
    error: out('error'),
    child: () => log,
  };
  return log;
}

const gc = (globalThis as { gc?: () => void }).gc;
let bench: BenchServer | undefined;
let mark:
  | { cpu: NodeJS.CpuUsage; elu: EventLoopUtilization; wall: number; cache: Record<string, number> }
  | undefined;

function need(): BenchServer {
  if (!bench) throw new Error('server not initialised');
  return bench;
}

serveCommands({
  async init(args: BenchServerOptions) {
    const t0 = performance.now();
    bench = new BenchServer(args, benchLogger());
    bench.load();
    const loadMs = performance.now() - t0;
    const snapshot = bench.prepareSnapshot();
    const port = await bench.listen();
    return { port, loadMs, snapshot };
  },

  /** Memory after two full GCs (so garbage from setup does not count as per-connection cost). */
  memory() {
    if (!gc) throw new Error('server process needs --expose-gc');
    gc();
    gc();
    const m = process.memoryUsage();
    return { ...m, connections: need().server.connectionCount };
  },

  /** Starts a measurement window for CPU time and event-loop utilisation. */
  mark() {
    mark = {
      cpu: process.cpuUsage(),
      elu: performance.eventLoopUtilization(),
      wall: performance.now(),
      cache: { ...need().cache.stats },
    };
    return {};
  },

  /** CPU, event-loop utilisation and counters since the last mark (server counters: totals). */
  sinceMark() {
    if (!mark) throw new Error('no mark');
    const cpu = process.cpuUsage(mark.cpu);
    const elu = performance.eventLoopUtilization(mark.elu);
    const b = need();
    return {
      wallMs: performance.now() - mark.wall,
      cpuUserMs: cpu.user / 1_000,
      cpuSystemMs: cpu.system / 1_000,
      eventLoopUtilization: elu.utilization,
      connections: b.server.connectionCount,
      server: {
        accepted: b.server.stats.accepted,
        refused: b.server.stats.refused,
        resnapshots: b.server.stats.resnapshots,
        snapshotBytes: b.server.stats.snapshotBytes,
        deltaBytes: b.server.stats.deltaBytes,
        closes: Object.fromEntries(b.server.stats.closes.entries()),
      },
      // Cache counters over the window (snapshots built, merged deltas built, ...).
      cache: {
        ...Object.fromEntries(Object.entries(b.cache.stats).map(([k, v]) => [k, v - (mark!.cache[k] ?? 0)])),
        headGeneration: b.cache.headGeneration,
      },
    };
  },

  publish(args: { generations: number; keysPerGen: number; ratePerSec: number }) {
    return need().publish(args.generations, args.keysPerGen, args.ratePerSec);
  },

  async close() {
    await bench?.close();
    return {};
  },
});
