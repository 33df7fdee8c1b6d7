// One policy or profile direction rendered to a chain's rules, the same way for every
// dataplane: each rule through the dataplane's own rule renderer, skipped rules reported, and
// the IP sets and named-port sets the rules reference recorded (a cache hit must replay them).

import type { ParsedRule } from '../calc/index.js';
import type { RuleChainEntry } from './render-cache.js';

export interface RuleSyntax {
  renderRule(
    rule: ParsedRule,
    ctx: { setName: (id: string) => string; namedPortSetName: (id: string) => string },
  ): { readonly lines: readonly string[] } | { readonly skipped: string };
  /** Set id -> the kernel name the dataplane gives it. */
  ipSetName(id: string): string;
  namedPortSetName(id: string): string;
}

/** Renders one policy/profile direction's rules, recording the sets they reference. */
export function renderRuleChain(
  rules: readonly ParsedRule[],
  what: string,
  syntax: RuleSyntax,
): RuleChainEntry {
  const sets = new Set<string>();
  const namedPortSets = new Set<string>();
  const ctx = {
    setName: (id: string) => {
      sets.add(id);
      return syntax.ipSetName(id);
    },
    namedPortSetName: (id: string) => {
      namedPortSets.add(id);
      return syntax.namedPortSetName(id);
    },
  };
  const lines: string[] = [];
  const warnings: string[] = [];
  for (const [i, rule] of rules.entries()) {
    const r = syntax.renderRule(rule, ctx);
    if ('skipped' in r) warnings.push(`${what} rule ${i}: skipped (${r.skipped})`);
    else lines.push(...r.lines);
  }
  return { lines: Object.freeze(lines), warnings, sets: [...sets], namedPortSets: [...namedPortSets] };
}
