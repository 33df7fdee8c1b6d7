// The part of the KV model the rules read, kept incrementally: nodes, pools and BGP resources,
// tiers and policies, parsed by the model's own readers (src/model/values), the ones the agent
// uses, so the rules see values exactly as the agent does. Endpoints, blocks and other
// high-churn keys are never stored: no rule needs them, and the server runs this over the
// whole state.

import { keyKind } from '../model/keys.js';
import type { JsonValue, KV } from '../model/types.js';
import { type PolicyValue, parsePolicy, parseTier, type TierValue } from '../model/values/policy.js';
import { BadValue } from '../model/values/read.js';
import {
  type NodeInfo,
  type PoolInfo,
  parseNode,
  parsePool,
  parseV3,
  type V3Resource,
} from '../model/values/routing.js';

/** The routing values the rules read, by name. */
export interface RoutingValues {
  readonly nodes: ReadonlyMap<string, NodeInfo>;
  readonly pools: ReadonlyMap<string, PoolInfo>;
  readonly bgpConfigurations: ReadonlyMap<string, V3Resource>;
  readonly bgpPeers: ReadonlyMap<string, V3Resource>;
  readonly bgpFilters: ReadonlyMap<string, V3Resource>;
}

/** The policy values the rules read: tiers by name, policies by model key. */
export interface PolicyValues {
  readonly tiers: ReadonlyMap<string, TierValue>;
  readonly policies: ReadonlyMap<string, PolicyValue>;
}

/** Which rule inputs one apply() touched. */
export interface ViewChange {
  readonly routing: boolean;
  readonly policy: boolean;
  readonly invalid: boolean;
}

const NOT_PARSED = 'the value does not parse';
const lastSegment = (key: string): string => decodeURIComponent(key.slice(key.lastIndexOf('/') + 1));
const byKey = (key: string): string => key;

/** One kind's values by id; a value that does not parse deletes the id. */
class Table<T> {
  readonly byId = new Map<string, T>();
  constructor(
    private readonly idOf: (key: string) => string,
    private readonly parse: (key: string, value: JsonValue) => T | undefined,
  ) {}

  /** Sets or deletes the key's value; returns why the value was refused, if it was. */
  apply(key: string, value: JsonValue): string | undefined {
    const id = this.idOf(key);
    if (value === null) {
      this.byId.delete(id);
      return undefined;
    }
    let parsed: T | undefined;
    let reason = NOT_PARSED;
    try {
      parsed = this.parse(key, value);
    } catch (err) {
      if (!(err instanceof BadValue)) throw err;
      reason = err.message;
    }
    if (parsed === undefined) {
      this.byId.delete(id);
      return reason;
    }
    this.byId.set(id, parsed);
    return undefined;
  }
}

const tables = () => ({
  node: new Table(lastSegment, (_, v) => parseNode(v)),
  ipPool: new Table(lastSegment, (_, v) => parsePool(v)),
  bgpConfiguration: new Table(lastSegment, (_, v) => parseV3(v)),
  bgpPeer: new Table(lastSegment, (_, v) => parseV3(v)),
  bgpFilter: new Table(lastSegment, (_, v) => parseV3(v)),
  tier: new Table(lastSegment, parseTier),
  policy: new Table(byKey, parsePolicy),
});
type Kind = keyof ReturnType<typeof tables>;
const ROUTING_KINDS: ReadonlySet<string> = new Set<Kind>([
  'node',
  'ipPool',
  'bgpConfiguration',
  'bgpPeer',
  'bgpFilter',
]);
const POLICY_KINDS: ReadonlySet<string> = new Set<Kind>(['tier', 'policy']);

export class LintView {
  readonly #tables = tables();
  readonly routing: RoutingValues = {
    nodes: this.#tables.node.byId,
    pools: this.#tables.ipPool.byId,
    bgpConfigurations: this.#tables.bgpConfiguration.byId,
    bgpPeers: this.#tables.bgpPeer.byId,
    bgpFilters: this.#tables.bgpFilter.byId,
  };
  readonly policy: PolicyValues = { tiers: this.#tables.tier.byId, policies: this.#tables.policy.byId };
  /** Keys whose current value the model could not parse, with the reason if known. */
  readonly invalid = new Map<string, string>();

  apply(kvs: readonly KV[]): ViewChange {
    const routingKvs: KV[] = [];
    const policyKvs: KV[] = [];
    for (const kv of kvs) {
      const kind = keyKind(kv.key);
      if (kind === undefined) continue;
      if (ROUTING_KINDS.has(kind)) routingKvs.push(kv);
      else if (POLICY_KINDS.has(kind)) policyKvs.push(kv);
    }
    let invalidChanged = false;
    const touched = [...routingKvs, ...policyKvs];
    for (const { key } of touched) invalidChanged = this.invalid.delete(key) || invalidChanged;
    // A whole batch is applied before any refusal is recorded, as the agent reports them.
    const refused: [string, string][] = [];
    for (const { key, value } of touched) {
      const table = this.#tables[keyKind(key) as Kind];
      const reason = table.apply(key, value);
      if (reason !== undefined) refused.push([key, reason]);
    }
    for (const [key, reason] of refused) this.invalid.set(key, reason);
    invalidChanged ||= refused.length > 0;
    return { routing: routingKvs.length > 0, policy: policyKvs.length > 0, invalid: invalidChanged };
  }
}
