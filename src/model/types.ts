// The key/value model every stage speaks: string keys, JSON-like values, null = deleted.
// Values are plain data (no Dates, no undefined, no binary) so that MessagePack and the
// canonical-JSON state hash see exactly the same thing on every side of the wire.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** One change: `value === null` deletes the key. */
export interface KV {
  readonly key: string;
  readonly value: JsonValue;
}

/** Sync status as in Typha: until the first full list completes clients must not act on absences. */
export const SyncStatus = {
  WaitForDatastore: 'wait-for-datastore',
  ResyncInProgress: 'resync',
  InSync: 'in-sync',
} as const;
export type SyncStatus = (typeof SyncStatus)[keyof typeof SyncStatus];
export const SYNC_STATUSES: readonly SyncStatus[] = Object.values(SyncStatus);

export function isSyncStatus(v: unknown): v is SyncStatus {
  return typeof v === 'string' && (SYNC_STATUSES as readonly string[]).includes(v);
}

/** A syncer type: each has its own key set and its own cache (a BGP client never receives pods). */
export const SyncerType = { Felix: 'felix', Bgp: 'bgp' } as const;
export type SyncerType = (typeof SyncerType)[keyof typeof SyncerType];
export const SYNCER_TYPES: readonly SyncerType[] = Object.values(SyncerType);

export function isSyncerType(v: unknown): v is SyncerType {
  return typeof v === 'string' && (SYNCER_TYPES as readonly string[]).includes(v);
}
