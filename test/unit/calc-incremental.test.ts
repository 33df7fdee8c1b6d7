// Incremental policy calculation: a label change touches only the IP sets whose selectors
// read that key and only the plans that depend on it; after random updates, incremental IP
// set membership (and the reported deltas, replayed) equals a from-scratch computation.
// Only active sets (used by programs the local plans refer to) are kept.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CalcUpdate, PolicyCalculator, type RuleProgram } from '../../src/agent/calc/index.js';
import { explain } from '../../src/agent/dataplane/maps/index.js';
import { Keys } from '../../src/model/keys.js';
import { parseSelector } from '../../src/model/selector/index.js';
import type { JsonValue, KV } from '../../src/model/types.js';

const wep = (node: string, ns: string, pod: string, ip: string, labels: Record<string, string>): KV => ({
  key: Keys.workloadEndpoint(node, ns, pod),
  value: {
    state: 'active',
    name: `cali-${pod}`,
    profileIds: [`kns.${ns}`],
    ipv4Nets: [`${ip}/32`],
    ipv6Nets: [],
    labels: { ...labels, 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s' },
    ports: [],
  },
});
const nsProfile = (ns: string, labels: Record<string, string> = {}): KV => ({
  key: Keys.profile(`kns.${ns}`),
  value: {
    labels: {
      ...Object.fromEntries(Object.entries(labels).map(([k, v]) => [`pcns.${k}`, v])),
      'pcns.projectcalico.org/name': ns,
    },
    inboundRules: [{ action: 'allow' }],
    outboundRules: [{ action: 'allow' }],
  },
});
const policy = (
  name: string,
  selector: string,
  outbound: JsonValue[],
  extra: Record<string, JsonValue> = {},
): KV => ({
  key: Keys.policy('GlobalNetworkPolicy', '', name),
  value: {
    tier: 'default',
    selector,
    inboundRules: [],
    outboundRules: outbound,
    types: ['egress'],
    ...extra,
  },
});

function world(): KV[] {
  return [
    { key: Keys.tier('default'), value: { order: 1000000, defaultAction: 'Deny' } },
    nsProfile('a'),
    nsProfile('b', { team: 'blue' }),
    wep('me', 'a', 'web', '10.0.0.1', { app: 'web', version: 'v1' }),
    wep('me', 'a', 'cache', '10.0.0.2', { app: 'cache' }),
    wep('other', 'b', 'api', '10.0.1.1', { app: 'api' }),
    wep('other', 'b', 'db', '10.0.1.2', { app: 'db', env: 'prod' }),
    policy('web-out', "app == 'web'", [
      { action: 'allow', dstSelector: "app == 'api'" },
      { action: 'allow', dstSelector: "env == 'prod'" },
      { action: 'deny' },
    ]),
    policy('cache-out', "app == 'cache'", [{ action: 'allow', dstSelector: "pcns.team == 'blue'" }]),
  ];
}

const uid = (s: string) => parseSelector(s).uniqueId();

describe('incremental updates', () => {
  it('a remote pod relabel changes only the sets reading that key, and no local plan', () => {
    const calc = new PolicyCalculator('me');
    calc.apply(world());
    const plans = new Map(calc.plans());
    expect(calc.ipSetMembers(uid("app == 'api'"))).toEqual(['10.0.1.1/32']);

    const u = calc.apply([wep('other', 'b', 'api', '10.0.1.1', { app: 'api2' })]);
    expect(u.ipSetChanges).toEqual([{ id: uid("app == 'api'"), added: [], removed: ['10.0.1.1/32'] }]);
    expect(u.endpointPlanChanges).toEqual([]);
    for (const [id, plan] of calc.plans()) expect(plan).toBe(plans.get(id));
  });

  it('a key no selector reads costs no evaluation and changes nothing', () => {
    const calc = new PolicyCalculator('me');
    calc.apply(world());
    const before = calc.ipSetEvaluations;
    const u = calc.apply([wep('other', 'b', 'db', '10.0.1.2', { app: 'db', env: 'prod', version: 'v9' })]);
    expect(calc.ipSetEvaluations).toBe(before);
    expect(u.ipSetChanges).toEqual([]);
    expect(u.endpointPlanChanges).toEqual([]);
  });

  it('relabelling one local pod re-evaluates only selectors reading app, and changes only its plan', () => {
    const calc = new PolicyCalculator('me');
    calc.apply(world());
    const web = Keys.workloadEndpoint('me', 'a', 'web');
    const cache = Keys.workloadEndpoint('me', 'a', 'cache');
    const cachePlan = calc.plan(cache);
    const oldWebPlan = calc.plan(web);
    expect(oldWebPlan!.egress.tiers[0]!.policies.map((p) => p.name)).toEqual(['web-out']);
    const before = calc.ipSetEvaluations;
    const u = calc.apply([wep('me', 'a', 'web', '10.0.0.1', { app: 'frontend', version: 'v1' })]);
    // Sets reading `app`: "app == 'api'" only (env and pcns.team sets are not re-evaluated).
    expect(calc.ipSetEvaluations - before).toBe(1);
    expect(u.ipSetChanges).toEqual([]);
    expect(u.endpointPlanChanges).toEqual([web]);
    expect(calc.plan(web)!.egress).toEqual({ tiers: [], profiles: ['kns.a'] });
    expect(calc.plan(cache)).toBe(cachePlan);
  });

  it('a namespace (profile) label change moves its pods in and out of pcns. sets', () => {
    const calc = new PolicyCalculator('me');
    calc.apply(world());
    const id = uid("pcns.team == 'blue'");
    expect(calc.ipSetMembers(id)).toEqual(['10.0.1.1/32', '10.0.1.2/32']);
    const u = calc.apply([nsProfile('b'), nsProfile('a', { team: 'blue' })]);
    expect(u.ipSetChanges).toEqual([
      { id, added: ['10.0.0.1/32', '10.0.0.2/32'], removed: ['10.0.1.1/32', '10.0.1.2/32'] },
    ]);
    // Labels only: the profiles' rule programs are unchanged.
    expect(u.profileProgramChanges).toEqual([]);
  });

  it('a rule-only policy change updates its program and sets, not the plans', () => {
    const calc = new PolicyCalculator('me');
    calc.apply(world());
    const plans = new Map(calc.plans());
    const u = calc.apply([
      policy('web-out', "app == 'web'", [{ action: 'allow', dstSelector: "app == 'db'" }]),
    ]);
    expect(u.policyProgramChanges).toEqual([Keys.policy('GlobalNetworkPolicy', '', 'web-out')]);
    expect(u.ipSetsCreated).toEqual([uid("app == 'db'")]);
    expect(u.ipSetsDeleted).toEqual([uid("app == 'api'"), uid("env == 'prod'")].sort());
    expect(u.endpointPlanChanges).toEqual([]);
    for (const [id, plan] of calc.plans()) expect(plan).toBe(plans.get(id));
  });

  it('shared addresses are ref-counted; notSelector folds into the positive selector', () => {
    const calc = new PolicyCalculator('me');
    calc.apply([
      ...world(),
      policy('fold', "app == 'web'", [
        { action: 'allow', dstSelector: "app == 'api'", notDstSelector: "env == 'prod'" },
      ]),
      wep('other', 'b', 'api-twin', '10.0.1.1', { app: 'api' }),
    ]);
    expect(calc.ipSetIds()).toContain(uid("(app == 'api') && (!(env == 'prod'))"));
    const u = calc.apply([{ key: Keys.workloadEndpoint('other', 'b', 'api-twin'), value: null }]);
    expect(u.ipSetChanges).toEqual([]);
    expect(calc.ipSetMembers(uid("app == 'api'"))).toEqual(['10.0.1.1/32']);
  });

  it('only sets of policies the local plans use are active; a plan change creates and deletes them', () => {
    const calc = new PolicyCalculator('me');
    const remoteOnly = policy('api-out', "app == 'api'", [{ action: 'allow', dstSelector: "tier == 'x'" }]);
    const u0 = calc.apply([...world(), remoteOnly]);
    const tierX = uid("tier == 'x'");
    expect(calc.ipSetIds()).toEqual(
      [uid("app == 'api'"), uid("env == 'prod'"), uid("pcns.team == 'blue'")].sort(),
    );
    expect(u0.ipSetsCreated).toEqual(calc.ipSetIds());
    // A remote pod change that only an inactive set reads costs no evaluation.
    const before = calc.ipSetEvaluations;
    expect(calc.apply([wep('other', 'b', 'db', '10.0.1.2', { app: 'db', env: 'prod', tier: 'x' })])).toEqual(
      expect.objectContaining({ ipSetChanges: [], ipSetsCreated: [], endpointPlanChanges: [] }),
    );
    expect(calc.ipSetEvaluations).toBe(before);
    // A local pod becomes 'api': api-out now applies here, so its set comes in, with members.
    const cache = Keys.workloadEndpoint('me', 'a', 'cache');
    const u1 = calc.apply([wep('me', 'a', 'cache', '10.0.0.2', { app: 'api' })]);
    expect(u1.endpointPlanChanges).toEqual([cache]);
    expect(u1.ipSetsCreated).toEqual([tierX]);
    expect(u1.ipSetsDeleted).toEqual([uid("pcns.team == 'blue'")]);
    expect(u1.ipSetChanges).toContainEqual({ id: tierX, added: ['10.0.1.2/32'], removed: [] });
    expect(calc.ipSetMembers(tierX)).toEqual(['10.0.1.2/32']);
    // And back: the set goes (no member changes are reported for a deleted set).
    const u2 = calc.apply([wep('me', 'a', 'cache', '10.0.0.2', { app: 'cache' })]);
    expect(u2.ipSetsCreated).toEqual([uid("pcns.team == 'blue'")]);
    expect(u2.ipSetsDeleted).toEqual([tierX]);
    expect(u2.ipSetChanges.map((c) => c.id)).not.toContain(tierX);
    expect(calc.ipSetIds()).not.toContain(tierX);
    expect(calc.ipSetMembers(tierX)).toEqual([]);
  });

  it('explain() evaluates inactive sets on demand for endpoints on other nodes', () => {
    const calc = new PolicyCalculator('me');
    calc.apply([
      ...world(),
      policy('api-out', "app == 'api'", [{ action: 'allow', dstSelector: "env == 'prod'" }]),
      policy('db-out', "app == 'db'", [{ action: 'allow', dstSelector: "app == 'web'" }]),
    ]);
    expect(calc.ipSetIds()).not.toContain(uid("app == 'web'"));
    const flow = (srcIp: string, dstIp: string) => ({ srcIp, dstIp, protocol: 'tcp', dstPort: 80 });
    // db (other node) -> web: allowed by db-out through the inactive set "app == 'web'".
    expect(explain(calc, flow('10.0.1.2', '10.0.0.1')).egress.decidedBy).toMatchObject({
      kind: 'rule',
      action: 'allow',
    });
    expect(explain(calc, flow('10.0.1.2', '10.0.0.2')).egress.decidedBy).toEqual({
      kind: 'tier-end',
      tier: 'default',
    });
    // api (other node) -> db: the active set "env == 'prod'" answers.
    expect(explain(calc, flow('10.0.1.1', '10.0.1.2')).egress.allowed).toBe(true);
    expect(explain(calc, flow('10.0.1.1', '10.0.0.1')).egress.allowed).toBe(false);
  });

  it('an unparseable value is a deletion, reported', () => {
    const calc = new PolicyCalculator('me');
    calc.apply(world());
    const u = calc.apply([policy('web-out', 'app ==', [])]);
    expect(u.invalid).toHaveLength(1);
    expect(u.endpointPlanChanges).toEqual([Keys.workloadEndpoint('me', 'a', 'web')]);
  });
});

// ---- property: incremental == from scratch --------------------------------------------------

const SELECTORS = [
  "app == 'a'",
  "app in {'a', 'b'}",
  'has(env)',
  "env != 'prod'",
  "pcns.team == 'x'",
  'all()',
];
const arbLabels = fc.record(
  { app: fc.constantFrom('a', 'b', 'c'), env: fc.constantFrom('prod', 'dev') },
  { requiredKeys: [] },
);
const arbIp = fc.integer({ min: 1, max: 6 }).map((n) => `10.1.0.${n}`);
const arbRule = fc.record(
  {
    action: fc.constantFrom('allow', 'deny', 'next-tier'),
    dstSelector: fc.constantFrom(...SELECTORS),
    notDstSelector: fc.constantFrom(...SELECTORS),
  },
  { requiredKeys: ['action'] },
);
const arbOp: fc.Arbitrary<KV> = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 0, max: 4 }),
      fc.constantFrom('me', 'other'),
      fc.constantFrom('a', 'b'),
      arbIp,
      arbLabels,
    )
    .map(([i, node, ns, ip, labels]) => wep(node, ns, `p${i}`, ip, labels)),
  fc
    .integer({ min: 0, max: 4 })
    .map((i) => ({ key: Keys.workloadEndpoint('me', 'a', `p${i}`), value: null })),
  fc
    .tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.array(fc.constantFrom('192.168.0.0/24', '10.1.0.1/32'), { maxLength: 2 }),
      arbLabels,
    )
    .map(([i, nets, labels]) => ({ key: Keys.networkSet(`s${i}`), value: { nets, labels } })),
  fc.integer({ min: 0, max: 2 }).map((i) => ({ key: Keys.networkSet(`s${i}`), value: null })),
  fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('x', 'y')).map(([ns, team]) => nsProfile(ns, { team })),
  fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(...SELECTORS), fc.array(arbRule, { maxLength: 3 }))
    .map(([i, sel, rules]) => policy(`pol${i}`, sel, rules as JsonValue[])),
  fc
    .integer({ min: 0, max: 3 })
    .map((i) => ({ key: Keys.policy('GlobalNetworkPolicy', '', `pol${i}`), value: null })),
);

