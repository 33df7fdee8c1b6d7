// What the server needs from a syncer's cache, declared here so the server depends on an
// interface and not on the cache's implementation (SnapshotCache satisfies it).

import type { SyncerType, SyncStatus } from '../model/types.js';
import type { Compression } from '../protocol/messages.js';

export interface EncodedFrames {
  readonly frames: readonly Buffer[];
  readonly bytes: number;
}

export interface SyncStream {
  readonly syncer: SyncerType;
  readonly epoch: string;
  readonly headGeneration: number;
  readonly status: SyncStatus;
  /** Frames BEGIN..END of a recent generation (shared by all clients). */
  snapshot(compression: Compression): EncodedFrames & { readonly generation: number };
  /** Merged deltas from `from` to the head; undefined if `from` is outside the window. */
  catchUp(from: number, compression: Compression): EncodedFrames | undefined;
  canResume(generation: number): boolean;
  /** The latest retained generation whose state has this hash (resume across replicas). */
  generationWithHash(hash: string): number | undefined;
  /** STATUS frame for the head. */
  statusFrame(): Buffer;
  /** The state hash published at `generation`, if still kept (to judge ACKs, §13). */
  hashAt(generation: number): string | undefined;
  /** Creation time of the oldest generation a client at `generation` lacks. */
  missingSinceMs(generation: number): number | undefined;
  on(event: 'advance', listener: () => void): unknown;
}
