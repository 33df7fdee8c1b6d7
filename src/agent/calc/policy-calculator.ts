// The node agent's policy calculation: KV updates in, per-endpoint plans, rule programs and
// selector IP set membership out, all maintained incrementally (Felix's calc graph, policy
// part: ActiveRulesCalculator + RuleScanner + label index + PolicyResolver). Pure: no I/O.
// Rule programs exist for every policy and profile, but IP set membership is kept only for
// the active sets: those used by policies and profiles that the local plans refer to (as in
// felix/calc/active_rules_calculator.go). Other sets are answered on demand (ipSetContains).

import { anyContains } from '../../model/net/cidr.js';
import type { Ip } from '../../model/net/ip.js';
import type { Selector } from '../../model/selector/index.js';
import type { KV } from '../../model/types.js';
import type { EndpointValue } from '../../model/values/endpoint.js';
import type { ModelRule, PolicyValue } from '../../model/values/policy.js';
import { allTierLists, type EndpointPlan, resolvePlan } from './endpoint-plan.js';
import { HostConfigIndex, type HostPolicyConfig } from './host-config.js';
import { type IpSetChange, IpSetIndex } from './ip-set-index.js';
import { addTo, LabelIndex } from './label-index.js';
import { PolicyModel } from './policy-model.js';
import { type RuleProgram, scanRules } from './rule-scan.js';
import { ServiceIndex, type ServicePortMember, serviceOfSetId } from './service-index.js';

export interface CalcUpdate {
  /** This update's number: the calculator's version after it (1 for the first apply). */
  readonly version: number;
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
  /** The host-endpoint config (failsafe ports, DefaultEndpointToHostAction) changed. */
  readonly hostConfigChanged: boolean;
  /** Services (`namespace/name`) whose EndpointSlices changed, sorted. */
  readonly servicesChanged: readonly string[];
  /**
   * Endpoints and network sets (any node) added, changed, removed, or relabelled through a
   * profile, sorted: what a consumer keeping its own per-item index (named ports) re-reads.
   */
  readonly itemsChanged: readonly string[];
}

interface Program {
  readonly program: RuleProgram;
  readonly json: string;
  /** Selector IP sets the program uses (id -> selector). */
  readonly sets: ReadonlyMap<string, Selector>;
}

const policyKey = (id: string): string => `policy:${id}`;
const profileKey = (name: string): string => `profile:${name}`;

/** The parts of a policy that decide where it sorts and which endpoints/directions it governs. */
const policyMeta = (p: PolicyValue): string =>
  JSON.stringify([p.tier, p.order, p.ingress, p.egress, p.doNotTrack, p.preDNAT, p.applyOnForward, p.kind]);

export class PolicyCalculator {
  readonly nodeName: string;
  readonly model = new PolicyModel();
  readonly #hostConfig: HostConfigIndex;
  readonly #ipSets = new IpSetIndex();
  readonly #services = new ServiceIndex();
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
  /** Local endpoint -> the policy/profile keys its plan refers to. */
  readonly #planRefs = new Map<string, readonly string[]>();
  /** Policy/profile key -> number of local plans referring to it (active when present). */
  readonly #active = new Map<string, number>();
  /** Every set id used by some program (active or not) -> selector and number of programs. */
  readonly #knownSets = new Map<string, { readonly sel: Selector; n: number }>();
  #version = 0;

  constructor(nodeName: string) {
    if (nodeName === '') throw new TypeError('PolicyCalculator: nodeName is required');
    this.nodeName = nodeName;
    this.#hostConfig = new HostConfigIndex(nodeName);
  }

  /** Failsafe ports and DefaultEndpointToHostAction in force on this node. */
  get hostConfig(): HostPolicyConfig {
    return this.#hostConfig.config;
  }

  /** Applies so far: a consumer that saw every update up to this one is up to date. */
  get version(): number {
    return this.#version;
  }

