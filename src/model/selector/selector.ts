// A parsed, compiled selector: evaluated on the hot path, named by its canonical text.

import { collectKeys, containsGlobal, notNode, render, type SelectorNode, sortedUnique } from './ast.js';
import { compileLookup, compileRecord, type LabelLookup, type Labels, type Predicate } from './compile.js';
import { SelectorError } from './errors.js';
import { parseToAst } from './parser.js';
import { isValidLabelKey } from './tokenizer.js';
import { makeUniqueId } from './unique-id.js';

export class Selector {
  /** The normalised syntax tree (read-only; build new selectors with Selector.fromAst). */
  readonly ast: SelectorNode;
  readonly #matches: Predicate<Labels>;
  #matchesLookup: Predicate<LabelLookup> | undefined;
  #text: string | undefined;
  #id: string | undefined;
  #keys: readonly string[] | undefined;

  private constructor(ast: SelectorNode) {
    this.ast = ast;
    this.#matches = compileRecord(ast);
  }

  /** Parses Calico selector text; throws SelectorError. Empty or blank text is all(). */
  static parse(src: string): Selector {
    return new Selector(parseToAst(src));
  }

  /**
   * Builds a selector from a tree made in code (e.g. `{kind: 'eq', key, value: ns}`), which
   * avoids quoting values into text. The tree is normalised as the parser would; label keys
   * and values are checked so that the canonical text always parses back to this selector.
   */
  static fromAst(ast: SelectorNode): Selector {
    return new Selector(normalise(ast));
  }

  /**
   * True if the labels match. A label is a string-valued property of `labels`; members
   * inherited from Object.prototype (`constructor`, `toString`…) are not labels.
   */
  evaluate(labels: Labels): boolean {
    return this.#matches(labels);
  }

  /** Like evaluate(), reading labels through `get` (a Map, or an inheritance-aware view). */
  evaluateLookup(labels: LabelLookup): boolean {
    this.#matchesLookup ??= compileLookup(this.ast);
    return this.#matchesLookup(labels);
  }

  /** The canonical text (Calico's Selector.String()); parse(toString()) is this selector. */
  toString(): string {
    this.#text ??= render(this.ast);
    return this.#text;
  }

  /**
   * Calico's Selector.UniqueID(): "s:" + base64url(SHA-224("s:" + canonical text)), so IP set
   * names derived from it match Felix's for the same selector.
   */
  uniqueId(): string {
    this.#id ??= makeUniqueId('s', this.toString());
    return this.#id;
  }

  /** Every label key the selector reads, sorted and de-duplicated (frozen, shared). */
  labelKeys(): readonly string[] {
    this.#keys ??= Object.freeze(sortedUnique(collectKeys(this.ast)));
    return this.#keys;
  }

  /** True if global() appears anywhere (it evaluates as true; see index.ts). */
  usesGlobal(): boolean {
    return containsGlobal(this.ast);
  }

  /** Same canonical text, i.e. the same selector as far as Calico's identity goes. */
  equals(other: Selector): boolean {
    return this === other || this.toString() === other.toString();
  }
}

function normalise(node: SelectorNode): SelectorNode {
  const fail = (reason: string): never => {
    throw new SelectorError(reason, JSON.stringify(node), 0);
  };
  const checkKey = (key: string): void => {
    if (!isValidLabelKey(key)) fail(`invalid label key ${JSON.stringify(key)}`);
  };
  const checkValue = (v: string): void => {
    if (v.includes('"') && v.includes("'")) fail(`value ${JSON.stringify(v)} has both quote characters`);
  };
  switch (node.kind) {
    case 'all':
    case 'global':
      return { kind: node.kind };
    case 'has':
      checkKey(node.key);
      return { kind: 'has', key: node.key };
    case 'in':
    case 'notIn':
      checkKey(node.key);
      node.values.forEach(checkValue);
      return { kind: node.kind, key: node.key, values: sortedUnique(node.values) };
    case 'not':
      return notNode(normalise(node.operand));
    case 'and':
    case 'or': {
      if (node.operands.length === 0) return fail(`empty '${node.kind}'`);
      const operands = node.operands.map(normalise);
      return operands.length === 1 ? operands[0]! : { kind: node.kind, operands };
    }
    default:
      checkKey(node.key);
      checkValue(node.value);
      return { kind: node.kind, key: node.key, value: node.value };
  }
}
