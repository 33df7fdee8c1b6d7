// Turns a parsed selector into a tree of small closures, built once per selector, so that
// evaluation allocates nothing and does no dispatch on node kinds. Label semantics follow
// Calico's parser/ast.go Evaluate(): a missing label fails ==, in, contains, starts with and
// ends with, and satisfies != and not in; all() and global() are always true.

import type { SelectorNode } from './ast.js';

/** Labels as a plain object: its string-valued properties (Object.prototype's members never count). */
export type Labels = Readonly<Record<string, string>>;
/** Labels behind a lookup, e.g. a Map or an inheritance-aware view (endpoint over profiles). */
export interface LabelLookup {
  get(key: string): string | undefined;
}
export type Predicate<L> = (labels: L) => boolean;

const TRUE = (): boolean => true;
const FALSE = (): boolean => false;

function combine<L>(kind: 'and' | 'or', parts: Predicate<L>[]): Predicate<L> {
  const [a, b, c] = parts as [Predicate<L>, Predicate<L>, Predicate<L>];
  if (kind === 'and') {
    if (parts.length === 2) return (l) => a(l) && b(l);
    if (parts.length === 3) return (l) => a(l) && b(l) && c(l);
    return (l) => {
      for (let i = 0; i < parts.length; i++) if (!parts[i]!(l)) return false;
      return true;
    };
  }
  if (parts.length === 2) return (l) => a(l) || b(l);
  if (parts.length === 3) return (l) => a(l) || b(l) || c(l);
  return (l) => {
    for (let i = 0; i < parts.length; i++) if (parts[i]!(l)) return true;
    return false;
  };
}

/** Leaves that read a label through `read`; used for lookups and for awkward object keys. */
function leafVia<L>(node: SelectorNode, read: (l: L) => string | undefined): Predicate<L> {
  switch (node.kind) {
    case 'has':
      return (l) => read(l) !== undefined;
    case 'eq': {
      const v = node.value;
      return (l) => read(l) === v;
    }
    case 'ne': {
      const v = node.value;
      return (l) => read(l) !== v;
    }
    case 'contains': {
      const v = node.value;
      return (l) => read(l)?.includes(v) === true;
    }
    case 'startsWith': {
      const v = node.value;
      return (l) => read(l)?.startsWith(v) === true;
    }
    case 'endsWith': {
      const v = node.value;
      return (l) => read(l)?.endsWith(v) === true;
    }
    case 'in':
    case 'notIn': {
      const set = new Set(node.values);
      const want = node.kind === 'in';
      return (l) => {
        const x = read(l);
        return x === undefined ? !want : set.has(x) === want;
      };
    }
    default:
      throw new Error(`not a leaf: ${node.kind}`);
  }
}

/**
 * Leaves that index the object directly. Inherited members such as `constructor` are
 * functions, never strings, so comparing against string values and checking
 * `typeof === 'string'` keeps them from looking like labels without a hasOwn call.
 */
function recordLeaf(node: SelectorNode & { key: string }): Predicate<Labels> {
  const k = node.key;
  if (k === '__proto__') {
    // Plain property access would reach Object.prototype's accessor, not an own label.
    return leafVia<Labels>(node, (l) => (Object.hasOwn(l, k) ? ownString(l, k) : undefined));
  }
  switch (node.kind) {
    case 'has':
      return (l) => typeof l[k] === 'string';
    case 'eq': {
      const v = node.value;
      return (l) => l[k] === v;
    }
    case 'ne': {
      const v = node.value;
      return (l) => l[k] !== v;
    }
    case 'contains': {
      const v = node.value;
      return (l) => {
        const x = l[k];
        return typeof x === 'string' && x.includes(v);
      };
    }
    case 'startsWith': {
      const v = node.value;
      return (l) => {
        const x = l[k];
        return typeof x === 'string' && x.startsWith(v);
      };
    }
    case 'endsWith': {
      const v = node.value;
      return (l) => {
        const x = l[k];
        return typeof x === 'string' && x.endsWith(v);
      };
    }
    case 'in':
    case 'notIn': {
      const want = node.kind === 'in';
      if (node.values.length === 0) return want ? FALSE : TRUE;
      if (node.values.length === 1) {
        const v = node.values[0];
        return want ? (l) => l[k] === v : (l) => l[k] !== v;
      }
      const set: ReadonlySet<unknown> = new Set(node.values);
      return want ? (l) => set.has(l[k]) : (l) => !set.has(l[k]);
    }
    default:
      throw new Error(`not a leaf: ${node.kind}`);
  }
}

function ownString(l: Labels, k: string): string | undefined {
  const v = Object.getOwnPropertyDescriptor(l, k)?.value;
  return typeof v === 'string' ? v : undefined;
}

function compileWith<L>(
  node: SelectorNode,
  leaf: (n: SelectorNode & { key: string }) => Predicate<L>,
): Predicate<L> {
  switch (node.kind) {
    case 'all':
    case 'global':
      return TRUE;
    case 'not': {
      const inner = compileWith(node.operand, leaf);
      return (l) => !inner(l);
    }
    case 'and':
    case 'or':
      return combine(
        node.kind,
        node.operands.map((n) => compileWith(n, leaf)),
      );
    default:
      return leaf(node);
  }
}

export function compileRecord(node: SelectorNode): Predicate<Labels> {
  return compileWith(node, recordLeaf);
}

export function compileLookup(node: SelectorNode): Predicate<LabelLookup> {
  return compileWith<LabelLookup>(node, (n) => {
    const k = n.key;
    return leafVia<LabelLookup>(n, (l) => l.get(k));
  });
}
