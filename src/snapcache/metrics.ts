// The snapshot caches' and the router's Prometheus families, read from their stats at scrape
// time (the caches keep plain counters; nothing on the update path touches prom-client).
// Wired by the composition roots through observability/metrics.ts: the caches do not know.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { SnapshotCache } from './cache.js';
import type { SyncerRouter } from './router.js';

const STATUS_VALUE = { 'wait-for-datastore': 0, resync: 1, 'in-sync': 2 } as const;

export interface SnapcacheMetricsSource {
  readonly caches: readonly SnapshotCache[];
  readonly router: Pick<SyncerRouter, 'unroutedKeys'>;
}

/** Per-syncer families (one series per cache); and tabby_unrouted_keys_total. */
export function registerSnapcacheMetrics(
  registry: Registry,
  { caches, router }: SnapcacheMetricsSource,
): void {
  const perCache = (
    name: string,
    help: string,
    read: (c: SnapshotCache) => number,
    kind: 'gauge' | 'counter' = 'gauge',
  ) => {
    const Ctor = kind === 'gauge' ? Gauge : Counter;
    new Ctor({
      name,
      help,
      labelNames: ['syncer'],
      registers: [registry],
      collect(this: Gauge | Counter) {
        // A counter is rebuilt from the caches' totals on each scrape: reset once, before the
        // loop (inside it, each cache's reset would erase the series of the one before).
        if (this instanceof Counter) this.reset();
        for (const c of caches) {
          if (this instanceof Gauge) this.set({ syncer: c.syncer }, read(c));
          else this.inc({ syncer: c.syncer }, read(c));
        }
      },
    });
  };
  perCache('tabby_cache_generation', 'Generation number at the head of the cache', (c) => c.headGeneration);
  perCache('tabby_cache_keys', 'Keys in the cache (snapshot size)', (c) => c.keyCount);
  perCache(
    'tabby_cache_sync_status',
    'Datastore sync status: 0 wait, 1 resync, 2 in-sync',
    (c) => STATUS_VALUE[c.status],
  );
  perCache('tabby_cache_history_bytes', 'Bytes of retained delta history', (c) => c.retainedBytes);
  perCache(
    'tabby_cache_history_generations',
    'Generations retained for catch-up',
    (c) => c.retainedGenerations,
  );
  perCache('tabby_updates_total', 'Updates received from the datastore', (c) => c.stats.updatesIn, 'counter');
  perCache(
    'tabby_updates_skipped_total',
    'Updates that changed nothing',
    (c) => c.stats.updatesSkipped,
    'counter',
  );
  perCache(
    'tabby_values_rejected_total',
    'Values too large for one frame or that cannot be encoded, sent as deletions',
    (c) => c.stats.valuesRejected,
    'counter',
  );
  perCache('tabby_snapshots_built_total', 'Snapshots encoded', (c) => c.stats.snapshotsBuilt, 'counter');
  perCache(
    'tabby_snapshots_reused_total',
    'Snapshot requests served from a cached encoding',
    (c) => c.stats.snapshotsReused,
    'counter',
  );
  new Counter({
    name: 'tabby_unrouted_keys_total',
    help: 'Datastore keys no syncer takes',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(router.unroutedKeys);
    },
  });
}
