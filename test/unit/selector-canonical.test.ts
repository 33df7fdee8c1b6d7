// Canonical text, Calico-compatible unique IDs, label keys and the tree rewrites.

import { describe, expect, it } from 'vitest';
import {
  namespaceSelectorToEndpointSelector,
  parseSelector,
  Selector,
  SelectorError,
  substituteFunctions,
  withLabelPrefix,
} from '../../src/model/selector/index.js';

describe('canonical text (Calico parser_test.go canonicalisationTests)', () => {
  it.each([
    ['', 'all()', 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug'],
    [' all() ', 'all()', 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug'],
    [' (all() )', 'all()', 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug'],
    ['! (has( b)||! has(a ))', '!(has(b) || !has(a))', 's:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q'],
    ['! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")', 's:lh3haoY1ikTRkd4UZu0nWSaIBknYLPJLX16d-w'],
  ])('%j -> %s (%s)', (src, canonical, uid) => {
    const sel = parseSelector(src);
    expect(sel.toString()).toBe(canonical);
    expect(sel.uniqueId()).toBe(uid);
    expect(parseSelector(canonical).uniqueId()).toBe(uid);
  });

  it.each([
    [`a == "'"`, `a == "'"`],
    [`a == '"'`, `a == '"'`],
    [`a == 'x'`, `a == "x"`],
    [`a contains '"'`, `a contains '"'`],
    [`a startswith '"'`, `a starts with '"'`],
    [`a endswith "'"`, `a ends with "'"`],
    [`a!='"'`, `a != '"'`],
    [`a notin {'x'}`, `a not in {"x"}`],
    [`a in {"d", "a", "b"}`, `a in {"a", "b", "d"}`],
    [`a in {"z", "z", "x", "y", "x", "a",}`, `a in {"a", "x", "y", "z"}`],
    [`a in {}`, `a in {}`],
    [`a in {'"', "'"}`, `a in {'"', "'"}`],
    // Code point order (Go's byte order), not UTF-16 order: U+E000 sorts before U+1F600.
    ['a in {"😀", "\uE000", "z"}', 'a in {"z", "\uE000", "😀"}'],
    ['a == "1" && b == "2" && c == "3"', '(a == "1" && b == "2" && c == "3")'],
    ['(a == "1" && b == "2") && c == "3"', '((a == "1" && b == "2") && c == "3")'],
    ['a == "1" || b == "2" && c == "3"', '(a == "1" || (b == "2" && c == "3"))'],
    [
      "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
      '!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})',
    ],
    ['!(k == "v")', '!k == "v"'],
    ['!!has(a)', 'has(a)'],
    // Calico prints "!!has(a)" here and re-parses that as has(a); we go there directly.
    ['!(!has(a))', 'has(a)'],
    ['!(!(!has(a)))', '!has(a)'],
    ['((((global()))))', 'global()'],
  ])('%j -> %s', (src, canonical) => {
    expect(parseSelector(src).toString()).toBe(canonical);
    expect(parseSelector(canonical).toString()).toBe(canonical);
  });

  it('gives equal selectors the same ID and different ones different IDs', () => {
    const a = parseSelector("app == 'x' && has(b)");
    const b = parseSelector('app=="x"&&has( b )');
    const c = parseSelector('has(b) && app == "x"');
    expect(a.uniqueId()).toBe(b.uniqueId());
    expect(a.equals(b)).toBe(true);
    expect(a.uniqueId()).not.toBe(c.uniqueId()); // Calico does not reorder operands either.
    expect(a.uniqueId()).toMatch(/^s:[A-Za-z0-9_-]{38}$/);
  });
});

describe('labelKeys and usesGlobal', () => {
  it('lists each key once, sorted, frozen', () => {
    const sel = parseSelector(
      'b == "1" && (has(a) || !c in {"x"}) && a != "2" && global() || d contains "x"',
    );
    expect(sel.labelKeys()).toEqual(['a', 'b', 'c', 'd']);
    expect(Object.isFrozen(sel.labelKeys())).toBe(true);
    expect(sel.labelKeys()).toBe(sel.labelKeys());
    expect(sel.usesGlobal()).toBe(true);
    expect(parseSelector('all()').labelKeys()).toEqual([]);
    expect(parseSelector('!has(a)').usesGlobal()).toBe(false);
  });
});

describe('Selector.fromAst', () => {
  it('normalises like the parser', () => {
    const sel = Selector.fromAst({
      kind: 'and',
      operands: [
        { kind: 'not', operand: { kind: 'not', operand: { kind: 'has', key: 'a' } } },
        { kind: 'in', key: 'b', values: ['y', 'x', 'y'] },
        { kind: 'or', operands: [{ kind: 'eq', key: 'projectcalico.org/namespace', value: "it's" }] },
      ],
    });
    expect(sel.toString()).toBe(`(has(a) && b in {"x", "y"} && projectcalico.org/namespace == "it's")`);
    expect(parseSelector(sel.toString()).toString()).toBe(sel.toString());
  });

  it.each([
    [{ kind: 'has', key: 'a b' }, /invalid label key "a b"/],
    [{ kind: 'has', key: '' }, /invalid label key ""/],
    [{ kind: 'eq', key: 'a', value: `'"` }, /has both quote characters/],
    [{ kind: 'in', key: 'a', values: [`'"`] }, /has both quote characters/],
    [{ kind: 'and', operands: [] }, /empty 'and'/],
  ] as const)('rejects %j', (ast, message) => {
    expect(() => Selector.fromAst(ast)).toThrow(SelectorError);
    expect(() => Selector.fromAst(ast)).toThrow(message);
  });
});

describe('rewrites', () => {
  it('prefixes every label key (PrefixVisitor)', () => {
    const sel = parseSelector("!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))");
    expect(withLabelPrefix(sel, 'visited/').toString()).toBe(
      '!(!((visited/k == "v" && has(visited/t)) || all()) && visited/a in {"b", "c"})',
    );
    expect(sel.toString()).toBe('!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})');
    expect(() => withLabelPrefix(parseSelector(`has(${'k'.repeat(510)})`), 'pcns.')).toThrow(
      /invalid label key/,
    );
  });

  it.each([
    ['all()', 'has(projectcalico.org/namespace)'],
    ['global()', '!has(projectcalico.org/namespace)'],
    ['!global()', 'has(projectcalico.org/namespace)'],
    ['!all()', '!has(projectcalico.org/namespace)'],
    ['name == "all()"', 'pcns.name == "all()"'],
    ['projectcalico.org/name in {"a", "b"}', 'pcns.projectcalico.org/name in {"a", "b"}'],
    ['env == "prod" || global()', '(pcns.env == "prod" || !has(projectcalico.org/namespace))'],
  ])('namespaceSelector %j -> %s', (nsSel, endpointSel) => {
    const out = namespaceSelectorToEndpointSelector(parseSelector(nsSel));
    expect(out.toString()).toBe(endpointSel);
    expect(out.evaluate({ 'projectcalico.org/namespace': 'x', 'pcns.env': 'prod' })).toBe(
      parseSelector(endpointSel).evaluate({ 'projectcalico.org/namespace': 'x', 'pcns.env': 'prod' }),
    );
  });

  it('substitutes only what it is given', () => {
    const sel = parseSelector('all() && global()');
    const by = parseSelector('has(x) && has(y)');
    expect(substituteFunctions(sel, { all: by }).toString()).toBe('((has(x) && has(y)) && global())');
    expect(substituteFunctions(sel, {}).toString()).toBe('(all() && global())');
  });
});
