// Configuration errors: thrown before anything starts, printed without a stack trace.

export class ConfigError extends Error {
  readonly code = 'TABBY_ERR_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}
