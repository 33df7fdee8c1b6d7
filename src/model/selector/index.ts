// Calico's label-selector language: parse once, evaluate on the hot path, name by canonical
// text. Semantics follow libcalico-go/lib/selector (tokenizer, parser, ast.go):
//
// - Missing labels: `k == 'v'`, `k in {…}`, `contains`, `starts with`, `ends with` and
//   `has(k)` are false; `k != 'v'` and `k not in {…}` are TRUE (Calico's docs describe != as
//   needing the label, but ast.go LabelNeValueNode returns true when it is absent).
// - `all()` and `global()` always evaluate true. global() only means something once a
//   namespaceSelector is rewritten (namespaceSelectorToEndpointSelector: global() becomes
//   `!has(projectcalico.org/namespace)`); usesGlobal() tells a caller it is present.
// - Empty or blank text parses as all(). Whether a field being empty means all() is the
//   caller's call, and it often does not: an empty rule selector/notSelector/namespaceSelector
//   is "no constraint" (matches any IP, Calico endpoint or not; felix rule_scanner skips it),
//   while all() is "every Calico endpoint/network set"; an empty policy selector is all().
// - Whitespace is space and tab only, as in Calico: a newline is an error.
// - Canonical text is Calico's String(), except that `!(!x)` is written as `x` rather than
//   Calico's `!!x` (which Calico itself re-parses as `x`); this keeps toString() a fixed point.
// - uniqueId() is Calico's UniqueID(): "s:" + base64url(SHA-224("s:" + canonical)).

export type { SelectorNode, ValueOp } from './ast.js';
export type { LabelLookup, Labels } from './compile.js';
export { SelectorError } from './errors.js';
export { MAX_NESTING } from './parser.js';
export { Selector } from './selector.js';
export { isValidLabelKey, MAX_LABEL_LENGTH } from './tokenizer.js';
export { namespaceSelectorToEndpointSelector, substituteFunctions, withLabelPrefix } from './transform.js';

import { Selector } from './selector.js';

/** Parses Calico selector text; throws SelectorError with the position of the problem. */
export function parseSelector(src: string): Selector {
  return Selector.parse(src);
}
