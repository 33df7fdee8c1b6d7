// Splits selector text into tokens, each with its source position for error messages.
// The lexical rules follow Calico's libcalico-go/lib/selector/tokenizer: only space and tab
// are whitespace, label keys are [A-Za-z0-9_./-]{1,512}, strings are '…' or "…" with no
// escapes, and the word operators (contains, starts with, …) are recognised only right
// after a label, so a key may itself be called "contains" or "in".

import { SelectorError } from './errors.js';

export const Tok = {
  Label: 0,
  String: 1,
  LBrace: 2,
  RBrace: 3,
  Comma: 4,
  Eq: 5,
  Ne: 6,
  In: 7,
  NotIn: 8,
  Not: 9,
  Contains: 10,
  StartsWith: 11,
  EndsWith: 12,
  All: 13,
  Global: 14,
  Has: 15,
  LParen: 16,
  RParen: 17,
  And: 18,
  Or: 19,
  Eof: 20,
} as const;
export type Tok = (typeof Tok)[keyof typeof Tok];

export interface Token {
  readonly kind: Tok;
  /** Label key, string literal contents or has() key; '' for other kinds. */
  readonly value: string;
  /** Index of the token's first character in the source. */
  readonly pos: number;
}

/** Calico's tokenizer.MaxLabelLength. */
export const MAX_LABEL_LENGTH = 512;

const SPACE = 0x20;
const TAB = 0x09;

export function isLabelChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2e || // .
    c === 0x2f || // /
    c === 0x2d // -
  );
}

/** True if `key` is a whole label key the tokenizer would accept. */
export function isValidLabelKey(key: string): boolean {
  if (key.length === 0 || key.length > MAX_LABEL_LENGTH) return false;
  for (let i = 0; i < key.length; i++) if (!isLabelChar(key.charCodeAt(i))) return false;
  return true;
}

