// Which selectors match which labelled items, kept up to date incrementally (the job of
// Felix's labelindex). A label change re-evaluates only the selectors that read a changed
// key; selectors that read no key (all()) change only when items come or go.

import type { Selector } from '../../model/selector/index.js';

export type Labels = Readonly<Record<string, string>>;
export type MatchListener = (selectorId: string, itemId: string, matches: boolean) => void;

export class LabelIndex {
  readonly #selectors = new Map<string, Selector>();
  readonly #items = new Map<string, Labels>();
  readonly #bySelector = new Map<string, Set<string>>();
  readonly #byItem = new Map<string, Set<string>>();
  /** label key -> ids of the selectors that read it. */
  readonly #byKey = new Map<string, Set<string>>();
  readonly #onMatch: MatchListener;
  /** Selector evaluations done, for tests that check the work is proportional. */
  evaluations = 0;

  constructor(onMatch: MatchListener) {
    this.#onMatch = onMatch;
  }

  /** Adds, replaces (same id, new selector) or, with undefined, removes a selector. */
  setSelector(id: string, sel: Selector | undefined): void {
    const old = this.#selectors.get(id);
    if (old !== undefined && sel !== undefined && old.equals(sel)) return;
    if (old !== undefined) {
      for (const k of old.labelKeys()) this.#byKey.get(k)?.delete(id);
      this.#selectors.delete(id);
    }
    const before = this.#bySelector.get(id) ?? new Set<string>();
    const after = new Set<string>();
    if (sel !== undefined) {
      this.#selectors.set(id, sel);
      for (const k of sel.labelKeys()) {
        addTo(this.#byKey, k, id);
      }
      for (const [itemId, labels] of this.#items) if (this.#eval(sel, labels)) after.add(itemId);
    }
    this.#bySelector.delete(id);
    if (after.size > 0) this.#bySelector.set(id, after);
    for (const itemId of before) if (!after.has(itemId)) this.#unlink(id, itemId);
    for (const itemId of after) if (!before.has(itemId)) this.#link(id, itemId);
  }

  /** Adds, relabels or, with undefined, removes an item. */
  setItem(id: string, labels: Labels | undefined): void {
    const old = this.#items.get(id);
    if (labels === undefined) {
      if (old === undefined) return;
      this.#items.delete(id);
      for (const selId of [...(this.#byItem.get(id) ?? [])]) this.#unlink(selId, id);
      return;
    }
    this.#items.set(id, labels);
    let candidates: Iterable<string>;
    if (old === undefined) {
      candidates = this.#selectors.keys();
    } else {
      const set = new Set<string>();
      for (const k of changedKeys(old, labels)) for (const selId of this.#byKey.get(k) ?? []) set.add(selId);
      candidates = set;
    }
    const current = this.#byItem.get(id);
    for (const selId of candidates) {
      const now = this.#eval(this.#selectors.get(selId)!, labels);
      const was = current?.has(selId) ?? false;
      if (now && !was) this.#link(selId, id);
      else if (!now && was) this.#unlink(selId, id);
    }
  }

  matchesOf(selectorId: string): ReadonlySet<string> {
    return this.#bySelector.get(selectorId) ?? EMPTY;
  }

  selectorsMatching(itemId: string): ReadonlySet<string> {
    return this.#byItem.get(itemId) ?? EMPTY;
  }

  #eval(sel: Selector, labels: Labels): boolean {
    this.evaluations++;
    return sel.evaluate(labels);
  }

  #link(selId: string, itemId: string): void {
    addTo(this.#bySelector, selId, itemId);
    addTo(this.#byItem, itemId, selId);
    this.#onMatch(selId, itemId, true);
  }

  #unlink(selId: string, itemId: string): void {
    const a = this.#bySelector.get(selId);
    a?.delete(itemId);
    if (a?.size === 0) this.#bySelector.delete(selId);
    const b = this.#byItem.get(itemId);
    b?.delete(selId);
    if (b?.size === 0) this.#byItem.delete(itemId);
    this.#onMatch(selId, itemId, false);
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** Adds v to the set at m[k], creating it. */
export function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s === undefined) m.set(k, new Set([v]));
  else s.add(v);
}

/** Keys whose value differs (added, removed or changed). */
export function changedKeys(a: Labels, b: Labels): string[] {
  const out: string[] = [];
  for (const k of Object.keys(a)) if (a[k] !== b[k] || !Object.hasOwn(b, k)) out.push(k);
  for (const k of Object.keys(b)) if (!Object.hasOwn(a, k)) out.push(k);
  return out;
}
