// Bounds on the shape of a value: how deeply it nests and how large it is. Measured without
// recursion, so that a hostile object (nested thousands of levels deep) is rejected before
// anything recursive — converters, the canonical-JSON state hash, MessagePack on both ends
// of the wire — walks it; those overflow the stack at about 2,000 levels (msgpackr) to
// 5,000 (JSON.stringify, canonicalize).

/**
 * Deepest nesting of objects and arrays a value may have. Converted values nest 6 levels at
 * most (a policy rule's port list), the objects they come from 8 in the simulated cluster and
 * the test fixtures, and real Pods about 15 (managedFields mirror the field paths): 64 leaves
 * a wide margin above all of them and stays 30x below where the recursive encoders fail.
 */
export const MAX_VALUE_DEPTH = 64;

/**
 * Largest value, as the length of its JSON text. kube-apiserver refuses request bodies over
 * 3 MiB and etcd stores at most 1.5 MiB per object by default, so no object a real API server
 * holds exceeds this; files and emulators can.
 */
export const MAX_VALUE_BYTES = 3 << 20;

export interface ValueLimits {
  readonly maxDepth: number;
  readonly maxBytes: number;
  /**
   * Also require plain JSON data: finite numbers, plain objects and arrays, no undefined in
   * arrays (an object member that is undefined is left out, as JSON and the encoders do).
   */
  readonly plainJson?: boolean;
}

export const VALUE_LIMITS: ValueLimits = Object.freeze({
  maxDepth: MAX_VALUE_DEPTH,
  maxBytes: MAX_VALUE_BYTES,
});

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** One container being walked: its members (by index or by key) and the next one to visit. */
interface Frame {
  readonly list: readonly unknown[] | undefined;
  readonly obj: Readonly<Record<string, unknown>> | undefined;
  readonly keys: readonly string[] | undefined;
  next: number;
}

/**
 * Why `value` exceeds the limits, prefixed by the top-level field it happened under
 * ("spec: nested more than 64 levels deep"), or undefined if it is within them. Depth counts
 * containers: a scalar is 0 deep, {} and [] are 1, {a: []} is 2. Size counts the JSON text
 * (a string's UTF-16 code units, escapes not counted). The walk keeps one frame per open
 * container, so its memory is bounded by maxDepth, and it stops at the first excess.
 */
export function valueBoundsProblem(value: unknown, limits: ValueLimits = VALUE_LIMITS): string | undefined {
  const { maxDepth, maxBytes, plainJson = false } = limits;
  const stack: Frame[] = [];
  let bytes = 0;
  const fail = (reason: string): string => {
    const top = stack[0];
    if (top === undefined) return reason;
    const at = top.keys === undefined ? `[${top.next - 1}]` : top.keys[top.next - 1]!;
    return `${at}: ${reason}`;
  };
  /** Accounts for one value; a container is opened (pushed). Returns a problem or undefined. */
  const visit = (v: unknown): string | undefined => {
    if (typeof v === 'string') bytes += v.length + 2;
    else if (typeof v === 'number') {
      if (plainJson && !Number.isFinite(v)) return fail(`not a finite number (${v})`);
      bytes += String(v).length;
    } else if (typeof v === 'boolean' || v === null) bytes += 5;
    else if (typeof v === 'object') {
      if (stack.length >= maxDepth) return fail(`nested more than ${maxDepth} levels deep`);
      bytes += 2;
      if (Array.isArray(v)) stack.push({ list: v, obj: undefined, keys: undefined, next: 0 });
      else {
        if (plainJson && !isPlainObject(v)) return fail(`not JSON data (${v.constructor?.name ?? 'object'})`);
        const obj = v as Record<string, unknown>;
        stack.push({ list: undefined, obj, keys: Object.keys(obj), next: 0 });
      }
    } else if (plainJson) return fail(`not JSON data (${typeof v})`);
    return bytes > maxBytes ? fail(`larger than ${maxBytes} bytes of JSON`) : undefined;
  };
  let problem = visit(value);
  while (problem === undefined && stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if (f.list !== undefined) {
      if (f.next >= f.list.length) {
        stack.pop();
        continue;
      }
      const v = f.list[f.next++];
      if (plainJson && v === undefined) problem = fail('not JSON data (undefined in a list)');
      else {
        bytes += 1; // the comma
        problem = visit(v);
      }
    } else {
      const keys = f.keys!;
      if (f.next >= keys.length) {
        stack.pop();
        continue;
      }
      const k = keys[f.next++]!;
      const v = f.obj![k];
      if (v === undefined) continue; // left out, as JSON and both encoders do
      bytes += k.length + 4; // quotes, colon, comma
      problem = visit(v);
    }
  }
  return problem;
}
