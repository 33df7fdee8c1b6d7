// Rewrites that Calico applies to selectors before evaluating them, done on the tree rather
// than on text (Calico edits the canonical string, which would also hit a quoted value such
// as "all()"). Both return new selectors; the input is unchanged.

import type { SelectorNode } from './ast.js';
import { Selector } from './selector.js';

function mapTree(node: SelectorNode, leaf: (n: SelectorNode) => SelectorNode): SelectorNode {
  switch (node.kind) {
    case 'not':
      return { kind: 'not', operand: mapTree(node.operand, leaf) };
    case 'and':
    case 'or':
      return { kind: node.kind, operands: node.operands.map((n) => mapTree(n, leaf)) };
    default:
      return leaf(node);
  }
}

/**
 * Prefixes every label key, like Calico's parser.PrefixVisitor: "pcns." for a
 * namespaceSelector (namespace labels reach endpoints through the kns.<ns> profile) and
 * "pcsa." for a serviceAccounts.selector. Throws SelectorError if a key grows past 512.
 */
export function withLabelPrefix(sel: Selector, prefix: string): Selector {
  return Selector.fromAst(mapTree(sel.ast, (n) => ('key' in n ? { ...n, key: prefix + n.key } : n)));
}

/**
 * Replaces all() and/or global() wherever they appear. Calico's rule conversion
 * (libcalico-go updateprocessors/rules.go getEndpointSelector) does this to a prefixed
 * namespaceSelector: all() -> has(projectcalico.org/namespace) (every namespaced endpoint),
 * global() -> !has(projectcalico.org/namespace) (only non-namespaced ones).
 */
export function substituteFunctions(sel: Selector, by: { all?: Selector; global?: Selector }): Selector {
  return Selector.fromAst(
    mapTree(sel.ast, (n) => {
      if (n.kind === 'all' && by.all) return by.all.ast;
      if (n.kind === 'global' && by.global) return by.global.ast;
      return n;
    }),
  );
}

const HAS_NAMESPACE = Selector.parse('has(projectcalico.org/namespace)');
const NO_NAMESPACE = Selector.parse('!has(projectcalico.org/namespace)');

/**
 * The endpoint-side form of a rule's namespaceSelector (rules.go getEndpointSelector): keys
 * prefixed "pcns.", all() meaning "any namespaced endpoint" and global() "any non-namespaced
 * endpoint or set". Policy-level namespaceSelectors differ: Calico's GNP conversion rewrites
 * only all() (and over the combined selector text), leaving global() as true.
 */
export function namespaceSelectorToEndpointSelector(nsSel: Selector): Selector {
  return substituteFunctions(withLabelPrefix(nsSel, 'pcns.'), { all: HAS_NAMESPACE, global: NO_NAMESPACE });
}