function snapshot(calc: PolicyCalculator) {
  return Object.fromEntries(calc.ipSetIds().map((id) => [id, calc.ipSetMembers(id)]));
}

/** The sets used by the programs of the policies and profiles the local plans refer to. */
function activeSets(calc: PolicyCalculator): string[] {
  const out = new Set<string>();
  const add = (p: RuleProgram | undefined) => {
    for (const r of [...(p?.inbound ?? []), ...(p?.outbound ?? [])])
      for (const m of [r.src, r.dst]) for (const id of [...m.ipSets, ...m.notIpSets]) out.add(id);
  };
  for (const plan of calc.plans().values())
    for (const dir of [plan.ingress, plan.egress]) {
      for (const t of dir.tiers) for (const p of t.policies) add(calc.policyProgram(p.id));
      for (const name of dir.profiles) add(calc.profileProgram(name));
    }
  return [...out].sort();
}

function replay(mirror: Map<string, Set<string>>, u: CalcUpdate): void {
  for (const id of u.ipSetsDeleted) mirror.delete(id);
  for (const id of u.ipSetsCreated) mirror.set(id, new Set());
  for (const c of u.ipSetChanges) {
    const s = mirror.get(c.id)!;
    for (const m of c.removed) s.delete(m);
    for (const m of c.added) s.add(m);
  }
}

