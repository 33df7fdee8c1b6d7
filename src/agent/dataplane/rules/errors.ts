// The error every table-based dataplane driver reports a failed apply with.

export class DataplaneError extends Error {
  readonly code = 'TABBY_ERR_DATAPLANE_APPLY';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataplaneError';
  }
}
