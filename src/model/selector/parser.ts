// Recursive descent over the tokens, with Calico's grammar (parser/parser.go):
//   or   := and ('||' and)*
//   and  := op ('&&' op)*
//   op   := '!'* ( has(k) | all() | global() | '(' or ')' | k cmp "v" | k [not] in {"v", …} )
// so '!' binds tightest (to one operation), then '&&', then '||'. Empty text is all().

import { notNode, type SelectorNode, sortedUnique, type ValueOp } from './ast.js';
import { SelectorError } from './errors.js';
import { describeToken, Tok, type Token, tokenize } from './tokenizer.js';

/** Parentheses nested deeper than this are refused rather than risk the JS stack. */
export const MAX_NESTING = 500;

const VALUE_OPS: Partial<Record<Tok, ValueOp>> = {
  [Tok.Eq]: 'eq',
  [Tok.Ne]: 'ne',
  [Tok.Contains]: 'contains',
  [Tok.StartsWith]: 'startsWith',
  [Tok.EndsWith]: 'endsWith',
};

export function parseToAst(src: string): SelectorNode {
  const tokens = tokenize(src);
  let p = 0;
  let depth = 0;

  // tokenize() always ends with Eof and we never step past it, so peek() is always defined.
  const peek = (): Token => tokens[p]!;
  const fail = (reason: string, t: Token): never => {
    throw new SelectorError(reason, src, t.pos);
  };
  const unexpected = (t: Token): never =>
    fail(t.kind === Tok.Eof ? 'unexpected end of selector' : `unexpected ${describeToken(t)}`, t);

  const parseOr = (): SelectorNode => {
    const first = parseAnd();
    if (peek().kind !== Tok.Or) return first;
    const operands = [first];
    while (peek().kind === Tok.Or) {
      p++;
      operands.push(parseAnd());
    }
    return { kind: 'or', operands };
  };

  const parseAnd = (): SelectorNode => {
    const first = parseOperation();
    if (peek().kind !== Tok.And) return first;
    const operands = [first];
    while (peek().kind === Tok.And) {
      p++;
      operands.push(parseOperation());
    }
    return { kind: 'and', operands };
  };

  const parseOperation = (): SelectorNode => {
    let negated = false;
    while (peek().kind === Tok.Not) {
      negated = !negated;
      p++;
    }
    const node = parseTerm();
    return negated ? notNode(node) : node;
  };

  const parseTerm = (): SelectorNode => {
    const t = peek();
    switch (t.kind) {
      case Tok.Has:
        p++;
        return { kind: 'has', key: t.value };
      case Tok.All:
        p++;
        return { kind: 'all' };
      case Tok.Global:
        p++;
        return { kind: 'global' };
      case Tok.LParen: {
        if (++depth > MAX_NESTING) fail(`parentheses nested more than ${MAX_NESTING} deep`, t);
        p++;
        const inner = parseOr();
        if (peek().kind !== Tok.RParen) fail("expected ')'", peek());
        p++;
        depth--;
        return inner;
      }
      case Tok.Label:
        p++;
        return parseComparison(t.value);
      default:
        return unexpected(t);
    }
  };

  const parseComparison = (key: string): SelectorNode => {
    const op = peek();
    const valueOp = VALUE_OPS[op.kind];
    if (valueOp !== undefined) {
      p++;
      const v = peek();
      if (v.kind !== Tok.String) fail(`expected a quoted string after ${describeToken(op)}`, v);
      p++;
      return { kind: valueOp, key, value: v.value };
    }
    if (op.kind === Tok.In || op.kind === Tok.NotIn) {
      p++;
      if (peek().kind !== Tok.LBrace) fail(`expected '{' after ${describeToken(op)}`, peek());
      p++;
      const values: string[] = [];
      // Calico accepts {}, and a trailing comma: {"a", "b",}.
      while (peek().kind === Tok.String) {
        values.push(peek().value);
        p++;
        if (peek().kind !== Tok.Comma) break;
        p++;
      }
      if (peek().kind !== Tok.RBrace) {
        const afterValue = tokens[p - 1]?.kind === Tok.String;
        fail(afterValue ? "expected ',' or '}'" : "expected a quoted string or '}'", peek());
      }
      p++;
      return { kind: op.kind === Tok.In ? 'in' : 'notIn', key, values: sortedUnique(values) };
    }
    // The tokenizer only lets an operator or punctuation follow a label.
    return fail(`expected an operator after label ${JSON.stringify(key)}`, op);
  };

  if (peek().kind === Tok.Eof) return { kind: 'all' };
  const root = parseOr();
  const rest = peek();
  if (rest.kind !== Tok.Eof) {
    fail(
      rest.kind === Tok.RParen
        ? "unmatched ')'"
        : `unexpected ${describeToken(rest)} after a complete expression`,
      rest,
    );
  }
  return root;
}
