// The MessagePack profile of PROTOCOL.md §4.1 holds for a whole body, wherever a forbidden
// encoding sits: inside an unknown field, a KV value, a REPORT's data or a map key. Every
// violation, at any depth and among any valid siblings, ends with malformed-frame; every
// allowed encoding of JSON data, in any width, decodes to that data.

import { isUtf8 } from 'node:buffer';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayHeader, FLAG_DEFLATE, frame, packr } from '../../src/protocol/codec.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { CloseCode, ProtocolError } from '../../src/protocol/errors.js';
import { MsgType } from '../../src/protocol/messages.js';
import { MAX_BODY_DEPTH } from '../../src/protocol/profile.js';

const LIMITS = { maxFrameBytes: 4 << 20, maxMessageBytes: 4 << 20, deflate: true };
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const mapHeader = (n: number): Buffer =>
  n < 16 ? Buffer.from([0x80 | n]) : Buffer.from([0xde, n >> 8, n & 0xff]);
const str = (s: string): Buffer => packr.pack(s);
/** A type byte and `size` bytes after it, written by `write` (from offset 1). */
const tagged = (tag: number, size: number, write: (b: Buffer) => unknown): Buffer => {
  const b = Buffer.alloc(1 + size);
  b[0] = tag;
  write(b);
  return b;
};
const withLength = (tag: number, width: 1 | 2 | 4, len: number): Buffer =>
  tagged(tag, width, (b) => b.writeUIntBE(len, 1, width));
/** A str header of the given format (not necessarily the shortest) and the bytes. */
const rawStr = (bytes: Uint8Array, format: 0 | 1 | 2 | 3): Buffer => {
  const head =
    format === 0 && bytes.length < 32
      ? Buffer.from([0xa0 | bytes.length])
      : format <= 1 && bytes.length < 256
        ? withLength(0xd9, 1, bytes.length)
        : format <= 2 && bytes.length < 65536
          ? withLength(0xda, 2, bytes.length)
          : withLength(0xdb, 4, bytes.length);
  return Buffer.concat([head, bytes]);
};

/** What a decoder does with one frame: the decoded body or the close code it throws. */
function decode(type: number, body: Buffer, compress = false): { ok: unknown } | { code: CloseCode } {
  const f = compress ? frame(type as MsgType, deflateSync(body), FLAG_DEFLATE) : frame(type as MsgType, body);
  try {
    const out = new FrameDecoder(LIMITS).push(f);
    expect(out).toHaveLength(1);
    return { ok: out[0]!.body };
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return { code: (err as ProtocolError).closeCode };
  }
}

// ---- where a value sits: a path of arrays and maps, with valid siblings -------------------

const json: fc.Arbitrary<Json> = fc
  .jsonValue({ maxDepth: 3, stringUnit: 'grapheme' })
  .filter((v) => !JSON.stringify(v).includes('"__proto__"')) as fc.Arbitrary<Json>;
const level = fc.record({
  map: fc.boolean(),
  before: fc.array(json, { maxLength: 3 }),
  after: fc.array(json, { maxLength: 3 }),
});
const path = fc.array(level, { maxLength: 6 });
type Path =
  fc.Arbitrary<Array<{ map: boolean; before: Json[]; after: Json[] }>> extends fc.Arbitrary<infer P>
    ? P
    : never;

/** A PING body {ts: 1, x: …} whose unknown field x holds `inner` at the end of `p`. */
function pingWith(p: Path, inner: Buffer): Buffer {
  let bytes = inner;
  for (const l of [...p].reverse()) {
    const n = l.before.length + 1 + l.after.length;
    const part = (v: Json, i: number, tag: string) =>
      l.map ? [str(`${tag}${i}`), packr.pack(v)] : [packr.pack(v)];
    bytes = Buffer.concat([
      l.map ? mapHeader(n) : arrayHeader(n),
      ...l.before.flatMap((v, i) => part(v, i, 'b')),
      ...(l.map ? [str('hole')] : []),
      bytes,
      ...l.after.flatMap((v, i) => part(v, i, 'a')),
    ]);
  }
  return Buffer.concat([mapHeader(2), str('ts'), packr.pack(1), str('x'), bytes]);
}

