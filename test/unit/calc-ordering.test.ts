// Tier and policy order as Felix sorts them (felix/calc/policy_sorter.go TierLess/PolKVLess):
// valid tiers first, order ascending with no order last, then name; policies by order (none =
// +Inf), then "name/namespace/kind". Also which tiers a direction uses at all.

import { describe, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { Keys } from '../../src/model/keys.js';
import type { JsonValue, KV } from '../../src/model/types.js';

const EP = Keys.workloadEndpoint('n1', 'ns', 'pod');
const base: KV[] = [
  {
    key: EP,
    value: {
      name: 'cali1',
      ipv4Nets: ['10.0.0.1/32'],
      labels: { app: 'x', 'projectcalico.org/namespace': 'ns' },
      profileIds: ['kns.ns'],
    },
  },
  {
    key: Keys.profile('kns.ns'),
    value: { labels: {}, inboundRules: [{ action: 'allow' }], outboundRules: [] },
  },
];
const tier = (name: string, order?: number, defaultAction = 'Deny'): KV => ({
  key: Keys.tier(name),
  value: order === undefined ? { defaultAction } : { order, defaultAction },
});
const pol = (
  kind: string,
  ns: string,
  name: string,
  t: string,
  order?: number,
  types: JsonValue = ['ingress'],
): KV => ({
  key: Keys.policy(kind, ns, name),
  value: {
    tier: t,
    ...(order === undefined ? {} : { order }),
    selector: 'all()',
    inboundRules: [],
    outboundRules: [],
    types,
  },
});

function ingressTiers(kvs: KV[]) {
  const calc = new PolicyCalculator('n1');
  calc.apply([...base, ...kvs]);
  return calc.plan(EP)!.ingress.tiers.map((t) => [t.name, t.defaultAction, t.policies.map((p) => p.name)]);
}

describe('ordering', () => {
  it('tiers: order ascending, no order last, ties by name, missing Tier resource after all', () => {
    expect(
      ingressTiers([
        tier('zeta', 10),
        tier('alpha', 10),
        tier('first', 1),
        tier('unordered'),
        tier('also-unordered'),
        pol('GlobalNetworkPolicy', '', 'p1', 'zeta'),
        pol('GlobalNetworkPolicy', '', 'p2', 'alpha'),
        pol('GlobalNetworkPolicy', '', 'p3', 'first'),
        pol('GlobalNetworkPolicy', '', 'p4', 'unordered'),
        pol('GlobalNetworkPolicy', '', 'p5', 'also-unordered'),
        pol('GlobalNetworkPolicy', '', 'p6', 'ghost', 0), // its tier does not exist: invalid, drops
        tier('pass-tier', 20, 'Pass'),
        pol('GlobalNetworkPolicy', '', 'p7', 'pass-tier'),
      ]),
    ).toEqual([
      ['first', 'deny', ['p3']],
      ['alpha', 'deny', ['p2']],
      ['zeta', 'deny', ['p1']],
      ['pass-tier', 'pass', ['p7']],
      ['also-unordered', 'deny', ['p5']],
      ['unordered', 'deny', ['p4']],
      ['ghost', 'deny', ['p6']],
    ]);
  });

  it('policies: order ascending, none last, ties by name then namespace then kind', () => {
    const names = ingressTiers([
      tier('t', 1),
      pol('GlobalNetworkPolicy', '', 'b', 't', 5),
      pol('GlobalNetworkPolicy', '', 'a', 't', 5),
      pol('GlobalNetworkPolicy', '', 'none', 't'),
      pol('GlobalNetworkPolicy', '', 'early', 't', 1.5),
      pol('NetworkPolicy', 'ns', 'same', 't', 7),
      pol('KubernetesNetworkPolicy', 'ns', 'same', 't', 7),
      pol('GlobalNetworkPolicy', '', 'same', 't', 7),
    ]);
    expect(names).toEqual([['t', 'deny', ['early', 'a', 'b', 'same', 'same', 'same', 'none']]]);
    const calc = new PolicyCalculator('n1');
    calc.apply([
      ...base,
      tier('t', 1),
      pol('NetworkPolicy', 'ns', 'same', 't', 7),
      pol('KubernetesNetworkPolicy', 'ns', 'same', 't', 7),
      pol('GlobalNetworkPolicy', '', 'same', 't', 7),
    ]);
    // "same//GlobalNetworkPolicy" < "same/ns/KubernetesNetworkPolicy" < "same/ns/NetworkPolicy"
    expect(calc.plan(EP)!.ingress.tiers[0]!.policies.map((p) => p.kind)).toEqual([
      'GlobalNetworkPolicy',
      'KubernetesNetworkPolicy',
      'NetworkPolicy',
    ]);
  });

  it('a tier is used for a direction only if one of its policies governs that direction', () => {
    const calc = new PolicyCalculator('n1');
    calc.apply([
      ...base,
      tier('t', 1),
      pol('GlobalNetworkPolicy', '', 'in', 't', 1, ['ingress']),
      pol('GlobalNetworkPolicy', '', 'both', 't', 2, []), // no types in the model: both
      pol('GlobalNetworkPolicy', '', 'dnt', 't', 3, ['ingress']),
    ]);
    calc.apply([
      {
        key: Keys.policy('GlobalNetworkPolicy', '', 'dnt'),
        value: {
          tier: 't',
          order: 3,
          selector: 'all()',
          types: ['ingress'],
          doNotTrack: true,
          applyOnForward: true,
        },
      },
    ]);
    const plan = calc.plan(EP)!;
    expect(plan.ingress.tiers[0]!.policies.map((p) => p.name)).toEqual(['in', 'both']);
    expect(plan.egress.tiers[0]!.policies.map((p) => p.name)).toEqual(['both']);
    expect(plan.egress.profiles).toEqual(['kns.ns']);
    expect(Object.isFrozen(plan.egress.tiers[0])).toBe(true);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('a tier order change reorders, and is reported as a plan change', () => {
    const calc = new PolicyCalculator('n1');
    calc.apply([
      ...base,
      tier('a', 1),
      tier('b', 2),
      pol('GlobalNetworkPolicy', '', 'pa', 'a'),
      pol('GlobalNetworkPolicy', '', 'pb', 'b'),
    ]);
    const u = calc.apply([tier('a', 3)]);
    expect(u.endpointPlanChanges).toEqual([EP]);
    expect(calc.plan(EP)!.ingress.tiers.map((t) => t.name)).toEqual(['b', 'a']);
    expect(calc.apply([tier('a', 3)]).endpointPlanChanges).toEqual([]);
  });
});
