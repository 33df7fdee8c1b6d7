// The state hash of proto/PROTOCOL.md ("State hash"): checked against an independent
// BigInt implementation of the formula, the worked example of the spec, and the algebra
// that lets servers and clients maintain it incrementally.

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  EMPTY_STATE_HASH,
  entryDigest,
  hashState,
  StateHash,
} from '../../src/model/state-hash.js';
import type { JsonValue } from '../../src/model/types.js';

const MOD = 1n << 256n;

/** The spec's formula, written independently of src/: SHA-256 digests summed as BigInts. */
function referenceHash(entries: Iterable<readonly [string, JsonValue]>): string {
  let sum = 0n;
  for (const [k, v] of entries) {
    const d = createHash('sha256')
      .update(Buffer.from(k, 'utf8'))
      .update(Buffer.from([0]))
      .update(canonicalJson(v));
    sum = (sum + BigInt(`0x${d.digest('hex')}`)) % MOD;
  }
  return sum.toString(16).padStart(64, '0');
}

// JSON values without -0 (MessagePack and JCS both make it 0) and without NaN/Infinity.
const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x)),
    fc.string({ unit: 'grapheme' }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'grapheme' }), tie('v'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).v;
const key = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
const state = fc.uniqueArray(
  fc.tuple(
    key,
    jsonValue.filter((v) => v !== null),
  ),
  {
    selector: ([k]) => k,
    maxLength: 30,
  },
);

describe('state hash', () => {
  it('is 64 zeros for the empty state', () => {
    expect(EMPTY_STATE_HASH).toBe('0'.repeat(64));
    expect(hashState([])).toBe(EMPTY_STATE_HASH);
    expect(new StateHash().hex()).toBe(EMPTY_STATE_HASH);
  });

  it('matches the worked example of PROTOCOL.md', () => {
    const a = ['/calico/v1/config/LogSeverityScreen', 'Info'] as const;
    const b = [
      '/calico/v1/ipam/v4/pool/10.244.0.0-16',
      { masquerade: true, cidr: '10.244.0.0/16', block_size: 26, ipip_mode: 'always' },
    ] as const;
    expect(canonicalJson(b[1])).toBe(
      '{"block_size":26,"cidr":"10.244.0.0/16","ipip_mode":"always","masquerade":true}',
    );
    expect(entryDigest(...a).toString('hex')).toBe(
      '7a123eb2e52448fcf0473db717d2092782cad29fb3aaab8577ccff519e5fe723',
    );
    expect(entryDigest(...b).toString('hex')).toBe(
      'c7e7d7824dc47fe26c504188d788cc76b0c3c96dfc110aaca8020e4fb877aa75',
    );
    // The two digests sum past 2^256: the carry out of the top is dropped.
    expect(hashState([a, b])).toBe('41fa163532e8c8df5c977f3fef5ad59e338e9c0dafbbb6321fcf0da156d79198');
  });

  it('canonicalises values per RFC 8785 (key order by UTF-16 units, ES number form)', () => {
    expect(canonicalJson({ b: 1, a: [true, null] })).toBe('{"a":[true,null],"b":1}');
    expect(canonicalJson([1.0, 1e21, 1e-7, 0.1, -0, 2 ** 53 + 2, 123e-20])).toBe(
      '[1,1e+21,1e-7,0.1,0,9007199254740994,1.23e-18]',
    );
    expect(canonicalJson('é\u2028\u000f"\\/')).toBe('"é\u2028\\u000f\\"\\\\/"');
    // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FF61 although its code point is larger.
    expect(canonicalJson({ '\uff61': 1, '\u{1f600}': 2, '\r': 3 })).toBe(
      '{"\\r":3,"\u{1f600}":2,"\uff61":1}',
    );
    expect(entryDigest('k', { x: 1, y: 2 })).toEqual(entryDigest('k', { y: 2, x: 1.0 }));
  });

  it('separates key and value with a NUL, so moving bytes between them changes the digest', () => {
    expect(entryDigest('ab', 'c')).not.toEqual(entryDigest('a', 'bc'));
  });

  it('equals the independent BigInt formula', () => {
    fc.assert(
      fc.property(state, (entries) => {
        expect(hashState(entries)).toBe(referenceHash(entries));
      }),
    );
  });

  it('does not depend on the order of entries', () => {
    fc.assert(
      fc.property(
        state.chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s, { minLength: s.length }))),
        ([entries, shuffled]) => {
          expect(hashState(shuffled)).toBe(hashState(entries));
        },
      ),
    );
  });

  it('maintained incrementally (add, replace, delete) equals a full recompute', () => {
    const op = fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', '/x/é', '/y/\u{1f600}'), jsonValue);
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const live = new Map<string, JsonValue>();
        const h = new StateHash();
        for (const [k, v] of ops) {
          h.apply(k, live.get(k), v); // v === null deletes
          if (v === null) live.delete(k);
          else live.set(k, v);
        }
        expect(h.hex()).toBe(hashState(live));
        expect(h.hex()).toBe(referenceHash(live));
      }),
    );
  });

  it('wraps around modulo 2^256 in both directions', () => {
    const ones = Buffer.alloc(32, 0xff);
    const one = Buffer.alloc(32);
    one[31] = 1;
    const h = new StateHash();
    h.subtract(one);
    expect(h.hex()).toBe('f'.repeat(64));
    h.add(one);
    expect(h.hex()).toBe(EMPTY_STATE_HASH);
    h.add(ones);
    h.add(one); // carries through all eight limbs and out of the top
    expect(h.hex()).toBe(EMPTY_STATE_HASH);
  });

  it('copies are independent', () => {
    const h = new StateHash();
    h.add(entryDigest('a', 1));
    const c = h.copy();
    c.add(entryDigest('b', 2));
    expect(h.hex()).toBe(hashState([['a', 1]]));
    expect(c.hex()).toBe(
      hashState([
        ['a', 1],
        ['b', 2],
      ]),
    );
  });

  it('treats null as absent', () => {
    expect(hashState([['a', null]])).toBe(EMPTY_STATE_HASH);
    const h = new StateHash();
    h.apply('a', undefined, null);
    expect(h.hex()).toBe(EMPTY_STATE_HASH);
  });
});