// ---- the violations of §4.1 --------------------------------------------------------------

const bytes = (max = 300) => fc.uint8Array({ maxLength: max });
const c1 = fc.constant(Buffer.from([0xc1]));
const bin = fc
  .tuple(fc.constantFrom(0xc4, 0xc5, 0xc6), bytes())
  .map(([t, d]) => Buffer.concat([withLength(t, t === 0xc4 ? 1 : t === 0xc5 ? 2 : 4, d.length), d]));
const extType = fc.oneof(fc.constant(-1), fc.integer({ min: -128, max: 127 })); // −1: timestamp
const ext = fc.oneof(
  fc
    .tuple(fc.constantFrom([0xd4, 1], [0xd5, 2], [0xd6, 4], [0xd7, 8], [0xd8, 16]), extType, fc.nat(255))
    .map(([[t, n], type, fill]) => Buffer.concat([Buffer.from([t!, type & 0xff]), Buffer.alloc(n!, fill)])),
  fc
    .tuple(fc.constantFrom(0xc7, 0xc8, 0xc9), extType, bytes())
    .map(([t, type, d]) =>
      Buffer.concat([
        withLength(t, t === 0xc7 ? 1 : t === 0xc8 ? 2 : 4, d.length),
        Buffer.from([type & 0xff]),
        d,
      ]),
    ),
);
const nonFinite = fc.oneof(
  // Exponent all ones: a zero mantissa is ±Infinity, any other NaN.
  fc
    .tuple(fc.boolean(), fc.integer({ min: 0, max: 0x7fffff }))
    .map(([neg, m]) =>
      tagged(0xca, 4, (b) => b.writeUInt32BE(((neg ? 0x80000000 : 0) | 0x7f800000 | m) >>> 0, 1)),
    ),
  fc
    .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }))
    .map(([neg, m]) =>
      tagged(0xcb, 8, (b) => b.writeBigUInt64BE((neg ? 1n << 63n : 0n) | (0x7ffn << 52n) | m, 1)),
    ),
);
const u64 = (n: bigint) => tagged(0xcf, 8, (b) => b.writeBigUInt64BE(n, 1));
const i64 = (n: bigint) => tagged(0xd3, 8, (b) => b.writeBigInt64BE(n, 1));
const bigInteger = fc.oneof(
  fc.bigInt({ min: 1n << 53n, max: (1n << 64n) - 1n }).map(u64),
  fc
    .oneof(
      fc.bigInt({ min: -(1n << 63n), max: -(1n << 53n) }),
      fc.bigInt({ min: 1n << 53n, max: (1n << 63n) - 1n }),
    )
    .map(i64),
);
const badUtf8Bytes = fc
  .oneof(
    bytes(40).filter((b) => !isUtf8(b)),
    // Encoded surrogates, overlong forms, beyond U+10FFFF, a cut sequence, a lone continuation.
    fc.constantFrom(
      'eda080',
      'edbfbf',
      'c080',
      'c1bf',
      'e08080',
      'f08080',
      'f4908080',
      'f5',
      'e282',
      '80',
      'ff',
    ),
  )
  .map((b) => (typeof b === 'string' ? Buffer.from(b, 'hex') : Buffer.from(b)));
const format = fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>;
const badUtf8 = fc.oneof(
  fc
    .tuple(badUtf8Bytes, fc.string(), format)
    .map(([b, s, f]) => rawStr(Buffer.concat([Buffer.from(s), b]), f)),
  // …as a map key.
  fc.tuple(badUtf8Bytes, format).map(([b, f]) => Buffer.concat([mapHeader(1), rawStr(b, f), packr.pack(1)])),
);
const nonStringKey = fc
  .oneof(
    fc.integer(),
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true }),
    fc.array(fc.integer()),
    fc.constant({}),
  )
  .map((k) => Buffer.concat([mapHeader(1), packr.pack(k), packr.pack('v')]));
