// The part of the KV model the rules read, kept incrementally: the routing view (nodes,
// pools, BGP resources) and the policy view (tiers, policies) from agent/calc, so the rules
// see values exactly as the agent parses them. Endpoints, blocks and other high-churn keys
// are never stored: no rule needs them, and the server runs this over the whole state.

import { PolicyModel } from '../agent/calc/policy-model.js';
import { RoutingState } from '../agent/calc/routing/state.js';
import { keyKind } from '../model/keys.js';
import type { KV } from '../model/types.js';

/** Which rule inputs one apply() touched. */
export interface ViewChange {
  readonly routing: boolean;
  readonly policy: boolean;
  readonly invalid: boolean;
}

const ROUTING_KINDS = new Set(['node', 'ipPool', 'bgpConfiguration', 'bgpPeer', 'bgpFilter']);
const POLICY_KINDS = new Set(['tier', 'policy']);

export class LintView {
  readonly routing = new RoutingState();
  readonly policy = new PolicyModel();
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
    if (routingKvs.length > 0) {
      const { invalid } = this.routing.apply(routingKvs);
      for (const key of invalid) this.invalid.set(key, 'the value does not parse');
      invalidChanged ||= invalid.length > 0;
    }
    if (policyKvs.length > 0) {
      const delta = this.policy.apply(policyKvs);
      for (const { key, reason } of delta.invalid) this.invalid.set(key, reason);
      invalidChanged ||= delta.invalid.length > 0;
    }
    return { routing: routingKvs.length > 0, policy: policyKvs.length > 0, invalid: invalidChanged };
  }
}
