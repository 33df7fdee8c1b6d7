// The error every table-based dataplane driver reports a failed apply with.

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';

export class DataplaneError extends TabbyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.DataplaneApply, message, options);
  }
}

/** `err` as a DataplaneError saying what failed (one already is kept as it is). */
export const dataplaneError = (err: unknown, what: string): DataplaneError =>
  err instanceof DataplaneError
    ? err
    : new DataplaneError(`${what} failed: ${(err as Error).message}`, { cause: err });
