// The order-independent state hash of proto/PROTOCOL.md ("State hash"):
//   entryDigest = SHA-256( UTF-8(key) || 0x00 || UTF-8(JCS(value)) )      (JCS = RFC 8785)
//   stateHash   = sum of all entryDigests as 256-bit big-endian unsigned integers, mod 2^256
// A sum (not XOR) so that it can be maintained incrementally in both directions: adding a
// key adds its digest, deleting subtracts it, replacing does both.

import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import type { JsonValue } from './types.js';

// The package is CommonJS with an ESM-style .d.ts: at run time the default import is the
// function itself, while the types describe a namespace holding it. Accept both shapes.
type Canonicalize = (input: unknown) => string | undefined;
const canonicalize: Canonicalize =
  typeof canonicalizeModule === 'function'
    ? (canonicalizeModule as Canonicalize)
    : (canonicalizeModule as unknown as { default: Canonicalize }).default;

const LIMBS = 8; // 8 x 32-bit limbs, most significant first, like the digest bytes.

export function canonicalJson(value: JsonValue): string {
  const s = canonicalize(value);
  if (s === undefined) throw new TypeError('value has no canonical JSON form');
  return s;
}

export function entryDigest(key: string, value: JsonValue): Buffer {
  return createHash('sha256').update(key).update('\0').update(canonicalJson(value)).digest();
}

/** A mutable 256-bit accumulator of entry digests. */
export class StateHash {
  private readonly limbs = new Uint32Array(LIMBS);

  add(digest: Uint8Array): void {
    let carry = 0;
    for (let i = LIMBS - 1; i >= 0; i--) {
      const sum = this.limbs[i]! + readLimb(digest, i) + carry;
      this.limbs[i] = sum >>> 0;
      carry = sum > 0xffffffff ? 1 : 0;
    }
  }

  subtract(digest: Uint8Array): void {
    let borrow = 0;
    for (let i = LIMBS - 1; i >= 0; i--) {
      const diff = this.limbs[i]! - readLimb(digest, i) - borrow;
      this.limbs[i] = diff >>> 0;
      borrow = diff < 0 ? 1 : 0;
    }
  }

  /** Applies one change given the previous value (undefined/null = absent). */
  apply(key: string, oldValue: JsonValue | undefined, newValue: JsonValue | undefined): void {
    if (oldValue !== undefined && oldValue !== null) this.subtract(entryDigest(key, oldValue));
    if (newValue !== undefined && newValue !== null) this.add(entryDigest(key, newValue));
  }

  hex(): string {
    let s = '';
    for (const limb of this.limbs) s += limb.toString(16).padStart(8, '0');
    return s;
  }

  copy(): StateHash {
    const h = new StateHash();
    h.limbs.set(this.limbs);
    return h;
  }
}

function readLimb(d: Uint8Array, i: number): number {
  const o = i * 4;
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
}

/** Hash of a whole state, for tests and one-shot tools. */
export function hashState(entries: Iterable<readonly [string, JsonValue]>): string {
  const h = new StateHash();
  for (const [k, v] of entries) if (v !== null) h.add(entryDigest(k, v));
  return h.hex();
}

/** The hash of the empty state, all zeros. */
export const EMPTY_STATE_HASH = '0'.repeat(64);
