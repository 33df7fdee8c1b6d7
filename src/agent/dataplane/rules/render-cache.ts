// Memo for the rule model and its translators across renders of one node, so a small calc
// change re-renders only what it touched. The calculator keeps a plan object until the plan
// changes and a (frozen) rule program until its rules change, so a model entry is valid while
// the input it was built from is the very same object; the model's chains and sets are frozen,
// so a translator's text for one is valid while it is the same object (a WeakMap: it goes when
// the chain does). The renderer stays pure: the cache is an explicit argument, and a render
// with a cache returns exactly what one without returns. Hold one cache per renderer (a render
// drops what it did not use); keys carry the syntax's name, so a shared cache would be slow,
// never wrong.

interface Slot {
  readonly input: object;
  readonly value: unknown;
  used: number;
}

/**
 * Entries keyed by a name (a chain) and validated by the identity of their input. Bounded:
 * `begin` starts a render, `end` drops every entry that render did not use.
 */
export class RenderCache {
  readonly #slots = new Map<string, Slot>();
  #render = 0;
  /** Lookups answered from the cache / computed, since construction (for tests and benches). */
  hits = 0;
  misses = 0;

  readonly #derived = new Map<string, WeakMap<object, unknown>>();

  get size(): number {
    return this.#slots.size;
  }

  begin(): void {
    this.#render++;
  }

  end(): void {
    for (const [key, slot] of this.#slots) if (slot.used !== this.#render) this.#slots.delete(key);
  }

  /**
   * The value cached under `key` for this very `input` (or one `same` says is equal), else
   * `compute()`'s, then cached. Inputs are never mutated (calc output and the snapshot feed
   * replace an array, never edit it), so the input itself is kept: a feed's unchanged set
   * is found by identity, a fresh snapshot's equal one element by element.
   */
  memo<V>(key: string, input: object, compute: () => V): V;
  memo<V, T>(key: string, input: readonly T[], compute: () => V, same: (a: T, b: T) => boolean): V;
  memo<V, T>(key: string, input: object, compute: () => V, same?: (a: T, b: T) => boolean): V {
    const slot = this.#slots.get(key);
    if (
      slot !== undefined &&
      (slot.input === input ||
        (same !== undefined && sameElements(slot.input as readonly T[], input as readonly T[], same)))
    ) {
      slot.used = this.#render;
      this.hits++;
      return slot.value as V;
    }
    this.misses++;
    const value = compute();
    this.#slots.set(key, { input, value, used: this.#render });
    return value;
  }

  /** `compute()` for this immutable `input` under `tag`, once per input object. */
  derive<V>(tag: string, input: object, compute: () => V): V {
    let byInput = this.#derived.get(tag);
    if (byInput === undefined) {
      byInput = new WeakMap();
      this.#derived.set(tag, byInput);
    }
    if (byInput.has(input)) return byInput.get(input) as V;
    const value = compute();
    byInput.set(input, value);
    return value;
  }
}

/** Element-wise equality by strict equality. */
export const sameValue = <T>(a: T, b: T): boolean => a === b;

function sameElements<T>(a: readonly T[], b: readonly T[], same: (a: T, b: T) => boolean): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i]!, b[i]!)) return false;
  return true;
}
