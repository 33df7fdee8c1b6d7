// Frame encoding: round trips of every message type over random content, the splice of
// pre-encoded KVs (bodyWithKVs) against a plain encode, compression, and a check with a
// small independent MessagePack reader that our bytes are standard MessagePack (no ext,
// no bin, no reserved bytes, string map keys, nothing trailing).

import { inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashState } from '../../src/model/state-hash.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import {
  arrayHeader,
  bodyWithKVs,
  encodeBody,
  encodeKV,
  encodeMessage,
  FLAG_DEFLATE,
  frame,
  HEADER_BYTES,
  packr,
} from '../../src/protocol/codec.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { EncodeError } from '../../src/protocol/errors.js';
import { type Message, MsgType } from '../../src/protocol/messages.js';
import { encodeCase, GOLDEN_CASES, plainBody } from '../golden/gen-frames.js';

const LIMITS = { maxFrameBytes: 64 << 20, maxMessageBytes: 64 << 20, deflate: true };
const decodeOne = (bytes: Buffer): Message => {
  const out = new FrameDecoder(LIMITS).push(bytes);
  expect(out).toHaveLength(1);
  return out[0]!;
};

// ---- an independent, strict MessagePack reader (the subset PROTOCOL.md allows) ----------

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readStrict(buf: Uint8Array): unknown {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const need = (n: number): void => {
    if (p + n > buf.length) throw new Error(`truncated at ${p}`);
  };
  const u = (n: 1 | 2 | 4): number => {
    need(n);
    const v = n === 1 ? view.getUint8(p) : n === 2 ? view.getUint16(p) : view.getUint32(p);
    p += n;
    return v;
  };
  const str = (n: number): string => {
    need(n);
    const s = utf8.decode(buf.subarray(p, p + n));
    p += n;
    return s;
  };
  const arr = (n: number): unknown[] => Array.from({ length: n }, () => read());
  const map = (n: number): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = read();
      if (typeof k !== 'string') throw new Error(`map key ${String(k)} is not a string`);
      if (Object.hasOwn(o, k)) throw new Error(`duplicate map key ${k}`);
      Object.defineProperty(o, k, { value: read(), enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  const big = (v: bigint): number => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw new Error('unsafe int');
    return Number(v);
  };
  const fixed = <T>(n: number, f: (at: number) => T): T => {
    need(n);
    const v = f(p);
    p += n;
    return v;
  };
  function read(): unknown {
    const b = u(1);
    if (b <= 0x7f) return b;
    if (b <= 0x8f) return map(b & 0x0f);
    if (b <= 0x9f) return arr(b & 0x0f);
    if (b <= 0xbf) return str(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xca:
        return fixed(4, (at) => view.getFloat32(at));
      case 0xcb:
        return fixed(8, (at) => view.getFloat64(at));
      case 0xcc:
        return u(1);
      case 0xcd:
        return u(2);
      case 0xce:
        return u(4);
      case 0xcf:
        return big(fixed(8, (at) => view.getBigUint64(at)));
      case 0xd0:
        return fixed(1, (at) => view.getInt8(at));
      case 0xd1:
        return fixed(2, (at) => view.getInt16(at));
      case 0xd2:
        return fixed(4, (at) => view.getInt32(at));
      case 0xd3:
        return big(fixed(8, (at) => view.getBigInt64(at)));
      case 0xd9:
        return str(u(1));
      case 0xda:
        return str(u(2));
      case 0xdb:
        return str(u(4));
      case 0xdc:
        return arr(u(2));
      case 0xdd:
        return arr(u(4));
      case 0xde:
        return map(u(2));
      case 0xdf:
        return map(u(4));
      default: // 0xc1 (never used), 0xc4-0xc6 (bin), 0xc7-0xc9 and 0xd4-0xd8 (ext)
        throw new Error(`type byte 0x${b.toString(16)} is not allowed`);
    }
  }
  const value = read();
  if (p !== buf.length) throw new Error(`${buf.length - p} bytes after the value`);
  return value;
}

/** The body as it travels: kvs as [key, value] pairs. */
function wireBody(msg: Message): unknown {
  if (!('kvs' in msg.body)) return msg.body;
  return { ...msg.body, kvs: msg.body.kvs.map((kv) => [kv.key, kv.value]) };
}

// ---- arbitraries --------------------------------------------------------------------------

const text = fc.string({ unit: 'grapheme', maxLength: 30 });
/** JSON data as MessagePack carries it: no -0 (it becomes 0), no NaN/Infinity, no __proto__ keys. */
const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x)),
    text,
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(
      text.filter((k) => k !== '__proto__'),
      tie('v'),
      { maxKeys: 5, noNullPrototype: true },
    ),
  ),
})).v;
const key = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }),
  fc.constant('/calico/v1/x'),
);
const kvList = (deletes: boolean): fc.Arbitrary<KV[]> =>
  fc.array(
    fc.record({
      key,
      value: deletes ? fc.oneof(jsonValue, fc.constant(null)) : jsonValue.filter((v) => v !== null),
    }),
    { maxLength: 40 },
  );