/** Word operators, tried in this order; "not in" may also be written "notin". */
const LABEL_OPERATORS: ReadonlyArray<readonly [Tok, readonly string[]]> = [
  [Tok.Contains, ['contains']],
  [Tok.StartsWith, ['starts', 'with']],
  [Tok.EndsWith, ['ends', 'with']],
  [Tok.NotIn, ['not', 'in']],
  [Tok.In, ['in']],
];

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const n = src.length;
  let i = 0;

  const skipSpace = (at: number): number => {
    let j = at;
    while (j < n && (src.charCodeAt(j) === SPACE || src.charCodeAt(j) === TAB)) j++;
    return j;
  };
  const fail = (reason: string, at: number): never => {
    throw new SelectorError(reason, src, at);
  };
  /** End index of the label starting at `at` (== at when there is none). */
  const labelEnd = (at: number): number => {
    let j = at;
    while (j < n && isLabelChar(src.charCodeAt(j))) j++;
    if (j - at > MAX_LABEL_LENGTH) fail(`label key longer than ${MAX_LABEL_LENGTH} characters`, at);
    return j;
  };
  const boundaryAt = (at: number): boolean => at >= n || !isLabelChar(src.charCodeAt(at));
  /** If the words appear at `at` (any spaces between them, a word boundary after the last), their end. */
  const words = (at: number, ...ws: string[]): number => {
    let j = at;
    for (let w = 0; w < ws.length; w++) {
      const word = ws[w]!;
      if (!src.startsWith(word, j)) return -1;
      j += word.length;
      if (w < ws.length - 1) j = skipSpace(j);
    }
    return boundaryAt(j) ? j : -1;
  };
  const push = (kind: Tok, pos: number, value = ''): void => {
    tokens.push({ kind, value, pos });
  };

  for (;;) {
    i = skipSpace(i);
    if (i >= n) {
      push(Tok.Eof, n);
      return tokens;
    }
    const start = i;
    const c = src[i];
    switch (c) {
      case '(':
        push(Tok.LParen, start);
        i++;
        continue;
      case ')':
        push(Tok.RParen, start);
        i++;
        continue;
      case '{':
        push(Tok.LBrace, start);
        i++;
        continue;
      case '}':
        push(Tok.RBrace, start);
        i++;
        continue;
      case ',':
        push(Tok.Comma, start);
        i++;
        continue;
      case '"':
      case "'": {
        const close = src.indexOf(c, i + 1);
        if (close < 0) fail('unterminated string', start);
        push(Tok.String, start, src.slice(i + 1, close));
        i = close + 1;
        continue;
      }
      case '=':
        if (src[i + 1] !== '=') fail("expected '=='", start);
        push(Tok.Eq, start);
        i += 2;
        continue;
      case '!':
        if (src[i + 1] === '=') {
          push(Tok.Ne, start);
          i += 2;
        } else {
          push(Tok.Not, start);
          i++;
        }
        continue;
      case '&':
        if (src[i + 1] !== '&') fail("expected '&&'", start);
        push(Tok.And, start);
        i += 2;
        continue;
      case '|':
        if (src[i + 1] !== '|') fail("expected '||'", start);
        push(Tok.Or, start);
        i += 2;
        continue;
    }

    const last = tokens.length > 0 ? tokens[tokens.length - 1]! : undefined;
    if (last?.kind === Tok.Label) {
      // Right after a label only an operator may follow.
      let end = -1;
      for (const [kind, ws] of LABEL_OPERATORS) {
        end = words(i, ...ws);
        if (end >= 0) {
          push(kind, start);
          break;
        }
      }
      if (end < 0) {
        fail(
          isLabelChar(src.charCodeAt(i))
            ? `expected an operator after label ${JSON.stringify(last.value)}`
            : unexpectedChar(src, i),
          start,
        );
      }
      i = end;
      continue;
    }
    if (src.startsWith('has(', i)) {
      const keyStart = skipSpace(i + 4);
      const keyEnd = labelEnd(keyStart);
      if (keyEnd === keyStart) fail('expected a label key in has()', keyStart);
      const close = skipSpace(keyEnd);
      if (src[close] !== ')') fail("expected ')' to close has(", close);
      push(Tok.Has, start, src.slice(keyStart, keyEnd));
      i = close + 1;
      continue;
    }
    const fn = src.startsWith('all(', i) ? 4 : src.startsWith('global(', i) ? 7 : 0;
    if (fn > 0) {
      const close = skipSpace(i + fn);
      if (src[close] !== ')') fail(`expected ')' to close ${src.slice(i, i + fn)}`, close);
      push(fn === 4 ? Tok.All : Tok.Global, start);
      i = close + 1;
      continue;
    }
    const end = labelEnd(i);
    if (end === i) fail(unexpectedChar(src, i), start);
    push(Tok.Label, start, src.slice(i, end));
    i = end;
  }
}

function unexpectedChar(src: string, i: number): string {
  const ch = String.fromCodePoint(src.codePointAt(i)!);
  const hint = /^\s$/u.test(ch) ? ' (only spaces and tabs may separate tokens)' : '';
  return `unexpected character ${JSON.stringify(ch)}${hint}`;
}

const FIXED_TEXT: Record<number, string> = {
  [Tok.LBrace]: "'{'",
  [Tok.RBrace]: "'}'",
  [Tok.Comma]: "','",
  [Tok.Eq]: "'=='",
  [Tok.Ne]: "'!='",
  [Tok.In]: "'in'",
  [Tok.NotIn]: "'not in'",
  [Tok.Not]: "'!'",
  [Tok.Contains]: "'contains'",
  [Tok.StartsWith]: "'starts with'",
  [Tok.EndsWith]: "'ends with'",
  [Tok.All]: "'all()'",
  [Tok.Global]: "'global()'",
  [Tok.LParen]: "'('",
  [Tok.RParen]: "')'",
  [Tok.And]: "'&&'",
  [Tok.Or]: "'||'",
  [Tok.Eof]: 'end of selector',
};

/** How a token is named in error messages. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case Tok.Label:
      return `label ${JSON.stringify(t.value)}`;
    case Tok.String:
      return `string ${JSON.stringify(t.value)}`;
    case Tok.Has:
      return `'has(${t.value})'`;
    default:
      return FIXED_TEXT[t.kind] ?? 'token';
  }
}
