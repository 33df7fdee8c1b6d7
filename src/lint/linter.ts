// Runs the rules over the KV model: lint() once over a list of KVs or a state map, and
// LintStage incrementally for the server and the agent (apply the same KVs they apply, then
// ask for the findings and for what changed since the last time they asked). Rule groups
// are recomputed only when their inputs changed: routing (nodes, pools, BGP) or policy
// (tiers, policies); endpoint and IPAM churn never triggers work.

import { keyKind } from '../model/keys.js';
import type { JsonValue, KV } from '../model/types.js';
import { compareFindings, type Finding, findingId, resourceRef } from './finding.js';
import { type LintOptions, type ResolvedLintOptions, resolveLintOptions } from './options.js';
import { bgpPeerRules, fullMeshRule } from './rules/bgp.js';
import { poolNetworkRule, poolOverlapRule, sameCidrPools } from './rules/ippool.js';
import { tierRules } from './rules/tiers.js';
import { LintView } from './view.js';

export interface FindingChanges {
  /** Findings that are new since the last changedFindings() call. */
  readonly added: readonly Finding[];
  /** Same finding (rule, resource, related) with a different message, e.g. a new count. */
  readonly updated: readonly Finding[];
  /** Findings that no longer hold. */
  readonly cleared: readonly Finding[];
}

/** A resource reference for a model key whose value did not parse. */
function refOfKey(key: string): string {
  const seg = key.split('/').map(decodeURIComponent);
  const last = seg[seg.length - 1] ?? key;
  switch (keyKind(key)) {
    case 'node':
      return resourceRef('Node', undefined, last);
    case 'bgpPeer':
      return resourceRef('BGPPeer', undefined, last);
    case 'bgpFilter':
      return resourceRef('BGPFilter', undefined, last);
    case 'bgpConfiguration':
      return resourceRef('BGPConfiguration', undefined, last);
    case 'ipPool':
      return resourceRef('IPPool', undefined, last.replace(/-(\d+)$/, '/$1'));
    case 'tier':
      return resourceRef('Tier', undefined, last);
    case 'policy': // /calico/v1/policy/<Kind>/[ns/]name
      return seg.length === 7
        ? resourceRef(seg[4]!, seg[5], seg[6]!)
        : resourceRef(seg[4] ?? 'Policy', undefined, last);
    default:
      return key;
  }
}

export class LintStage {
  readonly #view = new LintView();
  readonly #opts: ResolvedLintOptions;
  #routing: Finding[] = [];
  #policy: Finding[] = [];
  #invalid: Finding[] = [];
  #dirty = { routing: true, policy: true, invalid: true };
  /** What changedFindings() last reported, by finding id. */
  #reported = new Map<string, Finding>();

  /** Throws LintOptionsError on bad options. */
  constructor(opts: LintOptions = {}) {
    this.#opts = resolveLintOptions(opts);
  }

  /** Applies KV updates (null = delete); keys no rule reads are ignored cheaply. */
  apply(kvs: readonly KV[]): void {
    const change = this.#view.apply(kvs);
    this.#dirty.routing ||= change.routing;
    this.#dirty.policy ||= change.policy;
    this.#dirty.invalid ||= change.invalid || change.routing || change.policy;
  }

  /** Every current finding, errors first. */
  findings(): Finding[] {
    if (this.#dirty.routing) {
      const r = this.#view.routing;
      this.#routing = [
        ...bgpPeerRules(r),
        ...fullMeshRule(r, this.#opts),
        ...poolOverlapRule(r),
        ...poolNetworkRule(r, this.#opts),
      ];
    }
    if (this.#dirty.policy) this.#policy = tierRules(this.#view.policy);
    if (this.#dirty.invalid)
      this.#invalid = [...this.#view.invalid].map(([key, reason]) => ({
        rule: 'invalid-resource',
        severity: 'error' as const,
        resource: refOfKey(key),
        related: [],
        message: `The model value at ${key} is invalid and is treated as deleted: ${reason}.`,
        fix: 'Correct the resource in the datastore; its converter or the agent rejected it.',
      }));
    this.#dirty = { routing: false, policy: false, invalid: false };
    return [...this.#routing, ...this.#policy, ...this.#invalid].sort(compareFindings);
  }

  /** What was added, updated or cleared since the previous call (the first call: all added). */
  changedFindings(): FindingChanges {
    const now = new Map(this.findings().map((f) => [findingId(f), f]));
    const added: Finding[] = [];
    const updated: Finding[] = [];
    const cleared: Finding[] = [];
    for (const [id, f] of now) {
      const before = this.#reported.get(id);
      if (before === undefined) added.push(f);
      else if (before.message !== f.message || before.severity !== f.severity) updated.push(f);
    }
    for (const [id, f] of this.#reported) if (!now.has(id)) cleared.push(f);
    this.#reported = now;
    return { added, updated, cleared };
  }
}

/**
 * Lints a whole state at once. Given a list of KVs (e.g. converted manifests, in file order;
 * a later value for a key replaces an earlier one), it also reports what only the list
 * shows: two IPPools with the same CIDR (the model keys pools by CIDR).
 */
export function lint(
  input: readonly KV[] | ReadonlyMap<string, JsonValue>,
  opts: LintOptions = {},
): Finding[] {
  const stage = new LintStage(opts);
  const kvs: KV[] = Array.isArray(input)
    ? [...(input as readonly KV[])]
    : [...(input as ReadonlyMap<string, JsonValue>)].map(([key, value]) => ({ key, value }));
  stage.apply(kvs);
  const extra = Array.isArray(input) ? sameCidrPools(kvs.filter((kv) => keyKind(kv.key) === 'ipPool')) : [];
  return [...stage.findings(), ...extra].sort(compareFindings);
}
