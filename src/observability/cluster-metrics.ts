// /metrics of a replica whose sockets live in worker processes: this process's registry (the
// caches, datastore, fleet) plus each worker's (its connections and bytes), merged by
// prom-client's AggregatorRegistry — counters and per-connection gauges summed, the rest by
// each metric's own aggregator — and the workers' own health: how many, how many restarts,
// how many of those were stuck.

import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';

/** The registry type, for roots that pass registries along (prom-client stays in observability and the collectors). */
export type MetricsRegistry = Registry;

export interface WorkerMetricsSource {
  /** Each live worker's getMetricsAsJSON(). */
  metrics(): Promise<unknown[]>;
  readonly size: number;
  readonly restarts: number;
  readonly stalls: number;
}

export function clusterRegistry(local: Registry, workers: WorkerMetricsSource): Registry {
  new Gauge({
    name: 'tabby_workers',
    help: 'Worker processes serving clients (--workers)',
    registers: [local],
    collect() {
      this.set(workers.size);
    },
  });
  new Counter({
    name: 'tabby_worker_restarts_total',
    help: 'Worker processes that exited unexpectedly and were replaced (their clients reconnect)',
    registers: [local],
    collect() {
      this.reset();
      this.inc(workers.restarts);
    },
  });
  new Counter({
    name: 'tabby_worker_stalls_total',
    help: 'Workers killed because they stopped reading their channel (past --max-worker-queue-bytes): also in restarts',
    registers: [local],
    collect() {
      this.reset();
      this.inc(workers.stalls);
    },
  });
  return new (class extends Registry {
    override async metrics(): Promise<string> {
      const own = await local.getMetricsAsJSON();
      const theirs = (await workers.metrics()) as object[];
      return AggregatorRegistry.aggregate([own, ...theirs]).metrics();
    }
  })();
}
