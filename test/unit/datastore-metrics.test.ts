// The datastore's collector: each per-resource family reads its own stat of the source's
// health(), and a source without health() adds no family at all.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerDatastoreMetrics } from '../../src/datastore/metrics.js';
import type { DatastoreHealth } from '../../src/datastore/source.js';

describe('registerDatastoreMetrics', () => {
  it('reads conversion errors, manifest errors and each resource’s list/watch stats at scrape time', async () => {
    const health: DatastoreHealth = {
      conversionErrors: new Map([['Pod', 2]]),
      manifestErrors: 1,
      resources: [
        {
          resource: 'pods',
          state: 'watching',
          synced: true,
          stats: { lists: 1, relistsAfterExpiry: 2, watches: 3, events: 4, failures: 5 },
        },
      ],
    };
    const registry = new Registry();
    registerDatastoreMetrics(registry, { health: () => health });
    const lines = (await registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines).toEqual([
      'tabby_datastore_conversion_errors_total{kind="Pod"} 2',
      'tabby_datastore_manifest_errors 1',
      'tabby_datastore_watch_state{resource="pods",state="watching"} 1',
      'tabby_datastore_lists_total{resource="pods"} 1',
      'tabby_datastore_relists_expired_total{resource="pods"} 2',
      'tabby_datastore_watches_total{resource="pods"} 3',
      'tabby_datastore_watch_events_total{resource="pods"} 4',
      'tabby_datastore_failures_total{resource="pods"} 5',
    ]);
  });

  it('adds nothing for a source without health()', async () => {
    const registry = new Registry();
    registerDatastoreMetrics(registry, {});
    expect(registry.getMetricsAsArray()).toEqual([]);
  });
});
