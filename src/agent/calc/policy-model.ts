// The incremental store of everything policy calculation reads: tiers, policies, profiles,
// network sets and workload/host endpoints of every node. apply() takes KV updates (null =
// delete), ignores other keys, and says which ids changed so later stages do only that work.

import { keyKind } from '../../model/keys.js';
import type { JsonValue, KV } from '../../model/types.js';
import {
  type EndpointValue,
  type NetworkSetValue,
  parseEndpoint,
  parseNetworkSet,
} from '../../model/values/endpoint.js';
import {
  type PolicyValue,
  type ProfileValue,
  parsePolicy,
  parseProfile,
  parseTier,
  type TierValue,
} from '../../model/values/policy.js';
import { BadValue } from '../../model/values/read.js';

/** Ids (model keys; tier and profile names) whose value was set or deleted by one apply(). */
export interface ModelDelta {
  readonly tiers: Set<string>;
  readonly policies: Set<string>;
  readonly profiles: Set<string>;
  readonly endpoints: Set<string>;
  readonly networkSets: Set<string>;
  /** Values that did not parse; each was treated as a deletion of its key. */
  readonly invalid: { key: string; reason: string }[];
}

const emptyDelta = (): ModelDelta => ({
  tiers: new Set(),
  policies: new Set(),
  profiles: new Set(),
  endpoints: new Set(),
  networkSets: new Set(),
  invalid: [],
});

export class PolicyModel {
  readonly tiers = new Map<string, TierValue>();
  readonly policies = new Map<string, PolicyValue>();
  readonly profiles = new Map<string, ProfileValue>();
  readonly endpoints = new Map<string, EndpointValue>();
  readonly networkSets = new Map<string, NetworkSetValue>();

  apply(kvs: readonly KV[]): ModelDelta {
    const delta = emptyDelta();
    for (const { key, value } of kvs) {
      try {
        this.#applyOne(key, value, delta);
      } catch (err) {
        if (!(err instanceof BadValue)) throw err;
        delta.invalid.push({ key, reason: err.message });
        this.#applyOne(key, null, delta);
      }
    }
    return delta;
  }

  #applyOne(key: string, value: JsonValue, delta: ModelDelta): void {
    switch (keyKind(key)) {
      case 'tier': {
        const name = decodeURIComponent(key.slice(key.lastIndexOf('/') + 1));
        if (value === null) this.tiers.delete(name);
        else this.tiers.set(name, parseTier(key, value));
        delta.tiers.add(name);
        return;
      }
      case 'policy':
        if (value === null) this.policies.delete(key);
        else this.policies.set(key, parsePolicy(key, value));
        delta.policies.add(key);
        return;
      case 'profile': {
        const name = decodeURIComponent(key.slice(key.lastIndexOf('/') + 1));
        if (value === null) this.profiles.delete(name);
        else this.profiles.set(name, parseProfile(key, value));
        delta.profiles.add(name);
        return;
      }
      case 'workloadEndpoint':
      case 'hostEndpoint':
        if (value === null) this.endpoints.delete(key);
        else this.endpoints.set(key, parseEndpoint(key, value));
        delta.endpoints.add(key);
        return;
      case 'networkSet':
        if (value === null) this.networkSets.delete(key);
        else this.networkSets.set(key, parseNetworkSet(key, value));
        delta.networkSets.add(key);
        return;
      default:
        return;
    }
  }

  /**
   * Labels of an endpoint or network set as selectors see them: its own labels over those of
   * its profiles, an earlier profile winning over a later one (labelindex
   * label_inheritance_index.go: own labels first, then parents in order).
   */
  effectiveLabels(item: {
    readonly labels: Readonly<Record<string, string>>;
    readonly profileIds: readonly string[];
  }): Record<string, string> {
    // Built through a Map and fromEntries so that a label named "__proto__" stays a label.
    const out = new Map<string, string>();
    for (let i = item.profileIds.length - 1; i >= 0; i--) {
      const p = this.profiles.get(item.profileIds[i]!);
      if (p !== undefined) for (const [k, v] of Object.entries(p.labels)) out.set(k, v);
    }
    for (const [k, v] of Object.entries(item.labels)) out.set(k, v);
    return Object.fromEntries(out);
  }
}
