// The parsed form of a selector and its canonical text. The canonical text follows Calico's
// parser/ast.go String(): single spaces, every &&/|| group of two or more in parentheses,
// '!' written tight to its operand, values in "…" unless they contain '"', sets sorted and
// de-duplicated. Calico uses that text as the identity of IP sets, and so do we.

export type ValueOp = 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';

export type SelectorNode =
  | { readonly kind: 'all' }
  | { readonly kind: 'global' }
  | { readonly kind: 'has'; readonly key: string }
  | { readonly kind: ValueOp; readonly key: string; readonly value: string }
  /** `values` is sorted (by code point, like Go's byte order) and de-duplicated; may be empty. */
  | { readonly kind: 'in' | 'notIn'; readonly key: string; readonly values: readonly string[] }
  | { readonly kind: 'not'; readonly operand: SelectorNode }
  /** Two or more operands; nesting is kept as written, as Calico does. */
  | { readonly kind: 'and' | 'or'; readonly operands: readonly SelectorNode[] };

export const ALL: SelectorNode = Object.freeze({ kind: 'all' });
export const GLOBAL: SelectorNode = Object.freeze({ kind: 'global' });

/**
 * Negation that cancels a double '!'. Calico collapses a run of '!' tokens but keeps
 * `!(!x)` as two NotNodes, printing "!!x", which then re-parses as x; cancelling here keeps
 * the canonical text a fixed point (see the note in index.ts).
 */
export function notNode(operand: SelectorNode): SelectorNode {
  return operand.kind === 'not' ? operand.operand : { kind: 'not', operand };
}

/** Orders strings by Unicode code point, which is the byte order of their UTF-8 (Go's order). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 puts surrogates (D800–DFFF, i.e. code points above FFFF) before E000–FFFF;
    // shift both ranges so that the comparison follows code points.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

export function sortedUnique(values: readonly string[]): string[] {
  const out = [...values].sort(compareCodePoints);
  let w = 0;
  for (let r = 0; r < out.length; r++) if (r === 0 || out[r] !== out[w - 1]) out[w++] = out[r]!;
  out.length = w;
  return out;
}

const OP_TEXT: Record<ValueOp, string> = {
  eq: ' == ',
  ne: ' != ',
  contains: ' contains ',
  startsWith: ' starts with ',
  endsWith: ' ends with ',
};

function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

export function render(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.key})`;
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return node.key + OP_TEXT[node.kind] + quote(node.value);
    case 'in':
    case 'notIn':
      return `${node.key} ${node.kind === 'in' ? 'in' : 'not in'} {${node.values.map(quote).join(', ')}}`;
    case 'not':
      return `!${render(node.operand)}`;
    case 'and':
    case 'or':
      return `(${node.operands.map(render).join(node.kind === 'and' ? ' && ' : ' || ')})`;
  }
}

/** Every label key the selector reads, sorted by code point and de-duplicated. */
export function collectKeys(node: SelectorNode, into: string[] = []): string[] {
  switch (node.kind) {
    case 'all':
    case 'global':
      break;
    case 'not':
      collectKeys(node.operand, into);
      break;
    case 'and':
    case 'or':
      for (const op of node.operands) collectKeys(op, into);
      break;
    default:
      into.push(node.key);
  }
  return into;
}

/** True if the selector contains global() anywhere. */
export function containsGlobal(node: SelectorNode): boolean {
  switch (node.kind) {
    case 'global':
      return true;
    case 'not':
      return containsGlobal(node.operand);
    case 'and':
    case 'or':
      return node.operands.some(containsGlobal);
    default:
      return false;
  }
}
