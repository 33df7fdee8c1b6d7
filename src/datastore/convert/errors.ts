// The one error conversion raises: which object was rejected and why. Converters throw
// Invalid with a reason only; convertObject() adds the object's identity, so every message
// reads "<Kind> <namespace>/<name>: <reason>".

import { ErrorCode } from '../../errors/codes.js';
import { TabbyError } from '../../errors/tabby-error.js';

export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string | undefined;
  readonly name: string;
}

export class ConversionError extends TabbyError {
  readonly object: ObjectRef;
  /** The problem without the object's identity, e.g. "spec.cidr: invalid CIDR \"10.0.0.0/33\"". */
  readonly reason: string;

  constructor(object: ObjectRef, reason: string, options?: { cause?: unknown }) {
    const ns = object.namespace ? `${object.namespace}/` : '';
    super(ErrorCode.Conversion, `${object.kind} ${ns}${object.name}: ${reason}`, options);
    this.object = object;
    this.reason = reason;
  }
}

/** Thrown inside converters; carries only the reason (the object is added by the caller). */
export class Invalid extends TabbyError {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.ConversionInvalid, reason, options);
  }
}

/**
 * Prefixes a nested helper's reason with where it happened: within('rule egress[0]', …, ' ')
 * around within('destination selector', …) gives "rule egress[0] destination selector: …".
 */
export function within<T>(where: string, fn: () => T, sep = ': '): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Invalid) throw new Invalid(`${where}${sep}${err.reason}`, { cause: err.cause ?? err });
    throw err;
  }
}
