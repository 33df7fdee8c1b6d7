// The contract between a datastore (simulated cluster, Kubernetes, files) and the caches:
// a source pushes batches of KV changes and its sync status into a sink. Sources never see
// syncer types or the wire; routing keys to syncers is the caller's job (model/keys.ts).

import type { KV, SyncStatus } from '../model/types.js';

export interface DatastoreSink {
  /** A batch of changes, applied in order; null value = deletion. */
  onUpdates(kvs: readonly KV[]): void;
  onStatus(status: SyncStatus): void;
}

export interface ResourceHealth {
  resource: string;
  /** listing | watching | failing | stopped */
  state: string;
  synced: boolean;
  stats: Readonly<Record<string, number>>;
}

/** What a source reports for metrics and logs. */
export interface DatastoreHealth {
  /** Objects rejected by conversion, by kind. */
  conversionErrors: ReadonlyMap<string, number>;
  /** One row per watched resource type (Kubernetes datastore). */
  resources?: readonly ResourceHealth[];
  /** Manifest documents that failed to load at the last reload (file datastore). */
  manifestErrors?: number;
}

export interface DatastoreSource {
  readonly name: string;
  start(sink: DatastoreSink): Promise<void>;
  stop(): Promise<void>;
  health?(): DatastoreHealth;
}
