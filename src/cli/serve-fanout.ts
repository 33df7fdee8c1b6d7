// The fan-out of `tabby serve`, one process or several: a SyncServer in this process, or a
// pool of workers that each run one on their share of the sockets, fed with the caches'
// generations. The rest of serve (fleet, metrics, summary, shutdown) sees either the same way.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { listenError } from '../config/errors.js';
import type { ServeConfig } from '../config/serve-config.js';
import type { PodPlacementIndex } from '../datastore/kube/pod-placement.js';
import { parseHostPort } from '../model/address.js';
import type { Logger } from '../model/logger.js';
import type { SyncerType } from '../model/types.js';
import { clusterRegistry, type MetricsRegistry } from '../observability/cluster-metrics.js';
import type { FleetParts } from '../observability/fleet.js';
import { type NodeReportSink, type ReplicaView, SyncServer } from '../server/server.js';
import { ServerStats } from '../server/stats.js';
import type { TlsMaterial } from '../server/tls.js';
import { SEED_PART_BYTES, WorkerPool } from '../server/workers/pool.js';
import type { SnapshotCache } from '../snapcache/cache.js';
import { recordBytes, recordOf, seedParts } from '../snapcache/mirror.js';
import { serverOptions } from './serve-options.js';

export { workerCount } from '../config/serve-config.js';
/**
 * CPUs a cgroup v2 quota (`/sys/fs/cgroup/cpu.max`: "<quota> <period>" or "max <period>")
 * allows, rounded up; undefined without a quota.
 */
export function cpusOfQuota(cpuMax: string): number | undefined {
  const [quota, period] = cpuMax.trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period);
  if (quota === 'max' || !(q > 0) || !(p > 0)) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

/**
 * The cores this process may use: its CPU affinity, bounded by its container's CPU quota (a
 * pod limited to 2 CPUs on a 64-core node must not start 64 workers; Node 20's
 * availableParallelism() reads the affinity only).
 */
export function coresAvailable(): number {
  let quota: number | undefined;
  try {
    quota = cpusOfQuota(readFileSync('/sys/fs/cgroup/cpu.max', 'latin1'));
  } catch {
    // no cgroup v2 CPU controller here: the affinity alone
  }
  return Math.min(availableParallelism(), quota ?? Number.POSITIVE_INFINITY);
}

export interface FanOut {
  readonly bound: { host: string; port: number };
  /** What this process's own /metrics reads of the server (with workers: nothing, theirs are added). */
  readonly local: Pick<SyncServer, 'stats' | 'connections'>;
  /** Every connection of the replica: for the fleet view and the console summary. */
  readonly replica: FleetParts['server'] & {
    readonly connectionCount: number;
    readonly stats: Pick<ServerStats, 'snapshotBytes' | 'deltaBytes'>;
  };
  /** /metrics of the replica, from this process's registry. */
  registry(local: MetricsRegistry): MetricsRegistry;
  drain(ms: number): Promise<void>;
}

export interface FanOutParts {
  cfg: ServeConfig;
  serverId: string;
  caches: readonly SnapshotCache[];
  view: ReplicaView;
  reports: NodeReportSink;
  podPlacement: PodPlacementIndex | undefined;
  tls: TlsMaterial | undefined;
  log: Logger;
}

/** Today's path: one process accepts, handshakes and writes to every client. */
export async function singleProcess(p: FanOutParts): Promise<FanOut> {
  const { cfg, podPlacement } = p;
  const server = new SyncServer(
    p.caches,
    serverOptions(cfg, p.serverId),
    p.log.child({ component: 'server' }),
    {
      sink: p.reports,
      policy: {
        insecureAcceptUnauthenticated: cfg.insecureAcceptUnauthenticatedReports,
        ...(podPlacement ? { nodeOfPod: (pod: string) => podPlacement.nodeOfPod(pod) } : {}),
      },
    },
  );
  server.setReplicaView(p.view);
  const listen = parseHostPort(cfg.listen);
  const bound = await server.listen(listen.host, listen.port, p.tls).catch((err: unknown) => {
    throw listenError('listen', cfg.listen, err);
  });
  return { bound, local: server, replica: server, registry: (r) => r, drain: (ms) => server.drain(ms) };
}

/** The worker's entry module, beside this one (.ts when run from the sources). */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return here.replace(/serve-fanout\.(ts|js)$/, 'serve-worker.$1');
}

/** Every cache's seed parts, one after the other; each cache is taken now (see seedParts). */
function seedsOf(caches: readonly SnapshotCache[]): Iterable<unknown> {
  const each = caches.map((c) => seedParts(c, SEED_PART_BYTES));
  return (function* () {
    for (const parts of each) yield* parts;
  })();
}

/**
 * `workers` processes own the sockets; this one keeps the datastore and caches and ships
 * each generation, encoded once here, to each worker once.
 */
export async function workerProcesses(p: FanOutParts, workers: number): Promise<FanOut> {
  const { cfg, caches, view } = p;
  const pool = new WorkerPool({
    count: workers,
    exec: workerEntry(),
    listen: cfg.listen,
    config: { ...cfg, serverId: p.serverId, workers },
    seed: () => seedsOf(caches),
    view: () => {
      const expected: Partial<Record<SyncerType, number>> = {};
      for (const c of caches) expected[c.syncer] = view.expectedClients?.(c.syncer) ?? 0;
      return { fresh: view.fresh?.() ?? true, readyReplicas: view.readyReplicas?.() ?? 0, expected };
    },
    reports: p.reports,
    log: p.log.child({ component: 'workers' }),
    maxQueuedBytes: cfg.maxWorkerQueueBytes,
  });
  for (const c of caches) {
    let status = c.status;
    c.on('advance', (gen) => {
      const record = recordOf(gen, c);
      pool.ship(c.syncer, record, recordBytes(record));
      // Readiness follows the data: told right after it, not at the next view check.
      if (gen.status !== status) pool.refreshView();
      status = gen.status;
    });
  }
  const bound = await pool.start().catch((err: unknown) => {
    throw listenError('listen', cfg.listen, err);
  });
  const idle = { stats: new ServerStats(), connections: () => [][Symbol.iterator]() };
  const replica = {
    connections: () => pool.connections(),
    get connectionCount() {
      return pool.totals().open;
    },
    get stats() {
      return pool.totals();
    },
  };
  return {
    bound,
    local: idle,
    replica,
    registry: (local) => clusterRegistry(local, pool),
    drain: (ms) => pool.drain(ms),
  };
}
