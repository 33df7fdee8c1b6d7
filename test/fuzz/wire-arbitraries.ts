// fast-check generators of hostile protocol input: frames of every type, valid and mutated
// bodies (fields dropped, retyped, nil'd, unknown ones added), every allowed MessagePack
// format and the forbidden ones, byte flips, truncation, bad headers, deflate tricks, deep
// nesting and huge counts. They say nothing of the expected outcome: the oracle
// (spec-oracle.ts) decides that from the bytes.

import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { T } from './spec-oracle.js';

/** Bytes spliced verbatim into an encoded body (forbidden types, bad UTF-8, deep nesting). */
export class Raw {
  constructor(readonly bytes: Buffer) {}
}
export type Value = null | boolean | number | string | Raw | Value[] | { [k: string]: Value };

/** A tiny PRNG so one generated integer picks every format choice of an encoding. */
function chooser(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const u8 = (...b: number[]) => Buffer.from(b);
function be(n: number, bytes: 1 | 2 | 4): Buffer {
  const b = Buffer.alloc(bytes);
  if (bytes === 1) b.writeUInt8(n);
  else if (bytes === 2) b.writeUInt16BE(n);
  else b.writeUInt32BE(n);
  return b;
}

/** MessagePack of `v`, in any of the formats §4.1 allows, picked by `seed`. */
export function encode(v: Value, seed = 1): Buffer {
  const pick = chooser(seed);
  const parts: Buffer[] = [];
  const put = (x: Value): void => {
    if (x instanceof Raw) parts.push(x.bytes);
    else if (x === null) parts.push(u8(0xc0));
    else if (x === true) parts.push(u8(0xc3));
    else if (x === false) parts.push(u8(0xc2));
    else if (typeof x === 'number') parts.push(number(x, pick));
    else if (typeof x === 'string') parts.push(string(x, pick));
    else if (Array.isArray(x)) {
      parts.push(header(x.length, 0x90, 0xdc, pick));
      for (const e of x) put(e);
    } else {
      const keys = Object.keys(x);
      parts.push(header(keys.length, 0x80, 0xde, pick));
      for (const k of keys) {
        parts.push(string(k, pick));
        put(x[k]!);
      }
    }
  };
  put(v);
  return Buffer.concat(parts);
}

function header(n: number, fix: number, wide16: number, pick: (n: number) => number): Buffer {
  const c = pick(3);
  if (n < 16 && c === 0) return u8(fix | n);
  if (n < 0x10000 && c !== 2) return Buffer.concat([u8(wide16), be(n, 2)]);
  return Buffer.concat([u8(wide16 + 1), be(n, 4)]);
}

function string(s: string, pick: (n: number) => number): Buffer {
  const b = Buffer.from(s, 'utf8');
  const c = pick(4);
  if (b.length < 32 && c === 0) return Buffer.concat([u8(0xa0 | b.length), b]);
  if (b.length < 256 && c === 1) return Buffer.concat([u8(0xd9, b.length), b]);
  if (b.length < 0x10000 && c === 2) return Buffer.concat([u8(0xda), be(b.length, 2), b]);
  return Buffer.concat([u8(0xdb), be(b.length, 4), b]);
}

function number(x: number, pick: (n: number) => number): Buffer {
  const f64 = (): Buffer => {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(x, 1);
    return b;
  };
  if (!Number.isInteger(x) || Object.is(x, -0)) {
    if (Math.fround(x) === x && pick(2) === 0) {
      const b = Buffer.alloc(5);
      b[0] = 0xca;
      b.writeFloatBE(x, 1);
      return b;
    }
    return f64();
  }
  const options: Array<() => Buffer> = [f64];
  if (Math.abs(x) <= 2 ** 53 - 1) {
    const big = (t: number, signed: boolean) => () => {
      const b = Buffer.alloc(9);
      b[0] = t;
      if (signed) b.writeBigInt64BE(BigInt(x), 1);
      else b.writeBigUInt64BE(BigInt(x), 1);
      return b;
    };
    options.push(big(0xd3, true));
    if (x >= 0) options.push(big(0xcf, false));
  }
  if (x >= 0 && x <= 0x7f) options.push(() => u8(x));
  if (x >= -32 && x < 0) options.push(() => u8(x & 0xff));
  if (x >= 0 && x <= 0xff) options.push(() => u8(0xcc, x));
  if (x >= 0 && x <= 0xffff) options.push(() => Buffer.concat([u8(0xcd), be(x, 2)]));
  if (x >= 0 && x <= 0xffffffff) options.push(() => Buffer.concat([u8(0xce), be(x, 4)]));
  if (x >= -128 && x <= 127) options.push(() => u8(0xd0, x & 0xff));
  const signed = (t: number, n: 2 | 4) => () => {
    const b = Buffer.alloc(1 + n);
    b[0] = t;
    b.writeIntBE(x, 1, n);
    return b;
  };
  if (x >= -32768 && x <= 32767) options.push(signed(0xd1, 2));
  if (x >= -(2 ** 31) && x < 2 ** 31) options.push(signed(0xd2, 4));
  return options[pick(options.length)]!();
}

export function frameBytes(type: number, body: Buffer, flags = 0, length = body.length + 2): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt32BE(length >>> 0, 0);
  h[4] = type;
  h[5] = flags;
  return Buffer.concat([h, body]);
}

