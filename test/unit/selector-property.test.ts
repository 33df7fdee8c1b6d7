// Property tests: random selector trees written in random (but valid) surface syntax must
// evaluate like a plain reference evaluator, canonical text must round-trip and be a fixed
// point, and arbitrary text must either parse or fail with a SelectorError.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Labels, SelectorNode } from '../../src/model/selector/index.js';
import { parseSelector, Selector, SelectorError } from '../../src/model/selector/index.js';

const KEYS = [
  'a',
  'app',
  'projectcalico.org/namespace',
  'pcns.projectcalico.org/name',
  'k8s-app',
  'x_y.z',
  'constructor',
  '__proto__',
  'toString',
  'in',
  'not',
  'contains',
  'starts',
  'with',
  'has',
  'all',
  'global',
  '9',
  '-',
];
const VALUES = [
  '',
  'x',
  'y',
  'frontend',
  "it's",
  'say "hi"',
  'a b',
  'ünï',
  '😀',
  '\uE000',
  'all()',
  '{,}',
  '&&',
];

const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom(...VALUES);

const { node: nodeArb } = fc.letrec<{ node: SelectorNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<SelectorNode>({ kind: 'all' }, { kind: 'global' }),
    key.map((k): SelectorNode => ({ kind: 'has', key: k })),
    fc
      .tuple(fc.constantFrom('eq', 'ne', 'contains', 'startsWith', 'endsWith' as const), key, value)
      .map(([kind, k, v]): SelectorNode => ({ kind, key: k, value: v })),
    fc
      .tuple(fc.constantFrom('in', 'notIn' as const), key, fc.array(value, { maxLength: 4 }))
      .map(([kind, k, values]): SelectorNode => ({ kind, key: k, values })),
    tie('node').map((operand): SelectorNode => ({ kind: 'not', operand })),
    fc
      .tuple(fc.constantFrom('and', 'or' as const), fc.array(tie('node'), { minLength: 2, maxLength: 4 }))
      .map(([kind, operands]): SelectorNode => ({ kind, operands })),
  ),
}));

