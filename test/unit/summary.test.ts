import { describe, expect, it } from 'vitest';
import type { SyncClient } from '../../src/client/sync-client.js';
import { summaryLine } from '../../src/observability/summary.js';
import type { SyncServer } from '../../src/server/server.js';
import { ServerStats } from '../../src/server/stats.js';
import { SnapshotCache } from '../../src/snapcache/cache.js';
import { TEST_CACHE_OPTIONS } from '../harness/stack.js';

describe('console summary', () => {
  it('counts an agent one generation behind as consistent, with its lag; a wrong hash as not', () => {
    const cache = new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer: 'felix' });
    cache.apply([{ key: '/calico/v1/policy/tier/a', value: { order: 1 } }]);
    cache.flush();
    const gen1 = cache.headGeneration;
    const hash1 = cache.stateHash;
    cache.apply([{ key: '/calico/v1/policy/tier/b', value: { order: 2 } }]);
    cache.flush();
    const agent = (generation: number, hash: string) =>
      ({ syncer: 'felix', generation, state: { hashHex: () => hash } }) as unknown as SyncClient;
    const server = { stats: new ServerStats(), connectionCount: 3 } as unknown as SyncServer;
    const line = summaryLine({
      caches: [cache],
      server,
      agents: [agent(gen1, hash1), agent(cache.headGeneration, cache.stateHash), agent(gen1, 'bad')],
    });
    expect(line).toContain('agents 2/3 hold a published state exactly, lag ≤ 1 gen');
    expect(line).toContain(`felix gen ${cache.headGeneration} keys 2`);
    cache.close();
  });

  it('says when the datastore API does not answer (the state shown is the last one)', () => {
    const cache = new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer: 'felix' });
    const server = { stats: new ServerStats(), connectionCount: 0 } as unknown as SyncServer;
    const api = {
      live: false,
      reason: 'probe timed out',
      notLiveSince: '2025-01-01T00:00:00.000Z',
      replacements: 0,
    };
    const datastore = { health: () => ({ conversionErrors: new Map(), api }) };
    const parts = { caches: [cache], server, agents: [], datastore };
    expect(summaryLine(parts)).toContain(
      'datastore API NOT ANSWERING since 2025-01-01T00:00:00.000Z: probe timed out',
    );
    api.live = true;
    expect(summaryLine(parts)).not.toContain('NOT ANSWERING');
    cache.close();
  });
});
