// What the primary and its socket-owning workers say to each other over the cluster IPC
// channel (serialization 'advanced': Buffers and typed arrays cross as bytes, no JSON). The
// channel is ordered, which the mirrors rely on: a seed (in parts), then every generation after it.
// Seeds and generation records are the cache's (snapcache/mirror.ts); here they are opaque.

import type { SyncerType } from '../../model/types.js';
import type { AckedHash } from '../connection.js';

/** The replica-wide facts a worker cannot know alone. */
export interface WorkerView {
  /** Readiness of the primary's data: new clients are refused `not-ready` while false. */
  fresh: boolean;
  readyReplicas: number;
  /** Clients expected across the fleet, per syncer (the node count). */
  expected: Partial<Record<SyncerType, number>>;
  /** Streaming clients of this replica (every worker), per syncer: the share is judged on these. */
  replicaClients: Partial<Record<SyncerType, number>>;
}

/** The streaming connections of a worker, column by column (cheap to serialize). */
export interface ConnectionColumns {
  id: number[];
  syncer: SyncerType[];
  hostname: string[];
  address: string[];
  identity: (string | null)[];
  openedAtMs: number[];
  ackedGeneration: number[];
  ackedHash: AckedHash[];
  bytesOut: number[];
}

/** A worker's counters and connections, pushed every few seconds for /fleet, status and rebalancing. */
export interface WorkerReport {
  connections: ConnectionColumns;
  /** Connections in any state (the console summary's count). */
  open: number;
  closes: [string, number][];
  snapshotBytes: number;
  deltaBytes: number;
}

export type ToWorker =
  /** Starts a seed: its parts follow, then seed-end, then the generations made meanwhile. */
  | { t: 'seed'; slot: number; config: unknown; view: WorkerView; listen: string }
  | { t: 'seed-part'; part: unknown }
  | { t: 'seed-end' }
  | { t: 'gen'; syncer: SyncerType; record: unknown }
  | { t: 'view'; view: WorkerView }
  | { t: 'drain'; ms: number }
  | { t: 'metrics'; id: number }
  | { t: 'report-done'; id: number; error?: string };

export type FromWorker =
  | { t: 'hello' }
  | { t: 'report'; report: WorkerReport }
  | { t: 'metrics'; id: number; metrics: unknown }
  | { t: 'record-key'; id: number; node: string; publicKey: string | null }
  | { t: 'record-abort'; id: number }
  /** The worker could not start: its error, and its errno code (EADDRINUSE...) if it had one. */
  | { t: 'failed'; error: string; code?: string };

/** Every message of ours carries `t`; anything else on the channel (cluster's own, prom-client's) is not ours. */
export function isOurs<T extends { t: string }>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && typeof (msg as { t?: unknown }).t === 'string';
}
