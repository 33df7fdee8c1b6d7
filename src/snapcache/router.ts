// Routes a datastore's updates to the per-syncer caches (the felix/bgp table lives in
// model/keys.ts). Keys no syncer wants are counted and dropped, never silently kept.

import type { DatastoreSink } from '../datastore/source.js';
import { syncersForKey } from '../model/keys.js';
import type { KV, SyncerType, SyncStatus } from '../model/types.js';
import type { SnapshotCache } from './cache.js';

export class SyncerRouter implements DatastoreSink {
  unroutedKeys = 0;
  private readonly caches: ReadonlyMap<SyncerType, SnapshotCache>;

  constructor(caches: readonly SnapshotCache[]) {
    this.caches = new Map(caches.map((c) => [c.syncer, c]));
  }

  onUpdates(kvs: readonly KV[]): void {
    const bySyncer = new Map<SyncerType, KV[]>();
    for (const kv of kvs) {
      const syncers = syncersForKey(kv.key);
      if (syncers.length === 0) this.unroutedKeys++;
      for (const s of syncers) {
        const list = bySyncer.get(s);
        if (list) list.push(kv);
        else bySyncer.set(s, [kv]);
      }
    }
    for (const [s, list] of bySyncer) this.caches.get(s)?.apply(list);
  }

  onStatus(status: SyncStatus): void {
    for (const c of this.caches.values()) c.setStatus(status);
  }
}
