// The bpf dataplane's compile across applies: what encodePolicy(mapsOf(calc)) gives, but each
// endpoint's programs are compiled and encoded again only when an input of theirs changed. An
// endpoint's programs are a pure function of its plan, the rule programs of the policies and
// profiles it names, the members of the sets those rules test and the host config; the
// calculator keeps a plan and a rule program the very same object until it changes, and each
// set's members are compared with the last ones seen (a version per set). The endpoints that
// changed are compiled together (compileMaps over a snapshot holding just their plans: the same
// instructions, since sets are named by content), and sets already encoded are not parsed
// again. Equality with a fresh compile is a property test (test/unit/bpf-incremental.test.ts).

import {
  allTierLists,
  type EndpointPlan,
  type HostPolicyConfig,
  type PolicyCalculator,
  type RuleProgram,
} from '../../calc/index.js';
import { compileMaps } from '../maps/compile.js';
import { namedPortKey } from '../named-port.js';
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
import { namesOf } from './plan.js';

interface Entry {
  readonly plan: EndpointPlan;
  readonly hostConfig: HostPolicyConfig;
  /** The rule programs the plan named, in order (undefined: missing). */
  readonly rules: readonly (RuleProgram | undefined)[];
  /** The version of every set those rules test, by setKey. */
  readonly sets: ReadonlyMap<string, number>;
  readonly encoded: EndpointPrograms;
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
 * The sets a rule program tests: 'i:' + IP set id (snapshot.ipSets), 'n:' + named-port key or
 * service id (snapshot.namedPortSets). Once per program object.
 */
const setKeysOf = (() => {
  const memo = new WeakMap<RuleProgram, readonly string[]>();
  return (prog: RuleProgram): readonly string[] => {
    let keys = memo.get(prog);
    if (keys === undefined) {
      const out = new Set<string>();
      for (const r of [...prog.inbound, ...prog.outbound])
        for (const s of [r.src, r.dst]) {
          for (const id of [...s.ipSets, ...s.notIpSets]) out.add(`i:${id}`);
          for (const n of [...s.namedPorts, ...s.notNamedPorts]) out.add(`n:${namedPortKey(n)}`);
          for (const id of s.ipPortSets ?? []) out.add(`n:${id}`);
        }
      keys = [...out];
      memo.set(prog, keys);
    }
    return keys;
  };
})();

type Members = readonly unknown[] | undefined;

function membersOf(snapshot: DataplaneSnapshot, key: string): Members {
  const id = key.slice(2);
  return key.startsWith('i:') ? snapshot.ipSets.get(id) : snapshot.namedPortSets?.get(id);
}

function sameMembers(a: Members, b: Members): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    // Named-port members are objects: { net, port, protocol? }.
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    const p = x as Record<string, unknown>;
    const q = y as Record<string, unknown>;
    if (p['net'] !== q['net'] || p['port'] !== q['port'] || p['protocol'] !== q['protocol']) return false;
  }
  return true;
}

export class BpfCompiler {
  #entries = new Map<string, Entry>();
  /** Members last seen per set key, with a version bumped whenever they change. */
  #members = new Map<string, { members: Members; version: number }>();
  #nextVersion = 1;
  /** Programs and encoded sets by name, as far as the entries reach them. */
  #programs = new Map<string, readonly OpTemplate[]>();
  #encodedSets = new Map<string, readonly SetEntry[]>();
  stats: CompileStats = { compiled: 0, reused: 0 };

  constructor(private readonly options: EncodeOptions = {}) {}