const uint = fc.maxSafeInteger().map(Math.abs);
const hash = fc.stringMatching(/^[0-9a-f]{64}$/);

const message: fc.Arbitrary<Message> = fc.oneof(
  fc
    .record(
      {
        versions: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 3 }),
        syncer: fc.constantFrom('felix', 'bgp'),
        hostname: text,
        agent: text,
        compressions: fc.array(fc.constantFrom('deflate', 'snappy', 'zstd'), { maxLength: 3 }),
        maxFrameBytes: uint,
        resume: fc.record({ epoch: text, generation: uint }),
      },
      { requiredKeys: ['versions', 'syncer', 'hostname', 'agent', 'compressions'] },
    )
    .map((body) => ({ type: MsgType.Hello, body }) as Message),
  fc
    .record({
      version: uint,
      syncer: fc.constantFrom('felix', 'bgp'),
      compression: fc.constantFrom('none', 'deflate'),
      epoch: text,
      serverId: text,
      resumed: fc.boolean(),
      pingIntervalMs: uint,
      pongTimeoutMs: uint,
    })
    .map((body) => ({ type: MsgType.ServerHello, body }) as Message),
  fc
    .record({ epoch: text, generation: uint, keys: uint, chunks: uint })
    .map((body) => ({ type: MsgType.SnapshotBegin, body })),
  kvList(false).map((kvs) => ({ type: MsgType.SnapshotChunk, body: { kvs } })),
  fc.record({ generation: uint, hash }).map((body) => ({ type: MsgType.SnapshotEnd, body })),
  fc
    .record(
      { to: uint, kvs: kvList(true), more: fc.boolean(), hash },
      { requiredKeys: ['to', 'kvs', 'more'] },
    )
    .map((body) => ({ type: MsgType.Delta, body })),
  fc
    .record({ status: fc.constantFrom('wait-for-datastore', 'resync', 'in-sync'), generation: uint })
    .map((body) => ({ type: MsgType.Status, body }) as Message),
  uint.map((ts) => ({ type: MsgType.Ping, body: { ts } })),
  uint.map((ts) => ({ type: MsgType.Pong, body: { ts } })),
  fc
    .record({ generation: uint, hash }, { requiredKeys: ['generation'] })
    .map((body) => ({ type: MsgType.Ack, body })),
  fc
    .record({ code: text, message: text, retryAfterMs: uint }, { requiredKeys: ['code', 'message'] })
    .map((body) => ({ type: MsgType.Goodbye, body })),
  fc.record({ kind: text, data: jsonValue }).map((body) => ({ type: MsgType.Report, body })),
);

// ---- tests ------------------------------------------------------------------------------------

