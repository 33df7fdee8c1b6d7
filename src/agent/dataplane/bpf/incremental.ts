// The bpf dataplane's compile across applies: what encodePolicy(mapsOf(calc)) gives, but each
// endpoint's programs are compiled and encoded again only when an input of theirs changed. An
// endpoint's programs are a pure function of its plan, the rule programs of the policies and
// profiles it names, the members of the sets those rules test and the host config; the
// calculator keeps a plan and a rule program the very same object until it changes, and set
// members are compared as text. A changed endpoint is compiled alone (compileMaps over a
// snapshot holding just its plan: the same instructions, since sets are named by content), and
// sets already encoded are not parsed again. Equality with a fresh compile is a property test
// (test/unit/bpf-incremental.test.ts).

import {
  allTierLists,
  type EndpointPlan,
  type HostPolicyConfig,
  type PolicyCalculator,
  type RuleProgram,
} from '../../calc/index.js';
import { compileMaps } from '../maps/compile.js';
import { type DataplaneSnapshot, snapshotOf } from '../rules/snapshot.js';
import {
  assignInterfaces,
  type EncodedPolicy,
  type EncodeOptions,
  Encoder,
  type EndpointPrograms,
  type OpTemplate,
  stagePrograms,
} from './encode.js';
import type { SetEntry } from './layout.js';

interface Entry {
  readonly plan: EndpointPlan;
  readonly hostConfig: HostPolicyConfig;
  /** The rule programs the plan named, in order (undefined: missing). */
  readonly rules: readonly (RuleProgram | undefined)[];
  /** Members (as text) of every set the compiled rules test, by set id / named-port key. */
  readonly members: ReadonlyMap<string, string>;
  readonly encoded: EndpointPrograms;
  readonly programs: ReadonlyMap<string, readonly OpTemplate[]>;
  readonly sets: ReadonlyMap<string, readonly SetEntry[]>;
}

export interface CompileStats {
  /** Endpoints whose programs were compiled again / reused. */
  compiled: number;
  reused: number;
}

/** Policy ids then profile names a plan's programs read, in a fixed order. */
function ruleRefs(plan: EndpointPlan): string[] {
  const out: string[] = [];
  for (const tiers of allTierLists(plan))
    for (const t of tiers) for (const p of t.policies) out.push(`p:${p.id}`);
  for (const dir of [plan.ingress, plan.egress]) for (const name of dir.profiles) out.push(`r:${name}`);
  return out;
}

/**
 * The members of an IP set ('i:' + id) or a named-port / service set ('n:' + key) as text (a
 * service id names one of each).
 */
function membersText(snapshot: DataplaneSnapshot, key: string): string {
  const id = key.slice(2);
  if (key.startsWith('i:')) return snapshot.ipSets.get(id)?.join(' ') ?? '-';
  const np = snapshot.namedPortSets?.get(id);
  return np === undefined ? '-' : np.map((m) => `${m.net},${m.protocol ?? ''},${m.port}`).join(' ');
}

export class BpfCompiler {
  readonly #entries = new Map<string, Entry>();
  /** Encoded sets by name, from every entry kept: a set shared by endpoints is parsed once. */
  #sets = new Map<string, readonly SetEntry[]>();
  stats: CompileStats = { compiled: 0, reused: 0 };

  constructor(private readonly options: EncodeOptions = {}) {}

  compile(calc: PolicyCalculator): EncodedPolicy {
    const snapshot = snapshotOf(calc);
    const hostConfig = snapshot.hostConfig ?? calc.hostConfig;
    const rulesOf = (refs: readonly string[]) =>
      refs.map((r) =>
        r.startsWith('p:') ? snapshot.policies.get(r.slice(2)) : snapshot.profiles.get(r.slice(2)),
      );
    const stats: CompileStats = { compiled: 0, reused: 0 };
    const entries = new Map<string, Entry>();
    const plans = [...snapshot.plans].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const plan of plans) {
      const old = this.#entries.get(plan.id);
      const rules = rulesOf(ruleRefs(plan));
      const fresh =
        old !== undefined &&
        old.plan === plan &&
        old.hostConfig === hostConfig &&
        old.rules.length === rules.length &&
        old.rules.every((r, i) => r === rules[i]) &&
        [...old.members].every(([key, text]) => membersText(snapshot, key) === text);
      if (fresh) {
        entries.set(plan.id, old);
        stats.reused++;
        continue;
      }
      entries.set(plan.id, this.#compileOne(calc, snapshot, plan, hostConfig, rules));
      stats.compiled++;
    }
    this.#entries.clear();
    for (const [id, e] of entries) this.#entries.set(id, e);
    const programs = new Map<string, readonly OpTemplate[]>();
    const sets = new Map<string, readonly SetEntry[]>();
    for (const e of entries.values()) {
      for (const [name, ops] of e.programs) programs.set(name, ops);
      for (const [name, s] of e.sets) sets.set(name, s);
    }
    this.#sets = sets;
    this.stats = stats;
    const warnings: string[] = [];
    return {
      endpoints: assignInterfaces(
        [...entries.values()].map((e) => e.encoded),
        hostConfig,
        warnings,
      ),
      programs,
      sets,
      warnings,
      workloadIfacePrefix: this.options.workloadIfacePrefix ?? 'cali',
    };
  }

  #compileOne(
    calc: PolicyCalculator,
    snapshot: DataplaneSnapshot,
    plan: EndpointPlan,
    hostConfig: HostPolicyConfig,
    rules: readonly (RuleProgram | undefined)[],
  ): Entry {
    const maps = compileMaps(
      { ...snapshot, plans: [plan] },
      { node: calc.nodeName, ...(snapshot.namedPortSets ? { namedPortSets: snapshot.namedPortSets } : {}) },
    );
    const enc = new Encoder(maps, this.#sets);
    const ep = maps.endpoints[0]!;
    const encoded: EndpointPrograms = {
      id: ep.id,
      kind: ep.kind,
      interfaceName: ep.interfaceName,
      programs: stagePrograms(enc, ep, hostConfig),
    };
    const members = new Map<string, string>();
    for (const s of maps.ipSets) members.set(`i:${s.id}`, membersText(snapshot, `i:${s.id}`));
    for (const s of maps.namedPortSets) members.set(`n:${s.key}`, membersText(snapshot, `n:${s.key}`));
    return { plan, hostConfig, rules, members, encoded, programs: enc.programs, sets: enc.sets };
  }
}