  compile(calc: PolicyCalculator): EncodedPolicy {
    const snapshot = snapshotOf(calc);
    const hostConfig = snapshot.hostConfig ?? calc.hostConfig;
    const checked = new Set<string>();
    const version = (key: string): number => {
      const seen = this.#members.get(key);
      if (checked.has(key)) return seen!.version;
      checked.add(key);
      const now = membersOf(snapshot, key);
      if (seen !== undefined && sameMembers(seen.members, now)) return seen.version;
      const v = this.#nextVersion++;
      this.#members.set(key, { members: now, version: v });
      return v;
    };

    const entries = new Map<string, Entry>();
    const stale: { plan: EndpointPlan; rules: (RuleProgram | undefined)[] }[] = [];
    const plans = [...snapshot.plans].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const plan of plans) {
      const old = this.#entries.get(plan.id);
      const rules = ruleRefs(plan).map((r) =>
        r.startsWith('p:') ? snapshot.policies.get(r.slice(2)) : snapshot.profiles.get(r.slice(2)),
      );
      const fresh =
        old !== undefined &&
        old.plan === plan &&
        old.hostConfig === hostConfig &&
        old.rules.length === rules.length &&
        old.rules.every((r, i) => r === rules[i]) &&
        [...old.sets].every(([key, v]) => version(key) === v);
      if (fresh) entries.set(plan.id, old);
      else stale.push({ plan, rules });
    }
    this.stats = { compiled: stale.length, reused: plans.length - stale.length };

    if (stale.length > 0) {
      const deps = stale.map(({ rules }) => {
        const keys = new Set(rules.flatMap((r) => (r === undefined ? [] : setKeysOf(r))));
        return new Map([...keys].map((k) => [k, version(k)]));
      });
      // Member lists unchanged since an earlier compile are handed over as the very objects
      // seen then: compileMaps and the encoder parse and hash a list object once.
      const seen = <V>(prefix: string, m: ReadonlyMap<string, V>): Map<string, V> =>
        new Map(
          [...m].map(([id, v]) => [
            id,
            checked.has(prefix + id) ? ((this.#members.get(prefix + id)?.members as V | undefined) ?? v) : v,
          ]),
        );
      const namedPortSets = seen('n:', snapshot.namedPortSets ?? new Map());
      const maps = compileMaps(
        { ...snapshot, plans: stale.map((s) => s.plan), ipSets: seen('i:', snapshot.ipSets), namedPortSets },
        { node: calc.nodeName, namedPortSets },
      );
      const enc = new Encoder(maps, this.#encodedSets);
      for (const [i, { plan, rules }] of stale.entries()) {
        const ep = maps.endpoints[i]!;
        entries.set(plan.id, {
          plan,
          hostConfig,
          rules,
          sets: deps[i]!,
          encoded: {
            id: ep.id,
            kind: ep.kind,
            interfaceName: ep.interfaceName,
            programs: stagePrograms(enc, ep, hostConfig),
          },
        });
      }
      for (const [name, ops] of enc.programs) this.#programs.set(name, ops);
      for (const [name, s] of enc.sets) this.#encodedSets.set(name, s);
    }

    // Keep what the entries reach (plans are id-sorted: stale ones were added out of order).
    const ordered = plans.map((p) => entries.get(p.id)!);
    this.#entries = new Map(ordered.map((e) => [e.plan.id, e]));
    const programs = new Map<string, readonly OpTemplate[]>();
    const sets = new Map<string, readonly SetEntry[]>();
    const reach = (name: string) => {
      if (programs.has(name)) return;
      const ops = this.#programs.get(name)!;
      programs.set(name, ops);
      for (const op of ops) {
        if (op.set !== undefined) sets.set(op.set, this.#encodedSets.get(op.set)!);
        if (op.call !== undefined) reach(op.call);
      }
    };
    for (const e of ordered) for (const name of namesOf(e.encoded.programs)) reach(name);
    this.#programs = programs;
    this.#encodedSets = sets;
    const used = new Set(ordered.flatMap((e) => [...e.sets.keys()]));
    for (const key of this.#members.keys()) if (!used.has(key)) this.#members.delete(key);

    const warnings: string[] = [];
    return {
      endpoints: assignInterfaces(
        ordered.map((e) => e.encoded),
        hostConfig,
        warnings,
      ),
      programs,
      sets,
      warnings,
      workloadIfacePrefix: this.options.workloadIfacePrefix ?? 'cali',
    };
  }
}
