// The one error a selector can raise: where in the source text parsing failed and why.

import { ErrorCode } from '../../errors/codes.js';
import { TabbyError } from '../../errors/tabby-error.js';

export class SelectorError extends TabbyError {
  /** The selector text as given. */
  readonly source: string;
  /** 0-based index (UTF-16 code unit) into `source` where the problem was found. */
  readonly position: number;
  /** The message without the position/source suffix, e.g. "expected ')'". */
  readonly reason: string;

  constructor(reason: string, source: string, position: number) {
    super(ErrorCode.Selector, `${reason} at ${position} in ${JSON.stringify(source)}`);
    this.source = source;
    this.position = position;
    this.reason = reason;
  }
}