describe('codec', () => {
  it('round-trips every message type, plain and deflated', () => {
    fc.assert(
      fc.property(message, fc.boolean(), (msg, deflate) => {
        const bytes = encodeMessage(msg, { deflate, minDeflateBytes: 0 });
        expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
        expect(bytes[4]).toBe(msg.type);
        expect(bytes[5]).toBe(deflate ? FLAG_DEFLATE : 0);
        expect(decodeOne(bytes)).toEqual(msg);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips random KV lists (unicode keys, nested values, deletes), plain and deflated', () => {
    fc.assert(
      fc.property(kvList(true), uint, fc.boolean(), (kvs, to, deflate) => {
        const msg: Message = { type: MsgType.Delta, body: { to, kvs, more: false, hash: hashState([]) } };
        const decoded = decodeOne(encodeMessage(msg, { deflate }));
        expect(decoded).toEqual(msg);
        if (decoded.type === MsgType.Delta) {
          const survivors = (l: KV[]) =>
            l.filter((kv) => kv.value !== null).map((kv) => [kv.key, kv.value] as const);
          const last = (l: KV[]) => new Map(l.map((kv) => [kv.key, kv.value]));
          // What the client hashes is what the server hashed.
          expect(hashState(last(decoded.body.kvs))).toBe(hashState(last(kvs)));
          expect(survivors(decoded.body.kvs)).toEqual(survivors(kvs));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('writes KVs as [key, value] pairs, the same bytes as the pre-encoded path', () => {
    const kvs: KV[] = [
      { key: '/a', value: { x: [1, 'é'] } },
      { key: '/b', value: null },
    ];
    const viaMessage = encodeMessage({ type: MsgType.Delta, body: { to: 7, kvs, more: true } });
    const viaSplice = encodeBody(
      MsgType.Delta,
      bodyWithKVs(
        { to: 7, more: true },
        kvs.map((kv) => encodeKV(kv.key, kv.value)),
      ),
    );
    expect(viaMessage).toEqual(viaSplice);
    expect(packr.unpack(viaMessage.subarray(HEADER_BYTES))).toEqual({
      to: 7,
      more: true,
      kvs: [
        ['/a', { x: [1, 'é'] }],
        ['/b', null],
      ],
    });
  });

  it('an encoded KV owns exactly its bytes: keeping it pins no shared slab (caches keep them)', () => {
    const big = encodeKV('/big', { blob: 'x'.repeat(40_000) }); // grows the encoder's slabs
    const kept = Array.from({ length: 50 }, (_, i) => encodeKV(`/k${i}`, { i }));
    for (const b of [big, ...kept]) {
      expect(b.buffer.byteLength).toBe(b.length);
      expect(b.byteOffset).toBe(0);
    }
    expect(packr.unpack(kept[7]!)).toEqual(['/k7', { i: 7 }]);
  });

  it('bodyWithKVs splices to the same bytes (and value) as packing the whole map', () => {
    fc.assert(
      fc.property(
        fc.record({ to: uint, more: fc.boolean(), hash }, { requiredKeys: [] }),
        kvList(true),
        (fields, kvs) => {
          const pairs = kvs.map((kv) => [kv.key, kv.value]);
          const spliced = bodyWithKVs(
            fields,
            kvs.map((kv) => encodeKV(kv.key, kv.value)),
          );
          const packed = packr.pack({ ...fields, kvs: pairs });
          expect(packr.unpack(spliced)).toEqual(packr.unpack(packed));
          expect(spliced.toString('hex')).toBe(packed.toString('hex'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('bodyWithKVs leaves out undefined fields and handles the array header sizes', () => {
    expect(packr.unpack(bodyWithKVs({ to: 1, hash: undefined }, []))).toEqual({ to: 1, kvs: [] });
    for (const n of [0, 15, 16, 65_535, 65_536]) {
      const items = new Array<number>(n).fill(0);
      expect(arrayHeader(n)).toEqual(packr.pack(items).subarray(0, arrayHeader(n).length));
      const kvs = items.map(() => encodeKV('k', 0));
      expect(packr.unpack(bodyWithKVs({}, kvs)).kvs).toHaveLength(n);
    }
  });

  it('encodeKV is the MessagePack array [key, value]', () => {
    expect(encodeKV('k', null).toString('hex')).toBe('92a16bc0');
    expect(encodeKV('k', { a: 1 }).toString('hex')).toBe('92a16b81a16101');
  });

  it('encodeKV refuses what every receiver would refuse (§4.1), so the server never sends it', () => {
    const nest = (n: number): JsonValue => (n === 0 ? 'x' : { a: nest(n - 1) });
    // The value at level 4 of a body (body map, kvs, pair) may nest 97 levels: 100 in all.
    const decoded = decodeOne(
      encodeMessage({
        type: MsgType.Delta,
        body: { to: 1, more: false, kvs: [{ key: 'k', value: nest(97) }] },
      }),
    );
    expect(decoded.type === MsgType.Delta && decoded.body.kvs[0]!.value).toEqual(nest(97));
    for (const [name, value] of [
      ['nesting beyond the bound', nest(98)],
      ['a lone surrogate (no UTF-8 for it)', { name: 'ab\ud800' }],
      ['NaN', [Number.NaN]],
      ['Infinity', { n: Number.POSITIVE_INFINITY }],
    ] as const) {
      expect(() => encodeKV('k', value as JsonValue), name).toThrowError(EncodeError);
    }
    expect(() => encodeKV('k\udc00', 1)).toThrowError(EncodeError);
  });

  it('lays out the frame header: u32 BE length of type+flags+body, type, flags', () => {
    const f = frame(MsgType.Ack, Buffer.from([0x81, 0xa1, 0x67, 0x05]), 0);
    expect(f.toString('hex')).toBe('00000006' + '0a' + '00' + '81a16705');
    expect(frame(MsgType.Ack, Buffer.alloc(0)).toString('hex')).toBe('000000020a00');
  });

  it('compresses with zlib (RFC 1950) only from minDeflateBytes on, each frame on its own', () => {
    const body = packr.pack({ kvs: [['k', 'x'.repeat(2000)]] });
    const small = packr.pack({ ts: 1 });
    const big = encodeBody(MsgType.SnapshotChunk, body, { deflate: true, minDeflateBytes: 1024 });
    expect(big[5]).toBe(FLAG_DEFLATE);
    expect(big[HEADER_BYTES]! & 0x0f).toBe(8); // zlib CMF: deflate method
    expect(((big[HEADER_BYTES]! << 8) | big[HEADER_BYTES + 1]!) % 31).toBe(0); // zlib FCHECK
    expect(inflateSync(big.subarray(HEADER_BYTES))).toEqual(body);
    expect(big.length).toBeLessThan(body.length);
    expect(encodeBody(MsgType.Ping, small, { deflate: true, minDeflateBytes: 1024 })[5]).toBe(0);
    expect(encodeBody(MsgType.Ping, small, { deflate: false })[5]).toBe(0);
    const exactly = Buffer.alloc(1024, 0x90);
    expect(encodeBody(MsgType.Ping, exactly, { deflate: true, minDeflateBytes: 1024 })[5]).toBe(FLAG_DEFLATE);
    // No shared dictionary: encoding the same body twice gives the same bytes.
    expect(encodeBody(MsgType.SnapshotChunk, body, { deflate: true })).toEqual(big);
  });

  it('omits map entries whose value is undefined instead of writing nil', () => {
    const g = encodeMessage({
      type: MsgType.Goodbye,
      body: { code: 'shutdown', message: '', retryAfterMs: undefined },
    });
    expect(packr.unpack(g.subarray(HEADER_BYTES))).toEqual({ code: 'shutdown', message: '' });
    expect(decodeOne(g)).toEqual({ type: MsgType.Goodbye, body: { code: 'shutdown', message: '' } });
    // Inside values too, so both ends hash the same thing (JCS drops undefined members as well).
    const value = { a: 1, b: undefined } as unknown as JsonValue;
    const d = decodeOne(
      encodeMessage({ type: MsgType.Delta, body: { to: 1, kvs: [{ key: 'k', value }], more: false } }),
    );
    expect(d.type === MsgType.Delta && d.body.kvs[0]!.value).toEqual({ a: 1 });
    expect(hashState([['k', value]])).toBe(hashState([['k', { a: 1 }]]));
  });

  it('writes standard MessagePack: golden frames and random messages pass a strict reader', () => {
    for (const c of GOLDEN_CASES) {
      const body = plainBody(encodeCase(c));
      expect(readStrict(body)).toEqual(packr.unpack(body));
      expect(readStrict(body)).toEqual(wireBody(c.message));
    }
    fc.assert(
      fc.property(message, (msg) => {
        const body = encodeMessage(msg).subarray(HEADER_BYTES);
        expect(readStrict(body)).toEqual(wireBody(msg));
      }),
      { numRuns: 300 },
    );
  });

  it('the strict reader itself rejects what the protocol forbids', () => {
    const bad = [
      'c1',
      'c40101',
      'd40000',
      'd6ff00000001',
      'c70100',
      '81a16101c0',
      '8101a161',
      '82a16101a16102',
    ];
    for (const hex of bad) expect(() => readStrict(Buffer.from(hex, 'hex')), hex).toThrow();
    expect(readStrict(Buffer.from('81a16192c0cb3ff8000000000000', 'hex'))).toEqual({ a: [null, 1.5] });
  });

  it('writes integers up to 2^32-1 as ints and larger ones as float64 (readers must accept both)', () => {
    expect(packr.pack(0xffffffff).toString('hex')).toBe('ceffffffff');
    expect(packr.pack(2 ** 32).toString('hex')).toBe('cb41f0000000000000');
    expect(readStrict(Buffer.from('cf0000000100000000', 'hex'))).toBe(2 ** 32);
  });
});
