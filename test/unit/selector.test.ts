// Calico selector semantics, table by table: operators, missing labels, precedence, quoting,
// Calico's lexical quirks, the seed selectors, and errors with their positions.

import { describe, expect, it } from 'vitest';
import { type Labels, parseSelector, SelectorError } from '../../src/model/selector/index.js';

type Row = [selector: string, labels: Labels, expected: boolean];

function table(name: string, rows: Row[]): void {
  describe(name, () => {
    it.each(rows)('%s on %j -> %s', (src, labels, expected) => {
      const sel = parseSelector(src);
      expect(sel.evaluate(labels)).toBe(expected);
      expect(sel.evaluateLookup(new Map(Object.entries(labels)))).toBe(expected);
      // The canonical text means the same thing.
      expect(parseSelector(sel.toString()).evaluate(labels)).toBe(expected);
    });
  });
}

table('operators', [
  ['a == "b"', { a: 'b' }, true],
  ['a == "b"', { a: 'b', c: 'd' }, true],
  ['a == "b"', { a: 'c' }, false],
  ['a == ""', { a: '' }, true],
  ['a != "b"', { a: 'c' }, true],
  ['a != "b"', { a: 'b' }, false],
  ['a in {"x", "y"}', { a: 'y' }, true],
  ['a in {"x", "y"}', { a: 'z' }, false],
  ['a in {"x"}', { a: 'x' }, true],
  ['a in {}', { a: 'x' }, false],
  ['a not in {"x", "y"}', { a: 'z' }, true],
  ['a not in {"x", "y"}', { a: 'x' }, false],
  ['a not in {}', { a: 'x' }, true],
  ['has(a)', { a: '' }, true],
  ['has(a)', { b: 'a' }, false],
  ['!has(a)', { b: 'x' }, true],
  ['! has(a)', { a: 'x' }, false],
  ['a contains "ab"', { a: 'xaby' }, true],
  ['a contains "ab"', { a: 'ba' }, false],
  ['a contains ""', { a: '' }, true],
  ['a starts with "ab"', { a: 'abc' }, true],
  ['a starts with "ab"', { a: 'cab' }, false],
  ['a ends with "ab"', { a: 'cab' }, true],
  ['a ends with "ab"', { a: 'abc' }, false],
  ['all()', {}, true],
  ['global()', {}, true],
  ['global()', { 'projectcalico.org/namespace': 'default' }, true],
  ['', { a: 'b' }, true],
  [' \t ', {}, true],
  ['!all()', {}, false],
  ['!(a == "b")', { a: 'b' }, false],
  ['!a == "b"', { a: 'c' }, true],
]);

table('missing labels (ast.go Evaluate)', [
  ['a == "x"', {}, false],
  ['a != "x"', {}, true],
  ['a in {"x"}', {}, false],
  ['a not in {"x"}', {}, true],
  ['a not in {}', {}, true],
  ['a contains ""', {}, false],
  ['a starts with ""', {}, false],
  ['a ends with ""', {}, false],
  ['!a == "x"', {}, true],
  ['!a != "x"', {}, false],
]);

table('labels named like Object.prototype members are ordinary labels', [
  ['has(constructor)', {}, false],
  ['has(toString)', {}, false],
  ['has(__proto__)', {}, false],
  ['__proto__ != "x"', {}, true],
  ['constructor not in {"a", "b"}', {}, true],
  ['toString in {"a", "b"}', {}, false],
  ['hasOwnProperty contains ""', {}, false],
  ['constructor == "x"', { constructor: 'x' }, true],
  ['has(__proto__)', JSON.parse('{"__proto__": "v"}') as Labels, true],
  ['__proto__ == "v"', JSON.parse('{"__proto__": "v"}') as Labels, true],
  ['__proto__ in {"v", "w"}', JSON.parse('{"__proto__": "v"}') as Labels, true],
]);

