// The public entry point: what a third-party node agent needs to follow a Tabby replica
// (the client, its options and events) and to read what it receives (the key/value model,
// key builders, the state hash it can verify, and the error family). Everything else under
// src/ is internal and may change between minor versions; the CLI is reached through `bin`.

export { rankReplicas } from './client/placement.js';
export { ClientState } from './client/state.js';
export { SyncClient, type SyncClientEvents, type SyncClientOptions } from './client/sync-client.js';
export type { ClientTlsOptions } from './client/tls.js';
export { ClientTlsError } from './client/tls.js';
export { ErrorCode, isErrorCode } from './errors/codes.js';
export { TabbyError } from './errors/tabby-error.js';
export { type KeyKind, Keys, keyKind, SYNCER_TABLE, syncersForKey } from './model/keys.js';
export { canonicalJson, EMPTY_STATE_HASH, hashState, StateHash } from './model/state-hash.js';
export {
  isSyncerType,
  isSyncStatus,
  type JsonValue,
  type KV,
  SYNC_STATUSES,
  SYNCER_TYPES,
  SyncerType,
  SyncStatus,
} from './model/types.js';
export { CloseCode, EncodeError, isCloseCode, ProtocolError } from './protocol/errors.js';
export { ReportError, ReportRefusal } from './protocol/reports.js';
