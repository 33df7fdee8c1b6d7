// Which value type each kind of key stores, and the one place a typed value becomes a KV: the
// key is built from its kind (Keys[kind]), so a value can only be stored under a key of its
// own type. Every type here is JSON by construction (strings, numbers, booleans, arrays and
// plain objects).

import { Keys } from '../keys.js';
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
import type { EndpointSliceKv, ServiceKv } from './service.js';

/** The stored value type of each converted kind of key. */
export interface ValueOf {
  readonly node: NodeKv;
  readonly workloadEndpoint: WorkloadEndpointKv;
  readonly hostEndpoint: HostEndpointKv;
  /** Felix configuration values are strings, per host or global. */
  readonly hostConfig: string;
  readonly globalConfig: string;
  readonly tier: TierKv;
  readonly policy: PolicyKv;
  readonly profile: ProfileKv;
  readonly networkSet: NetworkSetKv;
  readonly ipPool: IpPoolKv;
  readonly ipReservation: IpReservationKv;
  readonly ipamBlock: IpamBlockKv;
  readonly blockAffinity: BlockAffinityKv;
  readonly bgpConfiguration: BgpResourceKv;
  readonly bgpPeer: BgpResourceKv;
  readonly bgpFilter: BgpResourceKv;
  readonly wireguard: WireguardKv;
  /** The datastore's Ready flag. */
  readonly readyFlag: boolean;
  readonly service: ServiceKv;
  readonly endpointSlice: EndpointSliceKv;
}

export type TypedKind = keyof ValueOf;

/** The KV storing `value` under the key Keys[kind](...keyArgs). */
export function modelKV<K extends TypedKind>(
  kind: K,
  keyArgs: Parameters<(typeof Keys)[K]>,
  value: ValueOf[K],
): KV {
  const key = (Keys[kind] as (...args: readonly (string | undefined)[]) => string)(...keyArgs);
  return { key, value: value as JsonValue };
}
