// The calc output a dataplane renders, kept up to date from each CalcUpdate instead of re-read
// from the calculator: a plan, and the programs its policies and profiles name, change only
// when the update names them; a selector set only when its members did (applying the change,
// not re-reading the set); a named-port set only when an endpoint it could hold changed; a
// service set only when its service did. So one policy edit or one remote relabel costs work
// in proportion to the change, and every unchanged part stays the same object (the render
// cache reuses its chains and sets by identity). Equal to snapshotOf(calc) after every update
// (test/unit/render-cache.test.ts); a feed that missed an update rebuilds from the calculator.

import { selectorOf } from '../../../model/values/policy.js';
import {
  allTierLists,
  type CalcUpdate,
  type EndpointPlan,
  type EndpointValue,
  LabelIndex,
  type PolicyCalculator,
  type RuleProgram,
  serviceOfSetId,
  serviceSetId,
} from '../../calc/index.js';
import { type NamedPortMember, namedPortKey } from '../named-port.js';
import type { DataplaneSnapshot } from './snapshot.js';

/** What one program's rules use beyond selector sets (those the calculator keeps). */
interface Uses {
  /** Named-port set id -> its selector's text. */
  readonly namedPorts: ReadonlyMap<string, string>;
  /** Source service set ids (address sets) / destination ones ((address, port) sets). */
  readonly srcServices: readonly string[];
  readonly dstServices: readonly string[];
}

/** The policy and profile programs a plan names. */
interface PlanRefs {
  readonly policies: readonly string[];
  readonly profiles: readonly string[];
}

const NO_REFS: PlanRefs = { policies: [], profiles: [] };

function refsOf(plan: EndpointPlan): PlanRefs {
  const policies = new Set<string>();
  const profiles = new Set<string>();
  for (const tiers of allTierLists(plan))
    for (const t of tiers) for (const p of t.policies) policies.add(p.id);
  for (const dir of [plan.ingress, plan.egress]) for (const name of dir.profiles) profiles.add(name);
  return { policies: [...policies], profiles: [...profiles] };
}

function usesOf(prog: RuleProgram): Uses {
  const namedPorts = new Map<string, string>();
  const srcServices = new Set<string>();
  const dstServices = new Set<string>();
  for (const rule of [...prog.inbound, ...prog.outbound]) {
    for (const n of [
      ...rule.src.namedPorts,
      ...rule.src.notNamedPorts,
      ...rule.dst.namedPorts,
      ...rule.dst.notNamedPorts,
    ])
      namedPorts.set(namedPortKey(n), n.selector);
    for (const id of rule.src.ipSets) if (serviceOfSetId(id) !== undefined) srcServices.add(id);
    for (const id of rule.dst.ipPortSets ?? []) if (serviceOfSetId(id) !== undefined) dstServices.add(id);
  }
  return { namedPorts, srcServices: [...srcServices], dstServices: [...dstServices] };
}

/** Sorted `members` less `removed`, plus `added` (both sorted), without re-sorting. */
function applyChange(
  members: readonly string[],
  added: readonly string[],
  removed: readonly string[],
): readonly string[] {
  const gone = new Set(removed);
  const out: string[] = [];
  let j = 0;
  for (const m of members) {
    if (gone.has(m)) continue;
    while (j < added.length && added[j]! < m) out.push(added[j++]!);
    out.push(m);
  }
  while (j < added.length) out.push(added[j++]!);
  return out;
}

/** Whether the endpoint offers the same (net, port) members as before. */
const sameShape = (a: EndpointValue, b: EndpointValue): boolean =>
  a.nets.length === b.nets.length &&
  a.nets.every((n, i) => n === b.nets[i]) &&
  a.ports.length === b.ports.length &&
  a.ports.every((p, i) => {
    const q = b.ports[i]!;
    return p.name === q.name && p.protocol === q.protocol && p.port === q.port;
  });

const NOT_BUILT = -1;