describe('property', () => {
  it('incremental IP sets, their replayed deltas and plans equal a from-scratch computation', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(arbOp, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }),
        (batches) => {
          const calc = new PolicyCalculator('me');
          const state = new Map<string, JsonValue>();
          const mirror = new Map<string, Set<string>>();
          replay(
            mirror,
            calc.apply([
              { key: Keys.tier('default'), value: { defaultAction: 'Deny' } },
              nsProfile('a'),
              nsProfile('b'),
            ]),
          );
          for (const kv of [nsProfile('a'), nsProfile('b')]) state.set(kv.key, kv.value);
          state.set(Keys.tier('default'), { defaultAction: 'Deny' });
          for (const batch of batches) {
            replay(mirror, calc.apply(batch));
            for (const kv of batch) {
              if (kv.value === null) state.delete(kv.key);
              else state.set(kv.key, kv.value);
            }
            const fresh = new PolicyCalculator('me');
            fresh.apply([...state].map(([key, value]) => ({ key, value })));
            expect(snapshot(calc)).toEqual(snapshot(fresh));
            expect(calc.ipSetIds()).toEqual(activeSets(calc));
            expect(Object.fromEntries([...mirror].map(([id, s]) => [id, [...s].sort()]))).toEqual(
              snapshot(fresh),
            );
            expect(JSON.stringify([...calc.plans()].sort())).toEqual(
              JSON.stringify([...fresh.plans()].sort()),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
