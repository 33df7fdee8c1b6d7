// The runtime's one error: parts that failed to stop. Every part gets its stop even when
// another fails (a daemon left running blocks the next agent), so the reasons are collected.

import { ErrorCode } from '../../errors/codes.js';
import { TabbyError } from '../../errors/tabby-error.js';

export class PartsStopError extends TabbyError {
  /** `what` names the parts ("routing parts", "agent parts"); each failure is "name: reason". */
  constructor(
    what: string,
    readonly failures: readonly string[] = [],
  ) {
    super(
      ErrorCode.AgentStop,
      `${what} failed to stop${failures.length > 0 ? `: ${failures.join('; ')}` : ''}`,
    );
  }
}

/** The reasons of the rejected results, named by `names[i]` when given. */
export function stopFailures(
  results: readonly PromiseSettledResult<unknown>[],
  names?: readonly string[],
): string[] {
  return results.flatMap((r, i) =>
    r.status === 'rejected'
      ? [
          `${names?.[i] !== undefined ? `${names[i]}: ` : ''}${String(r.reason instanceof Error ? r.reason.message : r.reason)}`,
        ]
      : [],
  );
}
