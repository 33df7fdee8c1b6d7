// Tier rules (the seeds' common mistake #7). Calico evaluates a tier's policies that select
// an endpoint in order; a rule with Allow/Deny decides, Pass jumps to the next tier; traffic
// no rule matches reaches the end of the tier and, with defaultAction Deny (the default), is
// dropped there: later tiers, the default tier and the profiles never see it. We flag, per
// tier and direction, the policies whose selected endpoints can reach that end, i.e. neither
// the policy nor a policy of the tier that provably selects all of its endpoints ends in a
// catch-all rule. Only selectors and types are read, so the result does not churn with pods.

import { type Selector, Selector as SelectorClass, type SelectorNode } from '../../model/selector/index.js';
import type { ModelRule, PolicyValue } from '../../model/values/policy.js';
import { comparePolicies, compareTiers, isNormalPolicy } from '../../model/values/policy-order.js';
import { type Finding, nameList, resourceRef } from '../finding.js';
import type { PolicyValues } from '../view.js';

type Direction = 'ingress' | 'egress';
const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const TYPE: Record<Direction, string> = { ingress: 'Ingress', egress: 'Egress' };

const policyRef = (p: PolicyValue): string => resourceRef(p.kind, p.namespace, p.name);
const rulesOf = (p: PolicyValue, d: Direction): readonly ModelRule[] =>
  d === 'ingress' ? p.inbound : p.outbound;

/** A rule that matches every packet and decides (Allow, Deny or Pass). */
export function isCatchAll(rule: ModelRule): boolean {
  return rule.action !== 'log' && Object.keys(rule).every((k) => k === 'action');
}

const endsInCatchAll = (p: PolicyValue, d: Direction): boolean => rulesOf(p, d).some(isCatchAll);

/** The top-level AND terms of a selector; all() terms dropped. */
function conjuncts(node: SelectorNode): SelectorNode[] {
  if (node.kind === 'and') return node.operands.flatMap(conjuncts);
  return node.kind === 'all' ? [] : [node];
}
const text = (node: SelectorNode): string => SelectorClass.fromAst(node).toString();

/**
 * True only when every endpoint `inner` selects is provably selected by `outer`: outer's AND
 * terms are a subset of inner's (all() has none). Anything else is "not proven".
 */
export function selectorCovers(outer: Selector, inner: Selector): boolean {
  const have = new Set(conjuncts(inner.ast).map(text));
  return conjuncts(outer.ast).every((t) => have.has(text(t)));
}

/** True when the selectors require different values of one label (e.g. two namespaces). */
export function selectorsDisjoint(a: Selector, b: Selector): boolean {
  const eqs = new Map<string, string>();
  for (const t of conjuncts(a.ast)) if (t.kind === 'eq') eqs.set(t.key, t.value);
  return conjuncts(b.ast).some((t) => t.kind === 'eq' && eqs.has(t.key) && eqs.get(t.key) !== t.value);
}

const nameOf = (p: PolicyValue): string => `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}`;
const describe = (p: PolicyValue): string => `${nameOf(p)} (selector ${p.selector.toString()})`;

export function tierRules(model: PolicyValues): Finding[] {
  const normal = [...model.policies.values()].filter(isNormalPolicy);
  const tierKey = (name: string) => ({
    name,
    valid: model.tiers.has(name),
    order: model.tiers.get(name)?.order,
  });
  const out: Finding[] = [];
  const missing = new Set<string>();
  for (const p of normal)
    if (p.tier !== 'default' && !model.tiers.has(p.tier)) {
      missing.add(p.tier);
      out.push({
        rule: 'policy-tier-missing',
        severity: 'warning',
        resource: policyRef(p),
        related: [resourceRef('Tier', undefined, p.tier)],
        message: `${describe(p)} is in tier ${p.tier}, which does not exist: the tier is treated as invalid, ordered after every valid tier, and traffic its policies do not match is dropped at its end.`,
        fix: `Create Tier ${p.tier} (with the intended spec.order), or move the policy to an existing tier with spec.tier.`,
      });
    }
  for (const [name, tier] of model.tiers) {
    if (name === 'default' || tier.defaultAction !== 'deny') continue;
    const inTier = normal.filter((p) => p.tier === name).sort(comparePolicies);
    for (const d of DIRECTIONS) {
      const applying = inTier.filter((p) => p[d]);
      const closers = applying.filter((p) => endsInCatchAll(p, d));
      const leaky = applying.filter(
        (p) => !endsInCatchAll(p, d) && !closers.some((q) => selectorCovers(q.selector, p.selector)),
      );
      if (leaky.length === 0) continue;
      const here = tierKey(name);
      const later = [
        ...new Set(normal.filter((p) => p[d] && compareTiers(here, tierKey(p.tier)) < 0).map((p) => p.tier)),
      ].sort((a, b) => compareTiers(tierKey(a), tierKey(b)));
      // Catch-all policies that may also select some of the leaky policies' endpoints.
      const partial = closers.filter((q) => leaky.some((p) => !selectorsDisjoint(q.selector, p.selector)));
      out.push(tierFinding(name, d, leaky, partial, later));
    }
  }
  return out;
}

function tierFinding(
  tier: string,
  d: Direction,
  leaky: readonly PolicyValue[],
  closers: readonly PolicyValue[],
  later: readonly string[],
): Finding {
  const unless =
    closers.length > 0
      ? ` (except endpoints also selected by ${nameList(closers.map(nameOf))}, which end in a catch-all rule)`
      : '';
  const consequence =
    later.length > 0
      ? `Later tiers with ${d} policies (${nameList(later)}) never see that traffic.`
      : `No later tier has ${d} policies, so this acts as a default deny; the endpoints' profiles are never reached.`;
  const single = leaky.length === 1 ? leaky[0]!.name : undefined;
  return {
    rule: 'tier-deny-without-pass',
    severity: later.length > 0 ? 'warning' : 'info',
    resource: resourceRef('Tier', undefined, tier),
    related: leaky.map(policyRef),
    message:
      `Tier ${tier} has defaultAction Deny and no catch-all Pass for ${d}: ${d} traffic of endpoints selected by ` +
      `${nameList(leaky.map(describe), 3)}${unless} that no rule of the tier matches is dropped at the end of the tier. ${consequence}`,
    fix:
      `End the ${d} rules of ${single ?? 'those policies'} with "- action: Pass", or add a last policy to tier ${tier} ` +
      `(selector all(), types [${TYPE[d]}], ${d}: [{action: Pass}]), or set spec.defaultAction: Pass on Tier ${tier}.`,
  };
}
