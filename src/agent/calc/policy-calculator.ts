// The node agent's policy calculation: KV updates in, per-endpoint plans, rule programs and
// selector IP set membership out, all maintained incrementally (Felix's calc graph, policy
// part: ActiveRulesCalculator + RuleScanner + label index + PolicyResolver). Pure: no I/O.

import type { KV } from '../../model/types.js';
import { type EndpointPlan, resolvePlan } from './endpoint-plan.js';
import { type IpSetChange, IpSetIndex } from './ip-set-index.js';
import { addTo, LabelIndex } from './label-index.js';
import { PolicyModel } from './policy-model.js';
import { type RuleProgram, scanRules } from './rule-scan.js';
import type { EndpointValue, ModelRule, PolicyValue } from './values.js';

export interface CalcUpdate {
  /** Selector IP sets that came into use / went out of use in this update. */
  readonly ipSetsCreated: readonly string[];
  readonly ipSetsDeleted: readonly string[];
  /** Net member changes per live set (a created set's initial members are here). */
  readonly ipSetChanges: readonly IpSetChange[];
  /** Local endpoints whose plan was added, changed or removed, sorted. */
  readonly endpointPlanChanges: readonly string[];
  /** Policies (model keys) and profiles (names) whose rule program was added, changed or removed. */
  readonly policyProgramChanges: readonly string[];
  readonly profileProgramChanges: readonly string[];
  /** Values that did not parse and were treated as deletions. */
  readonly invalid: readonly { key: string; reason: string }[];
}

interface Program {
  readonly program: RuleProgram;
  readonly json: string;
  readonly sets: readonly string[];
}

/** The parts of a policy that decide where it sorts and which endpoints/directions it governs. */
const policyMeta = (p: PolicyValue): string =>
  JSON.stringify([p.tier, p.order, p.ingress, p.egress, p.doNotTrack, p.preDNAT, p.kind]);

export class PolicyCalculator {
  readonly nodeName: string;
  readonly model = new PolicyModel();
  readonly #ipSets = new IpSetIndex();
  readonly #dirty = new Set<string>();
  /** Policy selectors against this node's endpoints. */
  readonly #policyMatch = new LabelIndex((_policy, endpoint) => this.#dirty.add(endpoint));
  readonly #policyPrograms = new Map<string, Program>();
  readonly #profilePrograms = new Map<string, Program>();
  readonly #policyMetas = new Map<string, string>();
  readonly #labels = new Map<string, Readonly<Record<string, string>>>();
  readonly #itemProfiles = new Map<string, readonly string[]>();
  readonly #itemsByProfile = new Map<string, Set<string>>();
  readonly #plans = new Map<string, EndpointPlan>();
  readonly #planJson = new Map<string, string>();

  constructor(nodeName: string) {
    if (nodeName === '') throw new TypeError('PolicyCalculator: nodeName is required');
    this.nodeName = nodeName;
  }

