// The error every table-based dataplane driver reports a failed apply with.

export class DataplaneError extends Error {
  readonly code = 'TABBY_ERR_DATAPLANE_APPLY';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataplaneError';
  }
}

/** `err` as a DataplaneError saying what failed (one already is kept as it is). */
export const dataplaneError = (err: unknown, what: string): DataplaneError =>
  err instanceof DataplaneError
    ? err
    : new DataplaneError(`${what} failed: ${(err as Error).message}`, { cause: err });
