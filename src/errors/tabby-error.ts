// The root of every error Tabby throws: callers branch on `instanceof TabbyError` and `code`
// (from the one table in codes.ts), never on messages. A leaf: imports nothing of ours, so
// every folder, the model and the client library included, can extend it.

import type { ErrorCode } from './codes.js';

export class TabbyError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    // The subclass's own name, so stacks and logs say "BirdConfigError", not "Error".
    this.name = new.target.name;
    this.code = code;
  }
}
