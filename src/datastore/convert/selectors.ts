// Selector checks and the rewrites Calico applies when it converts policies
// (libcalico-go/lib/backend/syncersv1/updateprocessors/selectors.go, rules.go): every
// selector a converter passes on is parsed first, so a typo rejects the object instead of
// reaching agents.

import { parseSelector, type Selector, SelectorError, withLabelPrefix } from '../../model/selector/index.js';
import { Invalid } from './errors.js';

/** Parses `src`; a SelectorError becomes Invalid("<what>: <reason> at <pos>"). */
export function checkSelector(src: string, what: string): Selector {
  try {
    return parseSelector(src);
  } catch (err) {
    if (err instanceof SelectorError)
      throw new Invalid(`${what}: ${err.reason} at ${err.position}`, { cause: err });
    throw err;
  }
}

/** parseSelectorAttachPrefix: the canonical text of `src` with every label key prefixed. */
export function prefixedSelector(src: string, prefix: string, what: string): string {
  const sel = checkSelector(src, what);
  try {
    return withLabelPrefix(sel, prefix).toString();
  } catch (err) {
    if (err instanceof SelectorError) throw new Invalid(`${what}: ${err.reason}`, { cause: err });
    throw err;
  }
}

/** prefixAndAppendSelector: "(<current>) && <prefixed new>", or the prefixed one alone. */
export function prefixAndAppend(current: string, added: string, prefix: string, what: string): string {
  if (added === '') return current;
  const prefixed = prefixedSelector(added, prefix, what);
  return current === '' ? prefixed : `(${current}) && ${prefixed}`;
}

/** A Kubernetes string for use inside a selector's quotes (label values cannot hold quotes). */
export function quoteSafe(value: string, what: string): string {
  if (value.includes("'")) throw new Invalid(`${what}: value ${JSON.stringify(value)} contains a quote`);
  return value;
}
