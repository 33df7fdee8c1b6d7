// The typed values a converter may store, and the one place a typed value becomes a KV. Every
// type here is JSON by construction (strings, numbers, booleans, arrays and plain objects).

import type { JsonValue, KV } from '../types.js';
import type { HostEndpointKv, NetworkSetKv, WorkloadEndpointKv } from './endpoint.js';
import type { PolicyKv, ProfileKv, TierKv } from './policy.js';
import type {
  BgpResourceKv,
  BlockAffinityKv,
  IpamBlockKv,
  IpPoolKv,
  IpReservationKv,
  NodeKv,
  WireguardKv,
} from './routing.js';

export type ModelValue =
  | PolicyKv
  | TierKv
  | ProfileKv
  | WorkloadEndpointKv
  | HostEndpointKv
  | NetworkSetKv
  | NodeKv
  | BgpResourceKv
  | IpReservationKv
  | IpPoolKv
  | IpamBlockKv
  | BlockAffinityKv
  | WireguardKv
  /** A Felix configuration value (global or per host). */
  | string
  /** The datastore's Ready flag. */
  | boolean;

export const modelKV = (key: string, value: ModelValue): KV => ({ key, value: value as JsonValue });
