// Pure: a DataplaneSnapshot to the rule model, in Felix's layout (felix/rules/endpoints.go,
// dispatch.go, static.go): interface dispatch, per-endpoint to/from chains (conntrack, tiers of
// policy jumps with accept/pass mark bits and end-of-tier drops, profiles, final drop), policy
// and profile chains, the host layout, and the sets the rules reference. Written once for every
// translator; deterministic: same snapshot, same model.

import { defaultHostConfig, type EndpointPlan, type ParsedRule, type TierPlan } from '../../calc/index.js';
import type { NamedPortMember } from '../named-port.js';
import { hostLayout } from './host-layout.js';
import type { Capabilities, ChainMap, Rule, RuleModel, SetModel, Table, Term } from './model.js';
import {
  Chains,
  endpointChain,
  ipSetName,
  Marks,
  namedPortSetName,
  policyChain,
  profileChain,
} from './names.js';
import { lowerRuleChain } from './policy-rules.js';
import { type RenderCache, sameValue } from './render-cache.js';
import { type DataplaneSnapshot, namedPortMembers, type RenderOptions } from './snapshot.js';

type Dir = 'in' | 'out';

/** A policy chain an endpoint chain jumps to: its name and render-cache key, computed once. */
interface PolicyChainRef {
  readonly id: string;
  readonly dir: Dir;
  readonly chain: string;
  readonly key: string;
}

const NO_RULES: readonly ParsedRule[] = Object.freeze([]);
const MISSING_PROFILE: readonly Rule[] = Object.freeze([
  { match: [], action: { t: 'drop' }, comment: 'missing profile' },
]);
const NAMES = { setName: ipSetName, portSetName: namedPortSetName };
const ifAccepted: Term = { t: 'mark', bits: Marks.accept };
const ifNotPassed: Term = { t: 'mark', bits: Marks.pass, clear: true };
const RETURN_IF_ACCEPTED: Rule = { match: [ifAccepted], action: { t: 'return' } };

/** Named-port set members (fresh objects in every snapshot) compared by value. */
const sameNamedPortMember = (a: NamedPortMember, b: NamedPortMember): boolean =>
  a.net === b.net && a.port === b.port && a.protocol === b.protocol;

/** Selector set members as the dataplanes hold them: IPv4 CIDRs (an address as a /32), sorted. */
function netMembers(members: readonly string[]): string[] {
  const out = new Set<string>();
  for (const m of members) if (!m.includes(':')) out.add(m.includes('/') ? m : `${m}/32`);
  return [...out].sort();
}

/** Each chain once, from lists that repeat them. */
function unionOf(lists: readonly (readonly PolicyChainRef[])[]): readonly PolicyChainRef[] {
  const out = new Map<string, PolicyChainRef>();
  for (const refs of lists) for (const ref of refs) if (!out.has(ref.chain)) out.set(ref.chain, ref);
  return [...out.values()];
}