const duplicateKey = fc
  .tuple(fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 20 }), fc.nat(), fc.nat(), format)
  .map(([keys, from, to, f]) => {
    // The copy is written in another str format: equal content, different header.
    const dup = keys[from % keys.length]!;
    const all = keys.map((k) => rawStr(Buffer.from(k), 0));
    all.splice(to % (keys.length + 1), 0, rawStr(Buffer.from(dup), f));
    return Buffer.concat([mapHeader(all.length), ...all.flatMap((k) => [k, packr.pack(0)])]);
  });
const protoKey = json.map((v) => Buffer.concat([mapHeader(1), str('__proto__'), packr.pack(v)]));
const tooDeep = fc
  .tuple(fc.integer({ min: MAX_BODY_DEPTH, max: 3 * MAX_BODY_DEPTH }), fc.boolean())
  .map(([n, maps]) => (maps ? mapChain(n) : Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0xc0])])));
/** n maps, each the value of key "a" in the one around it. */
function mapChain(n: number): Buffer {
  return Buffer.concat([Buffer.from('81a161'.repeat(n), 'hex'), Buffer.from([0xc0])]);
}

const VIOLATIONS = {
  'the never-used byte c1': c1,
  'bin 8/16/32': bin,
  'ext and fixext, the timestamp type -1 included': ext,
  'NaN and ±Infinity in float32/float64': nonFinite,
  'integers beyond ±(2^53 − 1) in uint 64 / int 64': bigInteger,
  'invalid UTF-8 in a string or a map key': badUtf8,
  'a map key that is not a string': nonStringKey,
  'a duplicate map key': duplicateKey,
  'the map key __proto__': protoKey,
  [`arrays or maps nested deeper than ${MAX_BODY_DEPTH}`]: tooDeep,
};

