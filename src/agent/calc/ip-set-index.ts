// Selector IP sets (Felix's SelectorAndNamedPortIndex, selector part): each set is named by
// its selector's uniqueId() and holds the nets of every endpoint (any node) and network set
// whose labels match. Sets are ref-counted by the rules that use them; members are
// ref-counted too, since two items may share an address. Changes accumulate until taken.

import type { Selector } from '../../model/selector/index.js';
import { LabelIndex, type Labels } from './label-index.js';

export interface IpSetChange {
  readonly id: string;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

export interface IpSetDelta {
  /** Sets that came into use (their initial members are in `changes`). */
  readonly created: readonly string[];
  /** Sets no longer used by any rule. */
  readonly deleted: readonly string[];
  /** Net membership changes per set, sorted by id; members sorted. */
  readonly changes: readonly IpSetChange[];
}

export class IpSetIndex {
  readonly #labels: LabelIndex;
  readonly #refs = new Map<string, number>();
  readonly #itemMembers = new Map<string, readonly string[]>();
  readonly #members = new Map<string, Map<string, number>>();
  /** set id -> member -> +1 (appeared) / -1 (disappeared) since the last take. */
  readonly #pending = new Map<string, Map<string, number>>();
  readonly #created = new Set<string>();
  readonly #deleted = new Set<string>();

  constructor() {
    this.#labels = new LabelIndex((setId, itemId, matches) => {
      const members = this.#itemMembers.get(itemId) ?? [];
      for (const m of members) this.#count(setId, m, matches ? 1 : -1);
    });
  }

  /** Selector evaluations so far (for proportionality tests). */
  get evaluations(): number {
    return this.#labels.evaluations;
  }

  /** A rule started using the set for `sel`. */
  ref(sel: Selector): void {
    const id = sel.uniqueId();
    const n = this.#refs.get(id) ?? 0;
    this.#refs.set(id, n + 1);
    if (n > 0) return;
    if (this.#deleted.has(id)) this.#deleted.delete(id);
    else this.#created.add(id);
    this.#members.set(id, new Map());
    this.#labels.setSelector(id, sel);
  }

  /** A rule stopped using the set with this id. */
  unref(id: string): void {
    const n = this.#refs.get(id) ?? 0;
    if (n === 0) return;
    if (n > 1) {
      this.#refs.set(id, n - 1);
      return;
    }
    this.#refs.delete(id);
    this.#labels.setSelector(id, undefined); // removes every member, via the listener
    this.#members.delete(id);
    // Pending member changes stay: if the set comes back in this batch, they net out.
    if (this.#created.has(id)) this.#created.delete(id);
    else this.#deleted.add(id);
  }

  /** Adds or updates an endpoint or network set (effective labels; nets), or removes it. */
  setItem(id: string, item: { labels: Labels; members: readonly string[] } | undefined): void {
    const before = this.#itemMembers.get(id) ?? [];
    // An item lists each member once, however often its nets repeat it.
    const after = item === undefined ? [] : [...new Set(item.members)];
    if (item !== undefined) {
      // Sets that match now and keep matching see the member change here; sets whose match
      // changes below see the new members through the listener.
      const added = after.filter((m) => !before.includes(m));
      const removed = before.filter((m) => !after.includes(m));
      if (added.length + removed.length > 0)
        for (const setId of this.#labels.selectorsMatching(id)) {
          for (const m of removed) this.#count(setId, m, -1);
          for (const m of added) this.#count(setId, m, 1);
        }
      this.#itemMembers.set(id, after);
    }
    this.#labels.setItem(id, item?.labels);
    if (item === undefined) this.#itemMembers.delete(id);
  }

  has(id: string): boolean {
    return this.#refs.has(id);
  }

  ids(): string[] {
    return [...this.#refs.keys()].sort();
  }

  /** Members of a set, sorted (empty for an unknown set). */
  members(id: string): string[] {
    return [...(this.#members.get(id)?.keys() ?? [])].sort();
  }

  /** Raw member counts, for explain's containment test. */
  memberSet(id: string): ReadonlyMap<string, number> | undefined {
    return this.#members.get(id);
  }

  take(): IpSetDelta {
    const changes: IpSetChange[] = [];
    for (const [id, p] of [...this.#pending].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!this.#refs.has(id)) continue; // deleted: the whole set goes
      const added: string[] = [];
      const removed: string[] = [];
      for (const [m, d] of p) {
        if (d > 0) added.push(m);
        else if (d < 0) removed.push(m);
      }
      if (added.length + removed.length > 0)
        changes.push({ id, added: added.sort(), removed: removed.sort() });
    }
    const out = { created: [...this.#created].sort(), deleted: [...this.#deleted].sort(), changes };
    this.#pending.clear();
    this.#created.clear();
    this.#deleted.clear();
    return out;
  }

  #count(setId: string, member: string, d: 1 | -1): void {
    const set = this.#members.get(setId);
    if (set === undefined) return;
    // (A set being dropped by unref() still has its map here, so its removals are counted.)
    const n = (set.get(member) ?? 0) + d;
    if (n > 0) set.set(member, n);
    else set.delete(member);
    const transition = (d === 1 && n === 1) || (d === -1 && n === 0);
    if (!transition) return;
    const p = this.#pending.get(setId);
    if (p === undefined) this.#pending.set(setId, new Map([[member, d]]));
    else p.set(member, (p.get(member) ?? 0) + d);
  }
}