/** The map with its keys in code-unit order (chains and sets are written in that order). */
export const sortedMap = <V>(m: Map<string, V>): Map<string, V> =>
  new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function buildModel(
  snapshot: DataplaneSnapshot,
  options: RenderOptions,
  caps: Capabilities,
  cache?: RenderCache,
): RuleModel {
  const k = caps.name;
  const tables = new Map<Table, Map<string, readonly Rule[]>>([
    ['raw', new Map()],
    ['mangle', new Map()],
    ['filter', new Map()],
  ]);
  const filter = tables.get('filter')!;
  const usedSets = new Set<string>();
  const usedPortSets = new Set<string>();
  const warnings: string[] = [];

  /** Policy and profile chains live in each table whose chains jump to them. */
  const ruleChain = (
    into: Map<string, readonly Rule[]>,
    name: string,
    rules: readonly ParsedRule[],
    what: () => string,
    key = `${k}:rule:${name}`,
  ) => {
    if (into.has(name)) return;
    const entry =
      cache === undefined
        ? lowerRuleChain(rules, what(), caps, NAMES)
        : cache.memo(key, rules, () => lowerRuleChain(rules, what(), caps, NAMES));
    for (const id of entry.sets) usedSets.add(id);
    for (const id of entry.portSets) usedPortSets.add(id);
    warnings.push(...entry.warnings);
    into.set(name, entry.rules);
  };

  // A policy's chain name is a hash and its memo key a concatenation: both kept per policy
  // reference (the same object while its plan is), so an unchanged plan costs no hashing.
  const refTags = { in: `${k}:ref:in`, out: `${k}:ref:out` } as const;
  const chainRef = (id: string, dir: Dir): PolicyChainRef => {
    const chain = policyChain(id, dir);
    return { id, dir, chain, key: `${k}:rule:${chain}` };
  };
  /** While an endpoint's rules are built: the policy chains they jump to. */
  let collecting: PolicyChainRef[] | undefined;

  /** Ensures the policy's chain exists in `into`. */
  const ensurePolicy = (into: Map<string, readonly Rule[]>, ref: PolicyChainRef): void => {
    if (into.has(ref.chain)) return;
    const prog = snapshot.policies.get(ref.id);
    ruleChain(
      into,
      ref.chain,
      (ref.dir === 'in' ? prog?.inbound : prog?.outbound) ?? NO_RULES,
      () => `policy ${ref.id} ${ref.dir}`,
      ref.key,
    );
  };

  /** Ensures the policy's chain exists in `into`; its name. */
  const policyChainOf = (
    into: Map<string, readonly Rule[]>,
    pol: { readonly id: string },
    dir: Dir,
  ): string => {
    const ref =
      cache === undefined
        ? chainRef(pol.id, dir)
        : cache.derive(refTags[dir], pol, () => chainRef(pol.id, dir));
    collecting?.push(ref);
    ensurePolicy(into, ref);
    return ref.chain;
  };

  /** Ensures the profile's chain exists in `into` (a drop chain when missing); its name. */
  const profileChainOf = (into: Map<string, readonly Rule[]>, name: string, dir: Dir): string => {
    const chain = profileChain(name, dir);
    const prog = snapshot.profiles.get(name);
    if (prog === undefined) {
      if (!into.has(chain)) warnings.push(`profile ${name}: missing, renders as DROP`);
      into.set(chain, MISSING_PROFILE);
    } else
      ruleChain(into, chain, dir === 'in' ? prog.inbound : prog.outbound, () => `profile ${name} ${dir}`);
    return chain;
  };

  const tierRules = (
    into: Map<string, readonly Rule[]>,
    tier: TierPlan,
    dir: Dir,
    untracked = false,
  ): Rule[] => {
    const out: Rule[] = [
      { match: [], action: { t: 'clear-mark', bits: Marks.pass }, comment: `start of tier ${tier.name}` },
    ];
    for (const pol of tier.policies) {
      out.push({ match: [ifNotPassed], action: { t: 'jump', chain: policyChainOf(into, pol, dir) } });
      // doNotTrack: an allow is NOTRACK + accept (Felix), so neither direction is tracked.
      if (untracked) out.push({ match: [ifAccepted], action: { t: 'notrack' } });
      out.push(RETURN_IF_ACCEPTED);
    }
    if (tier.defaultAction === 'deny')
      out.push({ match: [ifNotPassed], action: { t: 'drop' }, comment: `end of tier ${tier.name}` });
    return out;
  };

  const profileRules = (into: Map<string, readonly Rule[]>, profiles: readonly string[], dir: Dir): Rule[] =>
    profiles.flatMap((name) => [
      { match: [], action: { t: 'jump', chain: profileChainOf(into, name, dir) } },
      RETURN_IF_ACCEPTED,
    ]);

  const endpointRules = (plan: EndpointPlan, dir: Dir): Rule[] => {
    const d = dir === 'in' ? plan.ingress : plan.egress;
    return [
      { match: [{ t: 'ct', state: 'established' }], action: { t: 'accept' } },
      { match: [{ t: 'ct', state: 'invalid' }], action: { t: 'drop' } },
      { match: [], action: { t: 'clear-mark', bits: Marks.accept | Marks.pass } },
      ...d.tiers.flatMap((tier) => tierRules(filter, tier, dir)),
      ...profileRules(filter, d.profiles, dir),
      { match: [], action: { t: 'drop' }, comment: 'no policy or profile allowed' },
    ];
  };

  /** Policy chains the cached endpoint chains of this render jump to (ensured after them). */
  const endpointRefs: (readonly PolicyChainRef[])[] = [];

  /**
   * An endpoint chain: its own rules depend only on the plan, kept with the policy chains they
   * jump to (ensured below, once for all endpoints); its profiles' chains are ensured here.
   */
  const endpointChainRules = (name: string, plan: EndpointPlan, dir: Dir): readonly Rule[] => {
    if (cache === undefined) return endpointRules(plan, dir);
    // Frozen: cached rules are shared by every later render's model.
    const entry = cache.memo(`${k}:endpoint:${name}`, plan, () => {
      collecting = [];
      const rules = Object.freeze(endpointRules(plan, dir));
      const refs: readonly PolicyChainRef[] = collecting;
      collecting = undefined;
      return { rules, refs };
    });
    endpointRefs.push(entry.refs);
    for (const name of (dir === 'in' ? plan.ingress : plan.egress).profiles)
      profileChainOf(filter, name, dir);
    return entry.rules;
  };

  const plans = [...snapshot.plans].sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : 1));
  const toWorkload: [string, string][] = [];
  const fromWorkload: [string, string][] = [];
  for (const plan of plans) {
    if (plan.kind !== 'workload') continue; // host endpoints: hostLayout below
    const tw = endpointChain(plan.interfaceName, 'to');
    const fw = endpointChain(plan.interfaceName, 'from');
    filter.set(tw, endpointChainRules(tw, plan, 'in'));
    filter.set(fw, endpointChainRules(fw, plan, 'out'));
    toWorkload.push([plan.interfaceName, tw]);
    fromWorkload.push([plan.interfaceName, fw]);
  }
  // Endpoints share most policies (here 100 plans name 700 policies 21,000 times): while the
  // plans are the same objects, so is the union of the chains they jump to.
  if (cache !== undefined)
    for (const ref of cache.memo(`${k}:endpoint-refs`, plans, () => unionOf(endpointRefs), sameValue))
      ensurePolicy(filter, ref);
  // An unknown workload interface is dropped (Felix: "Unknown interface").
  const unknown: Rule = { match: [], action: { t: 'drop' }, comment: 'unknown interface' };
  filter.set(Chains.toWlDispatch, [
    { match: [], action: { t: 'dispatch', side: 'oif', to: toWorkload } },
    unknown,
  ]);
  filter.set(Chains.fromWlDispatch, [
    { match: [], action: { t: 'dispatch', side: 'iif', to: fromWorkload } },
    unknown,
  ]);

  const layout = hostLayout(plans, {
    workloadIfacePrefix: options.workloadIfacePrefix ?? 'cali',
    config: snapshot.hostConfig ?? defaultHostConfig(),
  });
  warnings.push(...layout.warnings);
  for (const [table, layoutChains] of layout.tables) {
    const into = tables.get(table)!;
    for (const [name, ops] of layoutChains)
      into.set(
        name,
        ops.flatMap((op) => {
          if (op.op === 'rule') return [op.rule];
          if (op.op === 'profiles') return profileRules(into, op.profiles, op.dir);
          return op.tiers.flatMap((t) => tierRules(into, t, op.dir, op.untracked));
        }),
      );
  }

  // A set is the same object while the members the snapshot gives are equal (they are fresh arrays).
  const sets = new Map<string, SetModel>();
  for (const id of usedSets) {
    const members = snapshot.ipSets.get(id) ?? [];
    const set = (): SetModel => Object.freeze({ id, kind: 'net', members: netMembers(members) });
    sets.set(
      ipSetName(id),
      cache === undefined ? set() : cache.memo(`${k}:set:${id}`, members, set, sameValue),
    );
  }
  for (const id of usedPortSets) {
    const members = snapshot.namedPortSets?.get(id) ?? [];
    const set = (): SetModel =>
      Object.freeze({ id, kind: 'ip-port', members: namedPortMembers(id, members) });
    sets.set(
      namedPortSetName(id),
      cache === undefined ? set() : cache.memo(`${k}:ports:${id}`, members, set, sameNamedPortMember),
    );
  }
  return {
    tables: new Map<Table, ChainMap>([...tables].map(([t, chains]) => [t, sortedMap(chains)])),
    sets: sortedMap(sets),
    entries: layout.entries,
    warnings: [...new Set(warnings)].sort(),
  };
}
