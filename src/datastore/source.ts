// The contract between a datastore (simulated cluster, Kubernetes, files) and the caches:
// a source pushes batches of KV changes and its sync status into a sink. Sources never see
// syncer types or the wire; routing keys to syncers is the caller's job (model/keys.ts).

import { ErrorCode } from '../errors/codes.js';
import { TabbyError } from '../errors/tabby-error.js';
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
  /** Whether the datastore's API answers (Kubernetes: its probe), and why not. */
  api?: ApiHealth;
}

export interface ApiHealth {
  live: boolean;
  reason?: string;
  /** ISO time of the first unanswered probe. */
  notLiveSince?: string;
  /** ISO time of the last answered probe. */
  lastAnswerAt?: string;
  /** Times the store behind the API was found replaced and everything relisted. */
  replacements: number;
}

export interface DatastoreSource {
  readonly name: string;
  start(sink: DatastoreSink): Promise<void>;
  stop(): Promise<void>;
  health?(): DatastoreHealth;
}

/**
 * A datastore that can record what agents report about their node (through the server's
 * REPORT, proto/PROTOCOL.md §15). The recorded value comes back as ordinary KVs.
 */
export interface NodeReportRecorder {
  /** Resolves once stored or already there; NodeNotFoundError if there is no such node. */
  recordWireguardPublicKey(node: string, publicKey: string | null, signal: AbortSignal): Promise<void>;
}

/** A report about a node the datastore does not have. */
export class NodeNotFoundError extends TabbyError {
  constructor(readonly node: string) {
    super(ErrorCode.NodeNotFound, `no node named "${node}"`);
  }
}

/** Rejects with the signal's reason once it aborts: for waits inside report recording. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