  apply(kvs: readonly KV[]): CalcUpdate {
    const delta = this.model.apply(kvs);
    const policyChanges: string[] = [];
    const profileChanges: string[] = [];
    const relabel = new Set<string>();

    for (const id of delta.policies) {
      const p = this.model.policies.get(id);
      if (this.#updateProgram(this.#policyPrograms, id, p)) policyChanges.push(id);
      const meta = p === undefined ? undefined : policyMeta(p);
      if (meta !== this.#policyMetas.get(id)) {
        for (const ep of this.#policyMatch.matchesOf(id)) this.#dirty.add(ep);
        if (meta === undefined) this.#policyMetas.delete(id);
        else this.#policyMetas.set(id, meta);
      }
      this.#policyMatch.setSelector(id, p?.selector);
    }
    for (const name of delta.profiles) {
      const p = this.model.profiles.get(name);
      if (this.#updateProgram(this.#profilePrograms, name, p)) profileChanges.push(name);
      for (const item of this.#itemsByProfile.get(name) ?? []) relabel.add(item);
    }
    for (const name of delta.tiers)
      for (const p of this.model.policies.values())
        if (p.tier === name) for (const ep of this.#policyMatch.matchesOf(p.id)) this.#dirty.add(ep);

    for (const id of new Set([...delta.endpoints, ...delta.networkSets, ...relabel])) this.#updateItem(id);
    for (const id of delta.endpoints) this.#dirty.add(id);

    const planChanges: string[] = [];
    for (const id of this.#dirty) if (this.#refreshPlan(id)) planChanges.push(id);
    this.#dirty.clear();
    const sets = this.#ipSets.take();
    return {
      ipSetsCreated: sets.created,
      ipSetsDeleted: sets.deleted,
      ipSetChanges: sets.changes,
      endpointPlanChanges: planChanges.sort(),
      policyProgramChanges: policyChanges.sort(),
      profileProgramChanges: profileChanges.sort(),
      invalid: delta.invalid,
    };
  }

  /** The plan of a local endpoint (same object until it changes). */
  plan(endpointId: string): EndpointPlan | undefined {
    return this.#plans.get(endpointId);
  }

  plans(): ReadonlyMap<string, EndpointPlan> {
    return this.#plans;
  }

  /** The plan of any known endpoint: cached for local ones, computed for the others. */
  planFor(endpointId: string): EndpointPlan | undefined {
    const cached = this.#plans.get(endpointId);
    if (cached !== undefined) return cached;
    const ep = this.model.endpoints.get(endpointId);
    if (ep === undefined) return undefined;
    const labels = this.labelsOf(endpointId)!;
    const matching = [...this.model.policies.values()].filter((p) => p.selector.evaluate(labels));
    return resolvePlan(ep, matching, this.model.tiers);
  }

  policyProgram(id: string): RuleProgram | undefined {
    return this.#policyPrograms.get(id)?.program;
  }

  profileProgram(name: string): RuleProgram | undefined {
    return this.#profilePrograms.get(name)?.program;
  }

  /** Effective labels (own over inherited) of an endpoint or network set. */
  labelsOf(itemId: string): Readonly<Record<string, string>> | undefined {
    return this.#labels.get(itemId);
  }

  ipSetIds(): string[] {
    return this.#ipSets.ids();
  }

  ipSetMembers(id: string): string[] {
    return this.#ipSets.members(id);
  }

  ipSetMemberCounts(id: string): ReadonlyMap<string, number> | undefined {
    return this.#ipSets.memberSet(id);
  }

  /** Selector evaluations done by the IP set index so far. */
  get ipSetEvaluations(): number {
    return this.#ipSets.evaluations;
  }

  #updateProgram(
    programs: Map<string, Program>,
    id: string,
    owner: { inbound: readonly ModelRule[]; outbound: readonly ModelRule[] } | undefined,
  ): boolean {
    const old = programs.get(id);
    if (owner === undefined) {
      if (old === undefined) return false;
      for (const s of old.sets) this.#ipSets.unref(s);
      programs.delete(id);
      return true;
    }
    const { program, used } = scanRules(id, owner.inbound, owner.outbound);
    const json = JSON.stringify(program);
    if (old?.json === json) return false;
    // New references first, so a set used by both versions never drops to zero.
    for (const sel of used.values()) this.#ipSets.ref(sel);
    for (const s of old?.sets ?? []) this.#ipSets.unref(s);
    programs.set(id, { program, json, sets: [...used.keys()] });
    return true;
  }

  #updateItem(id: string): void {
    const item:
      | EndpointValue
      | { nets: readonly string[]; labels: Record<string, string>; profileIds: readonly string[] }
      | undefined = this.model.endpoints.get(id) ?? this.model.networkSets.get(id);
    for (const prof of this.#itemProfiles.get(id) ?? []) this.#itemsByProfile.get(prof)?.delete(id);
    if (item === undefined) {
      this.#itemProfiles.delete(id);
      this.#labels.delete(id);
      this.#ipSets.setItem(id, undefined);
      this.#policyMatch.setItem(id, undefined);
      return;
    }
    this.#itemProfiles.set(id, item.profileIds);
    for (const prof of item.profileIds) addTo(this.#itemsByProfile, prof, id);
    const labels = Object.freeze(this.model.effectiveLabels(item));
    this.#labels.set(id, labels);
    this.#ipSets.setItem(id, { labels, members: item.nets });
    const local = 'node' in item && item.node === this.nodeName;
    this.#policyMatch.setItem(id, local ? labels : undefined);
  }

  #refreshPlan(id: string): boolean {
    const ep = this.model.endpoints.get(id);
    if (ep === undefined || ep.node !== this.nodeName) {
      this.#planJson.delete(id);
      return this.#plans.delete(id);
    }
    const matching = [...this.#policyMatch.selectorsMatching(id)].map((pid) => this.model.policies.get(pid)!);
    const plan = resolvePlan(ep, matching, this.model.tiers);
    const json = JSON.stringify(plan);
    if (this.#planJson.get(id) === json) return false;
    this.#plans.set(id, plan);
    this.#planJson.set(id, json);
    return true;
  }
}
