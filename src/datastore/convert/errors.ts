// The one error conversion raises: which object was rejected and why. Converters throw
// Invalid with a reason only; convertObject() adds the object's identity, so every message
// reads "<Kind> <namespace>/<name>: <reason>".

export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string | undefined;
  readonly name: string;
}

export class ConversionError extends Error {
  readonly code = 'TABBY_ERR_CONVERSION';
  readonly object: ObjectRef;
  /** The problem without the object's identity, e.g. "spec.cidr: invalid CIDR \"10.0.0.0/33\"". */
  readonly reason: string;

  constructor(object: ObjectRef, reason: string, options?: { cause?: unknown }) {
    const ns = object.namespace ? `${object.namespace}/` : '';
    super(`${object.kind} ${ns}${object.name}: ${reason}`, options);
    this.name = 'ConversionError';
    this.object = object;
    this.reason = reason;
  }
}

/** Thrown inside converters; carries only the reason (the object is added by the caller). */
export class Invalid extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = 'Invalid';
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