table('precedence: ! over && over ||', [
  ['a == "1" || b == "1" && c == "1"', { a: '1' }, true],
  ['a == "1" || b == "1" && c == "1"', { b: '1' }, false],
  ['(a == "1" || b == "1") && c == "1"', { a: '1' }, false],
  ['a == "1" && b == "1" || c == "1"', { c: '1' }, true],
  ['a == "1" && (b == "1" || c == "1")', { c: '1' }, false],
  ['!a == "1" && b == "1"', { b: '1' }, true],
  ['!(a == "1" && b == "1")', { a: '1' }, true],
  ['!has(a) || has(b)', { a: '1' }, false],
  ['!(has(a) || has(b))', { c: '1' }, true],
  ['!!has(a)', { a: '1' }, true],
  ['!!!has(a)', { a: '1' }, false],
  ['! ! !has(a)', {}, true],
  ['!(!has(a))', { a: '1' }, true],
  ['!(has(b) || !has(a))', { a: 'a' }, true],
  ['a != "a1" || b != "b1"', { a: 'a1', b: 'b1' }, false],
  ['! a == "a1" || ! b == "b1"', { a: 'a1', b: 'b1' }, false],
]);

table('quoting and whitespace', [
  ["a == 'b'", { a: 'b' }, true],
  [`a == '"'`, { a: '"' }, true],
  [`a == "'"`, { a: "'" }, true],
  [`a in {"'", '"', "c"}`, { a: '"' }, true],
  [`a not in {"'", '"', "c"}`, { a: "'" }, false],
  ['a == "x y"', { a: 'x y' }, true],
  ['a == "ünï 😀"', { a: 'ünï 😀' }, true],
  ['a=="b"&&c!="d"', { a: 'b' }, true],
  ['\ta\t==\t"b"\t', { a: 'b' }, true],
  ['  (  a  ==  "b"  )  ', { a: 'b' }, true],
  ['has(  a  )', { a: 'b' }, true],
  ['all(  )', {}, true],
  ['a == "all()" && b == "&& ||"', { a: 'all()', b: '&& ||' }, true],
]);

table("Calico's lexical quirks", [
  ['a startswith "x"', { a: 'xy' }, true],
  ['a endswith "y"', { a: 'xy' }, true],
  ['a starts   with "x"', { a: 'xy' }, true],
  ['a notin {"x"}', { a: 'y' }, true],
  ['a not   in{"x"}', { a: 'x' }, false],
  ['a in{"x",}', { a: 'x' }, true],
  ['a contains"x"', { a: 'axb' }, true],
  ['contains contains "contains"', { contains: 'xcontainsy' }, true],
  ['in in {"in"}', { in: 'in' }, true],
  ['not not in {"x"}', { not: 'y' }, true],
  ['has == "x" && all == "y"', { has: 'x', all: 'y' }, true],
  ['global != "x"', {}, true],
  ['has(has)', { has: '' }, true],
  ['-.- == "x" && 9/_ == "y"', { '-.-': 'x', '9/_': 'y' }, true],
]);

describe('seed selectors', () => {
  const rows: Row[] = [
    ['app == "frontend"', { app: 'frontend' }, true],
    ['app == "frontend"', { app: 'backend' }, false],
    ['projectcalico.org/name == "backend"', { 'projectcalico.org/name': 'backend' }, true],
    ['projectcalico.org/name == "backend"', { name: 'backend' }, false],
    ['has(calico-route-reflector)', { 'calico-route-reflector': '' }, true],
    ['has(calico-route-reflector)', { rack: 'rack1' }, false],
    ['!has(calico-route-reflector)', { rack: 'rack1' }, true],
    ['!has(calico-route-reflector)', { 'calico-route-reflector': 'true' }, false],
    ['all()', {}, true],
    ['rack == "rack1"', { rack: 'rack1' }, true],
    ['rack == "rack1"', { rack: 'rack2' }, false],
  ];
  const k8s = "projectcalico.org/orchestrator == 'k8s' && app in {'a','b'}";
  rows.push(
    [k8s, { 'projectcalico.org/orchestrator': 'k8s', app: 'b' }, true],
    [k8s, { 'projectcalico.org/orchestrator': 'k8s', app: 'c' }, false],
    [k8s, { 'projectcalico.org/orchestrator': 'openstack', app: 'a' }, false],
    [k8s, { app: 'a' }, false],
  );
  it.each(rows)('%s on %j -> %s', (src, labels, expected) => {
    expect(parseSelector(src).evaluate(labels)).toBe(expected);
  });
  it('canonicalises the seeds', () => {
    expect(parseSelector(k8s).toString()).toBe(
      '(projectcalico.org/orchestrator == "k8s" && app in {"a", "b"})',
    );
    expect(parseSelector('!has(calico-route-reflector)').toString()).toBe('!has(calico-route-reflector)');
  });
});

