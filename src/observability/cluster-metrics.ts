// /metrics of a replica whose sockets live in worker processes: this process's registry (the
// caches, datastore, fleet) plus each worker's (its connections and bytes), merged by
// prom-client's AggregatorRegistry — counters and per-connection gauges summed, the rest by
// each metric's own aggregator — and the workers' own health: how many, how many restarts.

import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';

export interface WorkerMetricsSource {
  /** Each live worker's getMetricsAsJSON(). */
  metrics(): Promise<unknown[]>;
  readonly size: number;
  readonly restarts: number;
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
  return new (class extends Registry {
    override async metrics(): Promise<string> {
      const own = await local.getMetricsAsJSON();
      const theirs = (await workers.metrics()) as object[];
      return AggregatorRegistry.aggregate([own, ...theirs]).metrics();
    }
  })();
}