describe('§4.1 profile: every violation, anywhere in a body, is malformed-frame', () => {
  for (const [name, violation] of Object.entries(VIOLATIONS)) {
    it(name, () => {
      fc.assert(
        fc.property(path, violation, json, fc.boolean(), (p, bad, good, compress) => {
          // The same place holding valid data is accepted: the violation alone is refused.
          expect(decode(MsgType.Ping, pingWith(p, packr.pack(good)), compress)).toEqual({ ok: { ts: 1 } });
          expect(decode(MsgType.Ping, pingWith(p, bad), compress)).toEqual({
            code: CloseCode.MalformedFrame,
          });
        }),
        { numRuns: 150 },
      );
    });
  }

  it('inside a KV value of a DELTA and inside REPORT data, not only in unknown fields', () => {
    fc.assert(
      fc.property(fc.oneof(...Object.values(VIOLATIONS)), (bad) => {
        const delta = Buffer.concat([
          Buffer.from('83a2746f01a46d6f7265c2a36b76739192a16b', 'hex'), // {to:1, more:false, kvs:[["k", …
          bad,
        ]);
        expect(decode(MsgType.Delta, delta)).toEqual({ code: CloseCode.MalformedFrame });
        const report = Buffer.concat([mapHeader(2), str('kind'), str('k'), str('data'), bad]);
        expect(decode(MsgType.Report, report)).toEqual({ code: CloseCode.MalformedFrame });
      }),
      { numRuns: 300 },
    );
  });

  it('any truncation of a valid body, and any bytes after it', () => {
    fc.assert(
      fc.property(
        path,
        json,
        fc.nat(),
        bytes(8).filter((b) => b.length > 0),
        (p, good, cut, extra) => {
          const body = pingWith(p, packr.pack(good));
          expect(decode(MsgType.Ping, body.subarray(0, cut % body.length))).toEqual({
            code: CloseCode.MalformedFrame,
          });
          expect(decode(MsgType.Ping, Buffer.concat([body, extra]))).toEqual({
            code: CloseCode.MalformedFrame,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('nesting far beyond the bound, without exhausting the stack', () => {
    for (const n of [MAX_BODY_DEPTH + 1, 10_000, 200_000]) {
      const report = Buffer.concat([mapHeader(2), str('kind'), str('k'), str('data'), mapChain(n)]);
      expect(decode(MsgType.Report, report)).toEqual({ code: CloseCode.MalformedFrame });
      const arrays = Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0xc0])]);
      expect(decode(MsgType.Ping, pingWith([], arrays))).toEqual({ code: CloseCode.MalformedFrame });
    }
  });

  it('an array or map count beyond the bytes left, before anything is allocated for it', () => {
    for (const hex of ['81a178dd7fffffff', '81a178dfffffffff', '81a178dc0002c0']) {
      expect(decode(MsgType.Ping, Buffer.from(hex, 'hex'))).toEqual({ code: CloseCode.MalformedFrame });
    }
  });
});

// ---- what the profile allows --------------------------------------------------------------

/** MessagePack of `v` in randomly chosen, not necessarily shortest, allowed formats. */
function encodeLoose(v: Json, pick: () => number): Buffer {
  if (v === null) return Buffer.from([0xc0]);
  if (typeof v === 'boolean') return Buffer.from([v ? 0xc3 : 0xc2]);
  if (typeof v === 'string') return rawStr(Buffer.from(v), (pick() % 4) as 0 | 1 | 2 | 3);
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && pick() % 2 === 0) return v >= 0 ? u64(BigInt(v)) : i64(BigInt(v));
    if (Math.fround(v) === v && pick() % 2 === 0) return tagged(0xca, 4, (b) => b.writeFloatBE(v, 1));
    return tagged(0xcb, 8, (b) => b.writeDoubleBE(v, 1));
  }
  const wide = pick() % 2 === 0;
  if (Array.isArray(v)) {
    const head = wide ? withLength(0xdd, 4, v.length) : arrayHeader(v.length);
    return Buffer.concat([head, ...v.map((x) => encodeLoose(x, pick))]);
  }
  const entries = Object.entries(v);
  const head = wide ? withLength(0xdf, 4, entries.length) : mapHeader(entries.length);
  return Buffer.concat([head, ...entries.flatMap(([k, x]) => [encodeLoose(k, pick), encodeLoose(x, pick)])]);
}

describe('§4.1 profile: what it allows', () => {
  it('JSON data in any allowed format and width, full Unicode included, decodes to that data', () => {
    fc.assert(
      fc.property(json, fc.infiniteStream(fc.nat()), (value, choices) => {
        const it = choices[Symbol.iterator]();
        const data = encodeLoose(value, () => it.next().value as number);
        const report = Buffer.concat([mapHeader(2), str('kind'), str('k'), str('data'), data]);
        const out = decode(MsgType.Report, report);
        expect('ok' in out).toBe(true);
        // JSON text compares -0 and 0 as JSON does (they are the same value, §4.3).
        expect(JSON.stringify((out as { ok: { data: Json } }).ok.data)).toBe(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });

  it(`nesting up to exactly ${MAX_BODY_DEPTH} levels, the body map included`, () => {
    // REPORT data sits at level 2: a chain of MAX − 1 maps fills the bound.
    const report = (n: number) =>
      Buffer.concat([mapHeader(2), str('kind'), str('k'), str('data'), mapChain(n)]);
    expect('ok' in decode(MsgType.Report, report(MAX_BODY_DEPTH - 1))).toBe(true);
    expect(decode(MsgType.Report, report(MAX_BODY_DEPTH))).toEqual({ code: CloseCode.MalformedFrame });
  });

  it('the largest safe integers in 64-bit formats, and -0', () => {
    for (const hex of ['cf001fffffffffffff', 'd3ffe0000000000001', 'cb8000000000000000', 'ca80000000']) {
      const out = decode(
        MsgType.Report,
        Buffer.concat([mapHeader(2), str('kind'), str('k'), str('data'), Buffer.from(hex, 'hex')]),
      );
      expect('ok' in out, hex).toBe(true);
    }
  });
});