describe('errors', () => {
  const rows: [src: string, position: number, reason: string][] = [
    ["app == 'x' && (a", 16, 'expected an operator after label "a"'],
    ["app == 'x' && (a == 'y'", 23, "expected ')'"],
    ['(a == "b"))', 10, "unmatched ')'"],
    ['a == "b" b', 9, 'unexpected label "b" after a complete expression'],
    ['a == "b" has(c)', 9, "unexpected 'has(c)' after a complete expression"],
    ["a == 'x", 5, 'unterminated string'],
    ['a == "x\'', 5, 'unterminated string'],
    ['a in {"x}', 6, 'unterminated string'],
    ['a = "b"', 2, "expected '=='"],
    ['a == == "b"', 5, "expected a quoted string after '=='"],
    ['a == b', 5, "expected a quoted string after '=='"],
    ['b contains b', 11, "expected a quoted string after 'contains'"],
    ['"b1" == b', 0, 'unexpected string "b1"'],
    ['a && && b == "c"', 2, 'expected an operator after label "a"'],
    ['a == "b" && && c == "d"', 12, "unexpected '&&'"],
    ['a == "b" || || c == "d"', 12, "unexpected '||'"],
    ['a == "b" &', 9, "expected '&&'"],
    ['a == "b" | c', 9, "expected '||'"],
    ['a == "b" &&', 11, 'unexpected end of selector'],
    ['!', 1, 'unexpected end of selector'],
    ['(', 1, 'unexpected end of selector'],
    ['()', 1, "unexpected ')'"],
    [')', 0, "unexpected ')'"],
    ['a', 1, 'expected an operator after label "a"'],
    ['a b', 2, 'expected an operator after label "a"'],
    ['a inx {}', 2, 'expected an operator after label "a"'],
    ['a starts "x"', 2, 'expected an operator after label "a"'],
    ['a in "x"', 5, "expected '{' after 'in'"],
    ['a in {,}', 6, "expected a quoted string or '}'"],
    ['a in {"x" "y"}', 10, "expected ',' or '}'"],
    ['a in {"x",,}', 10, "expected a quoted string or '}'"],
    ['a in {"x"', 9, "expected ',' or '}'"],
    ['%', 0, 'unexpected character "%"'],
    ['a == "b" && %', 12, 'unexpected character "%"'],
    ['a.b:c == "x"', 3, 'unexpected character ":"'],
    ['ä == "x"', 0, 'unexpected character "ä"'],
    ['a ==\n"b"', 4, 'unexpected character "\\n" (only spaces and tabs may separate tokens)'],
    ['a\n== "b"', 1, 'unexpected character "\\n" (only spaces and tabs may separate tokens)'],
    ['\n', 0, 'unexpected character "\\n" (only spaces and tabs may separate tokens)'],
    ['has()', 4, 'expected a label key in has()'],
    ['has(a', 5, "expected ')' to close has("],
    ['has(a b)', 6, "expected ')' to close has("],
    ['has (a)', 4, 'expected an operator after label "has"'],
    ['all(x)', 4, "expected ')' to close all("],
    ['global(', 7, "expected ')' to close global("],
  ];
  it.each(rows)('%j fails at %i: %s', (src, position, reason) => {
    let err: unknown;
    try {
      parseSelector(src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SelectorError);
    const e = err as SelectorError;
    expect(e.code).toBe('TABBY_ERR_SELECTOR');
    expect(e.source).toBe(src);
    expect(e.reason).toBe(reason);
    expect(e.position).toBe(position);
    expect(e.message).toBe(`${reason} at ${position} in ${JSON.stringify(src)}`);
  });

  it('bounds label keys at 512 characters', () => {
    const key = 'k'.repeat(512);
    expect(parseSelector(`has(${key})`).labelKeys()).toEqual([key]);
    expect(parseSelector(`${key} == "v"`).evaluate({ [key]: 'v' })).toBe(true);
    expect(() => parseSelector(`has(${key}k)`)).toThrow(/label key longer than 512 characters at 4/);
    expect(() => parseSelector(`${key}k == "v"`)).toThrow(/label key longer than 512 characters at 0/);
  });

  it('bounds nesting instead of overflowing the stack', () => {
    const nest = (depth: number) => `${'('.repeat(depth)}a == "b"${')'.repeat(depth)}`;
    expect(parseSelector(nest(500)).evaluate({ a: 'b' })).toBe(true);
    expect(parseSelector(nest(500)).toString()).toBe('a == "b"');
    expect(() => parseSelector(nest(501))).toThrow(/parentheses nested more than 500 deep at 500/);
  });
});