// ---- values ------------------------------------------------------------------------------

/** Tokens §4.1 forbids, and ones it allows that implementations often get wrong. */
const forbidden = fc.constantFrom(
  u8(0xc1),
  u8(0xc4, 1, 0),
  u8(0xc7, 1, 5, 0),
  u8(0xd4, 0xff, 0),
  u8(0xd6, 0xff, 0, 0, 0, 0), // timestamp ext
  u8(0xca, 0x7f, 0xc0, 0, 0), // NaN
  u8(0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0), // -Infinity
  u8(0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0), // 2^53
  u8(0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0), // -2^53
  u8(0xa2, 0xc3, 0x28), // invalid UTF-8
  u8(0xa3, 0xed, 0xa0, 0x80), // encoded surrogate
  u8(0xa2, 0xc0, 0x80), // overlong NUL
  u8(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61), // str 32 claiming 4 GiB
  u8(0xdd, 0xff, 0xff, 0xff, 0xff), // array 32 claiming 2^32−1 items
  u8(0xdf, 0x7f, 0xff, 0xff, 0xff), // map 32 claiming 2^31−1 entries
  u8(0x82, 0xa1, 0x61, 1, 0xa1, 0x61, 2), // duplicate key
  u8(0x81, 0xa9, ...Buffer.from('__proto__'), 1),
  u8(0x81, 1, 1), // integer key
  u8(0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // 2^53−1: allowed
  u8(0xca, 0x4b, 0x80, 0, 0), // float32 16777216: allowed
);

/** `depth` arrays or maps, each inside the one before (the outermost counts as 1). */
export function nested(depth: number, maps: boolean): Raw {
  const open = maps ? u8(0x81, 0xa1, 0x61) : u8(0x91);
  return new Raw(
    Buffer.concat([Buffer.concat(Array.from({ length: depth - 1 }, () => open)), maps ? u8(0x80) : u8(0x90)]),
  );
}

const deep = fc
  .tuple(fc.oneof(fc.integer({ min: 90, max: 102 }), fc.constantFrom(1, 500, 5_000, 100_000)), fc.boolean())
  .map(([d, maps]) => nested(d, maps));

const text = fc.oneof(
  fc.constantFrom(
    '',
    'felix',
    'bgp',
    'deflate',
    'none',
    'k',
    'wireguard-public-key',
    'a'.repeat(64),
    'f'.repeat(64),
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const num = fc.oneof(
  fc.constantFrom(
    0,
    1,
    -1,
    1.5,
    -0,
    2 ** 32,
    2 ** 53 - 1,
    2 ** 53,
    1e300,
    -(2 ** 53 - 1),
    16 << 20,
    (1 << 20) + 4096,
  ),
  fc.integer(),
  fc.nat(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Any value, allowed or not: what a hostile peer puts in a field. */
export const anyValue: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    num,
    text,
    forbidden.map((b) => new Raw(b)),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(text, tie('v'), { maxKeys: 3 }).map((d) => ({ ...d }) as Value),
    deep,
  ),
})).v;

// ---- bodies of every type --------------------------------------------------------------

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const hello = fc.record(
  {
    versions: fc.oneof(
      { weight: 4, arbitrary: fc.constant([1]) },
      fc.array(fc.nat({ max: 4 }), { maxLength: 3 }),
    ),
    syncer: fc.constantFrom('felix', 'felix', 'felix', 'bgp', 'bgp', 'typha'),
    hostname: fc.constantFrom('node-1', 'fuzz'),
    agent: fc.constant('fuzz/1'),
    compressions: fc.constantFrom([], ['deflate'], ['zstd', 'deflate'], ['zstd']),
    maxFrameBytes: fc.constantFrom(16 << 20, 1 << 30, 1024, (1 << 20) + 4096),
    resume: fc.record(
      { epoch: fc.stringMatching(/^[0-9a-f]{0,16}$/), generation: fc.nat(), hash: hex64 },
      { requiredKeys: ['epoch', 'generation'] },
    ),
    rank: fc.nat({ max: 5 }),
  },
  { requiredKeys: ['versions', 'syncer', 'hostname', 'agent', 'compressions'] },
);
const ts = fc.oneof(fc.nat(), fc.constant(Date.now()), fc.constant(2 ** 53 - 1));
const bodies: Record<number, fc.Arbitrary<Record<string, Value>>> = {
  [T.Hello]: hello as unknown as fc.Arbitrary<Record<string, Value>>,
  [T.Ping]: fc.record({ ts }),
  [T.Pong]: fc.record({ ts }),
  [T.Ack]: fc.record({ generation: fc.nat(), hash: hex64 }, { requiredKeys: ['generation'] }),
  [T.Goodbye]: fc.record(
    { code: fc.constantFrom('client-closing', 'whatever'), message: text, retryAfterMs: fc.nat() },
    { requiredKeys: ['code', 'message'] },
  ),
  [T.Report]: fc.oneof(
    fc.record({ kind: text, node: text, data: anyValue }, { requiredKeys: ['kind'] }),
    // The kind servers accept, with data valid or nearly so.
    fc.record(
      {
        kind: fc.constant('wireguard-public-key'),
        node: fc.constantFrom('node-1', 'fuzz', 'other'),
        data: fc.oneof(
          fc.record({
            publicKey: fc.oneof(
              fc.constant(null),
              fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
              text,
            ),
          }),
          anyValue,
        ),
      },
      { requiredKeys: ['kind', 'data'] },
    ) as fc.Arbitrary<Record<string, Value>>,
  ),
  [T.ServerHello]: fc.record({
    version: fc.constant(1),
    syncer: fc.constant('felix'),
    compression: fc.constantFrom('none', 'deflate'),
    epoch: fc.stringMatching(/^[0-9a-f]{0,16}$/),
    serverId: fc.constant('s'),
    resumed: fc.boolean(),
    pingIntervalMs: fc.nat(),
    pongTimeoutMs: fc.nat(),
  }),
  [T.SnapshotBegin]: fc.record({
    epoch: fc.stringMatching(/^[0-9a-f]{0,16}$/),
    generation: fc.nat(),
    keys: fc.nat(),
    chunks: fc.nat(),
  }),
  [T.SnapshotChunk]: fc.record({ kvs: fc.array(fc.tuple(text, anyValue), { maxLength: 3 }) }),
  [T.SnapshotEnd]: fc.record({ generation: fc.nat(), hash: hex64 }),
  [T.Delta]: fc.record({
    to: fc.nat(),
    kvs: fc.array(fc.tuple(text, anyValue), { maxLength: 3 }),
    more: fc.boolean(),
  }),
  [T.Status]: fc.record({
    status: fc.constantFrom('in-sync', 'resync', 'wait-for-datastore'),
    generation: fc.nat(),
  }),
};

/** A body of `type`, then maybe mutated: a field dropped, retyped, set to nil; unknown fields. */
function mutatedBody(type: number): fc.Arbitrary<Value> {
  const base = bodies[type] ?? fc.constant({});
  return fc
    .tuple(
      base,
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('drop' as const), i: fc.nat() }),
          fc.record({ op: fc.constant('set' as const), i: fc.nat(), v: anyValue }),
          fc.record({ op: fc.constant('nil' as const), i: fc.nat() }),
          fc.record({ op: fc.constant('add' as const), k: text, v: anyValue }),
        ),
        { maxLength: 2 },
      ),
      fc.integer({ min: 0, max: 9 }),
    )
    .map(([b, ops, notMap]) => {
      const body: Record<string, Value> = { ...b };
      for (const o of ops) {
        const keys = Object.keys(body);
        if (o.op === 'add') {
          if (o.k !== '__proto__') body[o.k] = o.v;
          continue;
        }
        if (keys.length === 0) continue;
        const k = keys[o.i % keys.length]!;
        if (o.op === 'drop') delete body[k];
        else body[k] = o.op === 'set' ? o.v : null;
      }
      // Now and then the body is not a map at all.
      return notMap === 0 ? Object.values(body) : body;
    });
}

