// The public entry point: what a third-party node agent needs to follow a Tabby replica
// (the client, its options and events) and to read what it receives (the key/value model,
// key builders, the value types and their checked readers, the address library, the state
// hash it can verify, and the error family). Everything else under
// src/ is internal and may change between minor versions; the CLI is reached through `bin`.

export { rankReplicas } from './client/placement.js';
export { ClientState } from './client/state.js';
export { SyncClient, type SyncClientEvents, type SyncClientOptions } from './client/sync-client.js';
export type { ClientTlsOptions } from './client/tls.js';
export { ClientTlsError } from './client/tls.js';
export { ErrorCode, isErrorCode } from './errors/codes.js';
export { TabbyError } from './errors/tabby-error.js';
export { type KeyKind, Keys, keyKind, SYNCER_TABLE, syncersForKey } from './model/keys.js';
export { type Cidr, cidrContains, formatCidr, parseCidr, parseNet } from './model/net/cidr.js';
export { formatIp, type Ip, type IpSyntax, type IpVersion, parseIp } from './model/net/ip.js';
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
export {
  type EndpointValue,
  type HostEndpointKv,
  type NetworkSetKv,
  type NetworkSetValue,
  parseEndpoint,
  parseNetworkSet,
  type WorkloadEndpointKv,
} from './model/values/endpoint.js';
export {
  type ModelRule,
  type PolicyKv,
  type PolicyValue,
  type ProfileKv,
  type ProfileValue,
  parsePolicy,
  parseProfile,
  parseRule,
  parseTier,
  type RuleKv,
  type TierKv,
  type TierValue,
} from './model/values/policy.js';
export { BadValue } from './model/values/read.js';
export {
  type BgpResourceKv,
  type BlockAffinityKv,
  type IpamBlockKv,
  type IpPoolKv,
  type NodeInfo,
  type NodeKv,
  type PoolInfo,
  parseBlock,
  parseNode,
  parsePool,
  parseV3,
  type WireguardKv,
} from './model/values/routing.js';
export {
  type AddressType,
  type EndpointSliceKv,
  type EndpointSliceValue,
  parseEndpointSlice,
  parseService,
  type ServiceKv,
  type ServicePort,
  type ServicePortKv,
  type ServiceProtocol,
  type ServiceType,
  type ServiceValue,
  type SliceEndpoint,
  type SliceEndpointKv,
  type SlicePort,
  type SlicePortKv,
} from './model/values/service.js';
export { CloseCode, EncodeError, isCloseCode, ProtocolError } from './protocol/errors.js';
export { ReportError, ReportRefusal } from './protocol/reports.js';
