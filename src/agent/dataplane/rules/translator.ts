// The one way a syntax renders: snapshot -> model (build.ts) -> each chain's rules and each set
// through the syntax, memoised per model object (unchanged chains and sets come back as the
// same objects) -> the syntax's output. A syntax (iptables, nftables) supplies only what is its
// own: what it can say in one rule, one rule's text, one set's spec, and the assembly.

import { buildModel } from './build.js';
import type { Capabilities, Rule, RuleModel, SetModel, Table } from './model.js';
import type { RenderCache } from './render-cache.js';
import type { DataplaneSnapshot, RenderOptions } from './snapshot.js';

export interface Syntax<R, S> {
  readonly caps: Capabilities;
  /** One model rule as this syntax's rules, written in chain `table`. */
  ruleLines(rule: Rule, table: Table): readonly string[];
  setSpec(set: SetModel): S;
  /** The output, from every table's chains in text and every set's spec (keys sorted). */
  assemble(text: Translated<S>, model: RuleModel): R;
}

export interface Translated<S> {
  readonly tables: ReadonlyMap<Table, ReadonlyMap<string, readonly string[]>>;
  readonly sets: ReadonlyMap<string, S>;
}

export type Render<R> = (snapshot: DataplaneSnapshot, options?: RenderOptions, cache?: RenderCache) => R;

/**
 * The syntax's render. With a cache (held by the caller across renders of one node), policy
 * and profile chains are reused while their rule program is the same object, endpoint chains
 * while their plan is, sets while their members are equal; unchanged chains come back as the
 * same frozen arrays (restore's hash cache skips them). The result equals a render without.
 */
export function renderer<R, S>(syntax: Syntax<R, S>): Render<R> {
  return (snapshot, options = {}, cache) => {
    cache?.begin();
    const model = buildModel(snapshot, options, syntax.caps, cache);
    const memo = <I extends object, V>(tag: string, input: I, compute: (input: I) => V): V =>
      cache === undefined
        ? compute(input)
        : cache.derive(`${syntax.caps.name}:${tag}`, input, () => compute(input));
    const tables = new Map<Table, ReadonlyMap<string, readonly string[]>>();
    for (const [table, chains] of model.tables) {
      const text = (rules: readonly Rule[]) =>
        Object.freeze(rules.flatMap((r) => syntax.ruleLines(r, table)));
      tables.set(table, new Map([...chains].map(([name, rules]) => [name, memo(table, rules, text)])));
    }
    const sets = new Map([...model.sets].map(([name, set]) => [name, memo('set', set, syntax.setSpec)]));
    const out = syntax.assemble({ tables, sets }, model);
    cache?.end();
    return out;
  };
}