/** Byte-level damage to an encoded body. */
const damage = fc.oneof(
  { weight: 6, arbitrary: fc.constant((b: Buffer) => b) },
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([i, x]) => (b: Buffer) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[i % c.length]! ^= x;
    return c;
  }),
  fc.nat().map((i) => (b: Buffer) => b.subarray(0, b.length === 0 ? 0 : i % b.length)),
  fc.uint8Array({ minLength: 1, maxLength: 4 }).map((x) => (b: Buffer) => Buffer.concat([b, Buffer.from(x)])),
);

const clientTypes = [T.Hello, T.Ping, T.Pong, T.Ack, T.Goodbye, T.Report];
const serverTypes = [T.ServerHello, T.SnapshotBegin, T.SnapshotChunk, T.SnapshotEnd, T.Delta, T.Status];

/** One frame's bytes of `type`: a well-formed or mutated body, sometimes damaged or deflated. */
function messageFrame(types: number[]): fc.Arbitrary<Buffer> {
  return fc
    .constantFrom(...types)
    .chain((type) =>
      fc.tuple(fc.constant(type), mutatedBody(type), fc.integer(), damage, fc.nat({ max: 19 })),
    )
    .map(([type, body, seed, dmg, how]) => {
      const raw = dmg(encode(body, seed));
      if (how === 0) return frameBytes(type, deflateSync(raw), 1);
      if (how === 1) return frameBytes(type, Buffer.concat([deflateSync(raw), u8(0)]), 1); // trailing byte
      if (how === 2) return frameBytes(type, deflateSync(raw).subarray(0, 3), 1); // truncated zlib
      return frameBytes(type, raw);
    });
}