/** Label sets over the same keys and values, built so that even `__proto__` is an own label. */
const labelsArb = fc.array(fc.tuple(key, value), { maxLength: 8 }).map((pairs) => {
  const labels: Record<string, string> = {};
  for (const [k, v] of pairs) {
    Object.defineProperty(labels, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return labels as Labels;
});

/** The obvious evaluator, written from Calico's ast.go semantics. */
function reference(node: SelectorNode, labels: Labels): boolean {
  const read = (key: string): string | undefined =>
    Object.hasOwn(labels, key) ? (Object.getOwnPropertyDescriptor(labels, key)?.value as string) : undefined;
  switch (node.kind) {
    case 'all':
    case 'global':
      return true;
    case 'not':
      return !reference(node.operand, labels);
    case 'and':
    case 'or': {
      const results = node.operands.map((n) => reference(n, labels));
      return node.kind === 'and' ? !results.includes(false) : results.includes(true);
    }
    case 'has':
      return read(node.key) !== undefined;
    case 'eq':
      return read(node.key) === node.value;
    case 'ne':
      return read(node.key) !== node.value;
    case 'contains':
      return read(node.key)?.includes(node.value) ?? false;
    case 'startsWith':
      return read(node.key)?.startsWith(node.value) ?? false;
    case 'endsWith':
      return read(node.key)?.endsWith(node.value) ?? false;
    case 'in': {
      const v = read(node.key);
      return v !== undefined && node.values.includes(v);
    }
    case 'notIn': {
      const v = read(node.key);
      return v === undefined || !node.values.includes(v);
    }
  }
}

/** Writes a tree as selector text, choosing spacing, quotes, spellings and parens at random. */
function writeRandomly(root: SelectorNode, seed: number): string {
  let s = seed >>> 0 || 1;
  const rnd = (n: number): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const ws = (): string => pick(['', '', ' ', '\t', '  ']);
  const ws1 = (): string => pick([' ', '\t', ' \t ']);
  const quote = (v: string): string => {
    const q = v.includes('"') ? "'" : v.includes("'") ? '"' : pick(["'", '"']);
    return q + v + q;
  };
  const paren = (text: string): string => `(${ws()}${text}${ws()})`;
  const write = (n: SelectorNode, needsGrouping: boolean): string => {
    switch (n.kind) {
      case 'all':
        return pick(['all()', 'all( )']);
      case 'global':
        return pick(['global()', 'global(\t)']);
      case 'has':
        return `has(${ws()}${n.key}${ws()})`;
      case 'eq':
      case 'ne':
        return n.key + ws() + (n.kind === 'eq' ? '==' : '!=') + ws() + quote(n.value);
      case 'contains':
        return `${n.key}${ws1()}contains${ws()}${quote(n.value)}`;
      case 'startsWith':
      case 'endsWith': {
        const word = n.kind === 'startsWith' ? 'starts' : 'ends';
        return `${n.key}${ws1()}${word}${pick(['', ' ', '  '])}with${ws()}${quote(n.value)}`;
      }
      case 'in':
      case 'notIn': {
        const op = n.kind === 'in' ? 'in' : pick(['not in', 'notin', 'not\tin']);
        const items = n.values.map((v) => ws() + quote(v) + ws());
        const trailing = items.length > 0 && rnd(3) === 0 ? ',' : '';
        return `${n.key}${ws1()}${op}${ws()}{${items.join(',')}${trailing}${ws()}}`;
      }
      case 'not': {
        const inner = write(n.operand, true);
        return `!${ws()}${inner}`;
      }
      case 'and':
      case 'or': {
        const sep = n.kind === 'and' ? '&&' : '||';
        // An && group inside an || needs no parentheses; everything else nested does.
        const text = n.operands
          .map((op) => write(op, !(n.kind === 'or' && op.kind === 'and' && rnd(2) === 0)))
          .join(ws() + sep + ws());
        return needsGrouping ? paren(text) : text;
      }
    }
  };
  const text = write(root, false);
  return rnd(4) === 0 ? paren(text) : ws() + text + ws();
}

describe('selector properties', () => {
  it('random selectors in random surface syntax evaluate like the reference evaluator', () => {
    fc.assert(
      fc.property(
        nodeArb,
        fc.integer(),
        fc.array(labelsArb, { minLength: 1, maxLength: 6 }),
        (ast, seed, sets) => {
          const src = writeRandomly(ast, seed);
          const sel = parseSelector(src);
          for (const labels of sets) {
            const want = reference(ast, labels);
            expect(sel.evaluate(labels), `${src} on ${JSON.stringify(labels)}`).toBe(want);
            expect(sel.evaluateLookup(new Map(Object.entries(labels)))).toBe(want);
          }
          // However it was written, it canonicalises like the tree it came from.
          expect(sel.toString()).toBe(Selector.fromAst(ast).toString());
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('parse(toString(s)) is equivalent to s, and toString is a fixed point', () => {
    fc.assert(
      fc.property(nodeArb, fc.array(labelsArb, { minLength: 1, maxLength: 6 }), (ast, sets) => {
        const sel = Selector.fromAst(ast);
        const again = parseSelector(sel.toString());
        expect(again.toString()).toBe(sel.toString());
        expect(again.uniqueId()).toBe(sel.uniqueId());
        expect(again.labelKeys()).toEqual(sel.labelKeys());
        for (const labels of sets) expect(again.evaluate(labels)).toBe(sel.evaluate(labels));
      }),
      { numRuns: 2000 },
    );
  });

  it('any text either parses to a round-tripping selector or fails with a positioned SelectorError', () => {
    const piece = fc.constantFrom(
      ...['a', 'b.c/d', ' ', '\t', '\n', '==', '!=', '=', '!', '&&', '||', '&', '|', '(', ')', '{', '}', ','],
      ...[
        'in',
        'not',
        'contains',
        'starts',
        'with',
        'ends',
        'has(',
        'all(',
        'global(',
        '"x"',
        "'y'",
        '"',
        "'",
        '%',
      ],
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (pieces) => {
        const src = pieces.join('');
        let sel: Selector;
        try {
          sel = parseSelector(src);
        } catch (e) {
          expect(e).toBeInstanceOf(SelectorError);
          const err = e as SelectorError;
          expect(err.position).toBeGreaterThanOrEqual(0);
          expect(err.position).toBeLessThanOrEqual(src.length);
          return;
        }
        expect(parseSelector(sel.toString()).toString()).toBe(sel.toString());
      }),
      { numRuns: 3000 },
    );
  });
});
