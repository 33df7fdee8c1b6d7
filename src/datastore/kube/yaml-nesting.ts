// A bound on how deeply a YAML text nests, measured before the YAML library composes it. The
// library's composer recurses once per level: about 800 levels overflow the stack, and a
// second such document can end the process with a fatal "RegExpCompiler Allocation failed"
// that no try/catch sees. The library's lexer is a flat state machine, so its tokens are
// counted here instead: exact about quotes, comments and block scalars.

import { CST, Lexer } from 'yaml';

/**
 * Most levels a manifest may nest, as estimated below. Far above real manifests (which nest
 * about 15 levels, with 2-space indentation) and 3x below where the composer overflows.
 */
export const MAX_YAML_NESTING = 256;

/**
 * Why `text` nests too deeply to parse safely, or undefined. A line's nesting is estimated as
 * its open flow collections ([ and {) plus twice its indentation and its block indicators
 * (-, ?, :) — every block level either indents by at least one column or is introduced by
 * an indicator, and a sequence may sit at its parent key's indentation, hence the factor 2.
 */
export function yamlNestingProblem(text: string, max = MAX_YAML_NESTING): string | undefined {
  let flow = 0;
  let line = 1;
  let indent = 0;
  let indicators = 0;
  let lineStart = true;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (lineStart && type === 'space') indent = token.length;
    lineStart = false;
    if (type === 'flow-map-start' || type === 'flow-seq-start') flow++;
    else if (type === 'flow-map-end' || type === 'flow-seq-end') flow = Math.max(0, flow - 1);
    else if (
      flow === 0 &&
      (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind')
    )
      indicators++;
    for (let i = token.indexOf('\n'); i !== -1; i = token.indexOf('\n', i + 1)) line++;
    // Block scalar contents come as one token that ends its last line.
    if (token.endsWith('\n')) {
      indent = 0;
      indicators = 0;
      lineStart = true;
    }
    if (flow + 2 * (indent + indicators) > max)
      return `nested more than ${max} levels deep (brackets, indentation and block indicators) at line ${line}`;
  }
  return undefined;
}
