// The contract between a datastore (simulated cluster, Kubernetes, files) and the caches:
// a source pushes batches of KV changes and its sync status into a sink. Sources never see
// syncer types or the wire; routing keys to syncers is the caller's job (model/keys.ts).

import type { KV, SyncStatus } from '../model/types.js';

export interface DatastoreSink {
  /** A batch of changes, applied in order; null value = deletion. */
  onUpdates(kvs: readonly KV[]): void;
  onStatus(status: SyncStatus): void;
}

export interface DatastoreSource {
  readonly name: string;
  start(sink: DatastoreSink): Promise<void>;
  stop(): Promise<void>;
}
