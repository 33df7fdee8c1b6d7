// The Prometheus registry scraped with both syncers' caches: every per-syncer family shows
// a series for each syncer with that cache's own count.
import { describe, expect, it } from 'vitest';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { DEFAULT_SERVER_OPTIONS, SyncServer } from '../../src/server/server.js';
import { SnapshotCache } from '../../src/snapcache/cache.js';
import { SyncerRouter } from '../../src/snapcache/router.js';
import { TEST_CACHE_OPTIONS } from '../harness/stack.js';

function sample(text: string, name: string, syncer: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{syncer="${syncer}"}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('metrics', () => {
  it('per-syncer counters have one series per cache, each with its own value', async () => {
    const caches = (['felix', 'bgp'] as const).map(
      (syncer) => new SnapshotCache({ ...TEST_CACHE_OPTIONS, maxFrameBodyBytes: 1024, syncer }),
    );
    const [felix, bgp] = caches as [SnapshotCache, SnapshotCache];
    const server = new SyncServer(caches, { ...DEFAULT_SERVER_OPTIONS, serverId: 't' }, silentLogger);
    const registry = createMetrics({ caches, server, router: new SyncerRouter(caches) });
    // felix: three updates, one unchanged, one too large; bgp: one update.
    felix.apply([
      { key: Keys.tier('a'), value: { order: 1 } },
      { key: Keys.tier('b'), value: { order: 2 } },
    ]);
    felix.flush();
    felix.apply([
      { key: Keys.tier('a'), value: { order: 1 } },
      { key: Keys.tier('c'), value: { big: 'x'.repeat(2048) } },
    ]);
    felix.flush();
    bgp.apply([{ key: Keys.bgpPeer('p'), value: { spec: {} } }]);
    bgp.flush();
    felix.snapshot('none');
    felix.snapshot('none');
    bgp.snapshot('none');

    const text = await registry.metrics();
    const want: Array<[string, number, number]> = [
      ['tabby_updates_total', 4, 1],
      ['tabby_updates_skipped_total', 1, 0],
      ['tabby_values_rejected_total', 1, 0],
      ['tabby_snapshots_built_total', 1, 1],
      ['tabby_snapshots_reused_total', 1, 0],
    ];
    for (const [name, f, b] of want) {
      expect([name, sample(text, name, 'felix'), sample(text, name, 'bgp')]).toEqual([name, f, b]);
    }
    for (const c of caches) c.close();
  });

  it('snapshot admission: the line, the slots and the wait histogram in its exposition shape', async () => {
    const caches = [new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer: 'felix' })];
    const server = new SyncServer(caches, { ...DEFAULT_SERVER_OPTIONS, serverId: 't' }, silentLogger);
    const registry = createMetrics({ caches, server, router: new SyncerRouter(caches) });
    const a = server.snapshots.admission;
    a.waitCounts[0] = 3; // ≤ 10 ms
    a.waitCounts[4] = 2; // ≤ 2.5 s
    a.waitSumMs = 4_000;
    a.maxInFlightSeen = 7;
    const text = await registry.metrics();
    const value = (series: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${series} `))
          ?.split(' ')[1],
      );
    expect(value('tabby_snapshots_queued')).toBe(0);
    expect(value('tabby_snapshots_in_flight')).toBe(0);
    expect(value('tabby_snapshots_in_flight_max')).toBe(7);
    expect(value('tabby_snapshot_wait_seconds_bucket{le="0.01"}')).toBe(3);
    expect(value('tabby_snapshot_wait_seconds_bucket{le="1"}')).toBe(3);
    expect(value('tabby_snapshot_wait_seconds_bucket{le="2.5"}')).toBe(5);
    expect(value('tabby_snapshot_wait_seconds_bucket{le="+Inf"}')).toBe(5);
    expect(value('tabby_snapshot_wait_seconds_sum')).toBe(4);
    expect(value('tabby_snapshot_wait_seconds_count')).toBe(5);
    for (const c of caches) c.close();
  });
});