/** A frame that is valid through §19 step 6: most of the traffic, so connections carry many cases. */
function validFrame(types: number[]): fc.Arbitrary<Buffer> {
  return (
    fc
      .constantFrom(...types)
      .chain((type) => fc.tuple(fc.constant(type), bodies[type]!, fc.integer(), fc.boolean()))
      // HELLO is never compressed (§3): a deflated one is left to messageFrame's mutations.
      .map(([type, body, seed, z]) =>
        z && type !== T.Hello
          ? frameBytes(type, deflateSync(encode(body, seed)), 1)
          : frameBytes(type, encode(body, seed)),
      )
  );
}

/** Frames that break framing itself. */
const badFraming = fc.oneof(
  fc.constantFrom(
    u8(0, 0, 0, 0),
    u8(0, 0, 0, 1, 8),
    u8(0xff, 0xff, 0xff, 0xff, 8, 0),
    u8(0, 0x10, 0, 1, 8, 0), // 1 MiB + 1
    u8(0, 0, 0x40, 1, 1, 0), // 16 KiB + 1: too large before HELLO only
  ),
  fc
    .tuple(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 8 }),
    )
    .map(([type, flags, body]) => frameBytes(type, Buffer.from(body), flags)),
  // A zlib bomb: a few KiB that inflate beyond the 1 MiB message limit.
  fc.constant(frameBytes(T.Ping, deflateSync(encode({ ts: 1, pad: 'x'.repeat((1 << 20) + 10) })), 1)),
  // The largest frame allowed after HELLO, and a body that nests as deep as allowed, then one more.
  fc.constant(frameBytes(T.Report, encode({ kind: 'k', data: 'x'.repeat((1 << 20) - 40) }))),
  fc.constantFrom(99, 100).map((d) => frameBytes(T.Report, encode({ kind: 'k', data: nested(d, true) }))),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b)),
);

/** Unassigned types (§5) with a well-formed body. */
const unassigned = fc
  .tuple(fc.oneof(fc.constant(0), fc.integer({ min: 0x0e, max: 0xff })), mutatedBody(T.Ping), fc.integer())
  .map(([type, body, seed]) => frameBytes(type, encode(body, seed)));

/** A flood: the same valid frame many times over, in one write. */
const flood = fc
  .tuple(validFrame([T.Ping, T.Pong, T.Ack, T.Report]), fc.integer({ min: 50, max: 2_000 }))
  .map(([f, n]) => Buffer.concat(Array.from({ length: n }, () => f)));

