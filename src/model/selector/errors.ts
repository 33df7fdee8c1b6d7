// The one error a selector can raise: where in the source text parsing failed and why.
// Model code imports nothing of ours, so this does not extend the protocol's TabbyError;
// it carries the same `code` convention instead.

export class SelectorError extends Error {
  readonly code = 'TABBY_ERR_SELECTOR';
  /** The selector text as given. */
  readonly source: string;
  /** 0-based index (UTF-16 code unit) into `source` where the problem was found. */
  readonly position: number;
  /** The message without the position/source suffix, e.g. "expected ')'". */
  readonly reason: string;

  constructor(reason: string, source: string, position: number) {
    super(`${reason} at ${position} in ${JSON.stringify(source)}`);
    this.name = 'SelectorError';
    this.source = source;
    this.position = position;
    this.reason = reason;
  }
}