  apply(kvs: readonly KV[]): CalcUpdate {
    const delta = this.model.apply(kvs);
    let configSeen = false;
    const services = new Set<string>();
    const invalid = [...delta.invalid];
    for (const { key, value } of kvs) {
      if (this.#hostConfig.take(key, value)) configSeen = true;
      const t = this.#services.take(key, value);
      for (const svc of t.services) services.add(svc);
      if (t.invalid !== undefined) invalid.push({ key, reason: t.invalid });
    }
    const hostConfigChanged = configSeen && this.#hostConfig.refresh();
    const policyChanges: string[] = [];
    const profileChanges: string[] = [];
    const relabel = new Set<string>();

    for (const id of delta.policies) {
      const p = this.model.policies.get(id);
      if (this.#updateProgram(this.#policyPrograms, policyKey(id), id, p)) policyChanges.push(id);
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
      if (this.#updateProgram(this.#profilePrograms, profileKey(name), name, p)) profileChanges.push(name);
      for (const item of this.#itemsByProfile.get(name) ?? []) relabel.add(item);
    }
    for (const name of delta.tiers)
      for (const p of this.model.policies.values())
        if (p.tier === name) for (const ep of this.#policyMatch.matchesOf(p.id)) this.#dirty.add(ep);

    const items = new Set([...delta.endpoints, ...delta.networkSets, ...relabel]);
    for (const id of items) this.#updateItem(id);
    for (const id of delta.endpoints) this.#dirty.add(id);

    const planChanges: string[] = [];
    for (const id of this.#dirty) if (this.#refreshPlan(id)) planChanges.push(id);
    this.#dirty.clear();
    const sets = this.#ipSets.take();
    return {
      version: ++this.#version,
      ipSetsCreated: sets.created,
      ipSetsDeleted: sets.deleted,
      ipSetChanges: sets.changes,
      endpointPlanChanges: planChanges.sort(),
      policyProgramChanges: policyChanges.sort(),
      profileProgramChanges: profileChanges.sort(),
      invalid,
      hostConfigChanged,
      servicesChanged: [...services].sort(),
      itemsChanged: [...items].sort(),
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

  /** The active selector IP sets: those used by programs the local plans refer to. */
  ipSetIds(): string[] {
    return this.#ipSets.ids();
  }

  /** Members of an active set, sorted (empty for an inactive or unknown set). */
  ipSetMembers(id: string): string[] {
    return this.#ipSets.members(id);
  }

  /** Raw member counts of an active set (undefined for an inactive or unknown set). */
  ipSetMemberCounts(id: string): ReadonlyMap<string, number> | undefined {
    return this.#ipSets.memberSet(id);
  }

  /**
   * Whether an address is in a selector or service set, active or not: a service set answers
   * from the service's EndpointSlices; an active selector set from its members; for any other
   * set used by a known program the selector is evaluated against the endpoints and network
   * sets owning the address. False for an unknown set.
   */
  ipSetContains(id: string, ip: Ip): boolean {
    const svc = serviceOfSetId(id);
    if (svc !== undefined) return anyContains(this.#services.addresses(svc.service), ip);
    const members = this.#ipSets.memberSet(id);
    if (members !== undefined) return anyContains([...members.keys()], ip);
    const sel = this.#knownSets.get(id)?.sel;
    if (sel === undefined) return false;
    for (const items of [this.model.endpoints, this.model.networkSets])
      for (const item of items.values()) {
        if (!anyContains(item.nets, ip)) continue;
        const labels = this.#labels.get(item.id);
        if (labels !== undefined && sel.evaluate(labels)) return true;
      }
    return false;
  }

  /** A service's endpoint addresses (/32s, sorted): what a source `services` match allows. */
  serviceAddresses(service: string): string[] {
    return this.#services.addresses(service);
  }

  /** A service's (address, protocol, port) members: what a destination `services` match allows. */
  servicePorts(service: string): ServicePortMember[] {
    return this.#services.ipPorts(service);
  }

  /** Selector evaluations done by the IP set index so far. */
  get ipSetEvaluations(): number {
    return this.#ipSets.evaluations;
  }

  #updateProgram(
    programs: Map<string, Program>,
    key: string,
    id: string,
    owner: { inbound: readonly ModelRule[]; outbound: readonly ModelRule[] } | undefined,
  ): boolean {
    const old = programs.get(id);
    const active = this.#active.has(key);
    if (owner === undefined) {
      if (old === undefined) return false;
      if (active) for (const s of old.sets.keys()) this.#ipSets.unref(s);
      this.#forget(old.sets);
      programs.delete(id);
      return true;
    }
    const { program, used } = scanRules(id, owner.inbound, owner.outbound);
    const json = JSON.stringify(program);
    if (old?.json === json) return false;
    // New references first, so a set used by both versions never drops to zero.
    if (active) for (const sel of used.values()) this.#ipSets.ref(sel);
    for (const [s, sel] of used) {
      const known = this.#knownSets.get(s);
      if (known === undefined) this.#knownSets.set(s, { sel, n: 1 });
      else known.n++;
    }
    if (old !== undefined) {
      if (active) for (const s of old.sets.keys()) this.#ipSets.unref(s);
      this.#forget(old.sets);
    }
    programs.set(id, { program, json, sets: used });
    return true;
  }

  #forget(sets: ReadonlyMap<string, Selector>): void {
    for (const s of sets.keys()) {
      const known = this.#knownSets.get(s);
      if (known === undefined) continue;
      if (--known.n === 0) this.#knownSets.delete(s);
    }
  }

  /** The program behind a policy/profile key. */
  #programOf(key: string): Program | undefined {
    return key.startsWith('policy:')
      ? this.#policyPrograms.get(key.slice('policy:'.length))
      : this.#profilePrograms.get(key.slice('profile:'.length));
  }

  /** Points a local endpoint's references at a new plan (or none), (de)activating programs. */
  #setPlanRefs(endpointId: string, plan: EndpointPlan | undefined): void {
    const keys = new Set<string>();
    if (plan !== undefined) {
      for (const tiers of allTierLists(plan))
        for (const t of tiers) for (const p of t.policies) keys.add(policyKey(p.id));
      for (const dir of [plan.ingress, plan.egress])
        for (const name of dir.profiles) keys.add(profileKey(name));
    }
    const old = this.#planRefs.get(endpointId) ?? [];
    // New references first, so a program used by both plans stays active.
    for (const k of keys) {
      const n = this.#active.get(k) ?? 0;
      this.#active.set(k, n + 1);
      if (n === 0) for (const sel of this.#programOf(k)?.sets.values() ?? []) this.#ipSets.ref(sel);
    }
    for (const k of old) {
      const n = this.#active.get(k) ?? 0;
      if (n > 1) {
        this.#active.set(k, n - 1);
        continue;
      }
      this.#active.delete(k);
      for (const s of this.#programOf(k)?.sets.keys() ?? []) this.#ipSets.unref(s);
    }
    if (keys.size === 0) this.#planRefs.delete(endpointId);
    else this.#planRefs.set(endpointId, [...keys]);
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
      this.#setPlanRefs(id, undefined);
      return this.#plans.delete(id);
    }
    const matching = [...this.#policyMatch.selectorsMatching(id)].map((pid) => this.model.policies.get(pid)!);
    const plan = resolvePlan(ep, matching, this.model.tiers);
    const json = JSON.stringify(plan);
    if (this.#planJson.get(id) === json) return false;
    this.#setPlanRefs(id, plan);
    this.#plans.set(id, plan);
    this.#planJson.set(id, json);
    return true;
  }
}