/** One frame a client might send after HELLO, from most to least well-behaved. */
export const anyFrame: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 80, arbitrary: validFrame([T.Ping, T.Pong, T.Ack, T.Report]) },
  { weight: 4, arbitrary: messageFrame(clientTypes) },
  { weight: 2, arbitrary: messageFrame(serverTypes) },
  { weight: 1, arbitrary: validFrame([T.Goodbye, T.Hello, ...serverTypes]) },
  { weight: 1, arbitrary: validFrame([T.Goodbye]) },
  { weight: 2, arbitrary: badFraming },
  { weight: 1, arbitrary: unassigned },
  { weight: 1, arbitrary: flood },
);

/** A connection's whole byte stream: an opening frame (mostly HELLO), then many more. */
export const connectionScript = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: validFrame([T.Hello]) },
      { weight: 3, arbitrary: messageFrame([T.Hello]) },
      { weight: 1, arbitrary: anyFrame },
    ),
    fc.array(anyFrame, { maxLength: 40 }),
    fc.array(fc.nat(), { maxLength: 3 }),
  )
  .map(([first, rest, cuts]) => {
    const stream = Buffer.concat([first, ...rest]);
    const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
    return { stream, splits: at };
  });

// ---- a hostile server's side ----------------------------------------------------------------

/** A snapshot that a client accepts (right counts, epoch and state hash), to reach STREAMING. */
const goodSnapshot = fc
  .tuple(
    fc.nat({ max: 1000 }),
    fc.array(fc.tuple(fc.stringMatching(/^\/calico\/v1\/[a-z]{1,8}$/), fc.nat()), { maxLength: 3 }),
  )
  .map(([generation, pairs]) => {
    const kvs = [...new Map(pairs)].map(([k, v]) => [k, v] as Value);
    const f = (type: number, body: Value) => frameBytes(type, encode(body));
    return (epoch: string, hashOf: (kvs: Array<[string, number]>) => string) =>
      Buffer.concat([
        f(T.SnapshotBegin, { epoch, generation, keys: kvs.length, chunks: kvs.length === 0 ? 0 : 1 }),
        ...(kvs.length === 0 ? [] : [f(T.SnapshotChunk, { kvs })]),
        f(T.SnapshotEnd, { generation, hash: hashOf(kvs as Array<[string, number]>) }),
        f(T.Status, { status: 'in-sync', generation }),
      ]);
  });

/** One frame a server might send after its SERVER_HELLO, from well-behaved to hostile. */
const anyServerFrame: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: validFrame([T.Ping, T.Pong]) },
  { weight: 4, arbitrary: validFrame(serverTypes) },
  { weight: 4, arbitrary: messageFrame([...serverTypes, T.Ping, T.Goodbye]) },
  { weight: 1, arbitrary: validFrame([T.Goodbye, ...clientTypes]) },
  { weight: 2, arbitrary: badFraming },
  { weight: 1, arbitrary: unassigned },
);

/**
 * What a hostile server sends a client on one connection: a SERVER_HELLO (mostly valid), maybe
 * a snapshot the client accepts, then anything. `epoch` of the valid SERVER_HELLO is fixed so
 * the snapshot matches; the test supplies the state hash function.
 */
export const serverScript = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: validFrame([T.ServerHello]).map(() => 'valid' as const) },
      { weight: 3, arbitrary: messageFrame([T.ServerHello]) },
      { weight: 1, arbitrary: anyServerFrame },
    ),
    fc.constantFrom('none', 'deflate'),
    fc.option(goodSnapshot, { freq: 2 }),
    fc.array(anyServerFrame, { maxLength: 12 }),
    fc.array(fc.nat(), { maxLength: 3 }),
  )
  .map(([first, compression, snap, rest, cuts]) => (hashOf: (kvs: Array<[string, number]>) => string) => {
    const epoch = 'e1';
    const hello =
      first === 'valid'
        ? frameBytes(
            T.ServerHello,
            encode({
              version: 1,
              syncer: 'felix',
              compression,
              epoch,
              serverId: 'hostile',
              resumed: false,
              pingIntervalMs: 60_000,
              pongTimeoutMs: 120_000,
            }),
          )
        : first;
    const stream = Buffer.concat([hello, ...(snap ? [snap(epoch, hashOf)] : []), ...rest]);
    const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
    return { stream, splits: at };
  });