export class SnapshotFeed {
  /** The calculator version this feed reflects; NOT_BUILT until the first snapshot. */
  #version = NOT_BUILT;
  readonly #plans = new Map<string, EndpointPlan>();
  readonly #planRefs = new Map<string, PlanRefs>();
  /** Program key ('policy:' id or 'profile:' name) -> number of local plans naming it. */
  readonly #refs = new Map<string, number>();
  readonly #policies = new Map<string, RuleProgram>();
  readonly #profiles = new Map<string, RuleProgram>();
  readonly #uses = new Map<string, Uses>();
  /** Named-port / service set id -> number of programs using it. */
  readonly #setRefs = new Map<string, number>();
  readonly #ipSets = new Map<string, readonly string[]>();
  readonly #portSets = new Map<string, readonly NamedPortMember[]>();
  /** Endpoints that declare ports, against the named-port sets' selectors (set id = selector id). */
  #named = this.#namedIndex();
  readonly #dirtyNamed = new Set<string>();
  /** The endpoints in that index, as last indexed. */
  readonly #withPorts = new Map<string, EndpointValue>();

  constructor(readonly calc: PolicyCalculator) {}

  /**
   * Takes one update of the calculator, the one after the last this feed saw. Before the first
   * snapshot, or after a missed update, nothing is kept: the next snapshot rebuilds.
   */
  update(u: CalcUpdate): void {
    if (this.#version === NOT_BUILT) return;
    if (u.version !== this.#version + 1) {
      this.#version = NOT_BUILT;
      return;
    }
    this.#version = u.version;
    for (const id of u.itemsChanged) this.#indexItem(id);
    for (const id of u.policyProgramChanges) this.#refreshProgram('policy', id);
    for (const name of u.profileProgramChanges) this.#refreshProgram('profile', name);
    for (const id of u.endpointPlanChanges) this.#setPlan(id, this.calc.plan(id));
    for (const id of u.ipSetsDeleted) this.#ipSets.delete(id);
    const created = new Set(u.ipSetsCreated);
    for (const id of created) this.#ipSets.set(id, this.calc.ipSetMembers(id));
    for (const c of u.ipSetChanges)
      if (!created.has(c.id))
        this.#ipSets.set(c.id, applyChange(this.#ipSets.get(c.id) ?? [], c.added, c.removed));
    for (const svc of u.servicesChanged) {
      this.#refreshService(serviceSetId(svc, false));
      this.#refreshService(serviceSetId(svc, true));
    }
  }

  /**
   * What the renderers read, as snapshotOf(calc) would give it. Its maps are this feed's own:
   * read them before the next update.
   */
  snapshot(): DataplaneSnapshot {
    if (this.#version !== this.calc.version) this.#rebuild();
    for (const id of this.#dirtyNamed) this.#materialise(id);
    this.#dirtyNamed.clear();
    return {
      plans: [...this.#plans.values()],
      policies: this.#policies,
      profiles: this.#profiles,
      ipSets: this.#ipSets,
      namedPortSets: this.#portSets,
      hostConfig: this.calc.hostConfig,
    };
  }

  #rebuild(): void {
    for (const m of [this.#plans, this.#planRefs, this.#refs, this.#policies, this.#profiles, this.#uses])
      m.clear();
    this.#setRefs.clear();
    this.#ipSets.clear();
    this.#portSets.clear();
    this.#dirtyNamed.clear();
    this.#withPorts.clear();
    this.#named = this.#namedIndex();
    for (const id of this.calc.model.endpoints.keys()) this.#indexItem(id);
    for (const [id, plan] of this.calc.plans()) this.#setPlan(id, plan);
    for (const id of this.calc.ipSetIds()) this.#ipSets.set(id, this.calc.ipSetMembers(id));
    this.#version = this.calc.version;
  }

  #namedIndex(): LabelIndex {
    return new LabelIndex((setId) => this.#dirtyNamed.add(setId));
  }

  /**
   * An endpoint that declares ports may be in named-port sets: a set it joins or leaves is
   * re-read (through the index's listener), and so is every set it stays in when its nets or
   * ports changed. A relabel that moves it in no set re-reads nothing.
   */
  #indexItem(id: string): void {
    const ep = this.calc.model.endpoints.get(id);
    const held = ep === undefined || ep.ports.length === 0 ? undefined : ep;
    const old = this.#withPorts.get(id);
    if (old !== undefined && (held === undefined || !sameShape(old, held)))
      for (const setId of this.#named.selectorsMatching(id)) this.#dirtyNamed.add(setId);
    this.#named.setItem(id, held === undefined ? undefined : (this.calc.labelsOf(id) ?? held.labels));
    if (held === undefined) this.#withPorts.delete(id);
    else this.#withPorts.set(id, held);
  }

  #materialise(setId: string): void {
    if (!this.#setRefs.has(setId)) return;
    const [protocol, name] = setId.split('/', 2);
    const members: NamedPortMember[] = [];
    for (const epId of this.#named.matchesOf(setId)) {
      const ep = this.calc.model.endpoints.get(epId)!;
      for (const p of ep.ports)
        if (p.name === name && p.protocol === protocol)
          for (const net of ep.nets) members.push({ net, port: p.port });
    }
    this.#portSets.set(setId, members);
  }

  #setPlan(id: string, plan: EndpointPlan | undefined): void {
    const before = this.#planRefs.get(id) ?? NO_REFS;
    const after = plan === undefined ? NO_REFS : refsOf(plan);
    // New references first, so a program both plans name is never dropped.
    for (const p of after.policies) this.#ref('policy', p, 1);
    for (const p of after.profiles) this.#ref('profile', p, 1);
    for (const p of before.policies) this.#ref('policy', p, -1);
    for (const p of before.profiles) this.#ref('profile', p, -1);
    if (plan === undefined) {
      this.#plans.delete(id);
      this.#planRefs.delete(id);
    } else {
      this.#plans.set(id, plan);
      this.#planRefs.set(id, after);
    }
  }

  #ref(kind: 'policy' | 'profile', id: string, d: 1 | -1): void {
    const key = `${kind}:${id}`;
    const n = (this.#refs.get(key) ?? 0) + d;
    if (n > 0) this.#refs.set(key, n);
    else this.#refs.delete(key);
    if (n === 1 && d === 1) this.#setProgram(kind, id, this.#programOf(kind, id));
    else if (n === 0) this.#setProgram(kind, id, undefined);
  }

  #programOf(kind: 'policy' | 'profile', id: string): RuleProgram | undefined {
    return kind === 'policy' ? this.calc.policyProgram(id) : this.calc.profileProgram(id);
  }

  /** A program changed in the calculator: re-read it if a local plan names it. */
  #refreshProgram(kind: 'policy' | 'profile', id: string): void {
    if (this.#refs.has(`${kind}:${id}`)) this.#setProgram(kind, id, this.#programOf(kind, id));
  }

  #setProgram(kind: 'policy' | 'profile', id: string, prog: RuleProgram | undefined): void {
    const key = `${kind}:${id}`;
    const programs = kind === 'policy' ? this.#policies : this.#profiles;
    if (programs.get(id) === prog) return;
    const uses = prog === undefined ? undefined : usesOf(prog);
    if (uses !== undefined) this.#use(uses, 1);
    const old = this.#uses.get(key);
    if (old !== undefined) this.#use(old, -1);
    if (prog === undefined) {
      programs.delete(id);
      this.#uses.delete(key);
    } else {
      programs.set(id, prog);
      this.#uses.set(key, uses!);
    }
  }

  #use(uses: Uses, d: 1 | -1): void {
    for (const [setId, selector] of uses.namedPorts)
      this.#refSet(setId, d, (on) => {
        this.#named.setSelector(setId, on ? selectorOf(selector) : undefined);
        if (on) this.#dirtyNamed.add(setId);
        else this.#portSets.delete(setId);
      });
    for (const setId of [...uses.srcServices, ...uses.dstServices])
      this.#refSet(setId, d, (on) => {
        if (on) this.#refreshService(setId);
        else {
          this.#ipSets.delete(setId);
          this.#portSets.delete(setId);
        }
      });
  }

  /** Counts a program's use of a set; `toggle` when the set comes into or goes out of use. */
  #refSet(setId: string, d: 1 | -1, toggle: (on: boolean) => void): void {
    const n = (this.#setRefs.get(setId) ?? 0) + d;
    if (n > 0) this.#setRefs.set(setId, n);
    else this.#setRefs.delete(setId);
    if (n === 1 && d === 1) toggle(true);
    else if (n === 0) toggle(false);
  }

  /** A service set in use reads its service's current members. */
  #refreshService(setId: string): void {
    if (!this.#setRefs.has(setId)) return;
    const svc = serviceOfSetId(setId)!;
    if (svc.withPorts) this.#portSets.set(setId, this.calc.servicePorts(svc.service));
    else this.#ipSets.set(setId, this.calc.serviceAddresses(svc.service));
  }
}
