// Frame encoding. A frame is: u32 BE length (of everything after it) | u8 type | u8 flags |
// body, where the body is one standard MessagePack map, zlib-compressed when flags bit 0
// is set, zstd-compressed when bit 1 is (only where the runtime has zstd: zstd.ts). KVs can be pre-encoded once (encodeKV) and spliced into many frames, which is
// what lets the server encode each generation once for every client.

import { deflateSync } from 'node:zlib';
import { type Options, Packr } from 'msgpackr';
import type { JsonValue } from '../model/types.js';
import { EncodeError } from './errors.js';
import type { Message, MsgType } from './messages.js';
import { MAX_BODY_DEPTH, profileViolation } from './profile.js';
import { zstdCodec } from './zstd.js';

export const HEADER_BYTES = 6;
export const FLAG_DEFLATE = 0x01;
export const FLAG_ZSTD = 0x02;
export const KNOWN_FLAGS = FLAG_DEFLATE | FLAG_ZSTD;
/** zlib level of DEFLATE frames, and zstd level of ZSTD frames (docs/benchmarks.md "Compression"). */
export const DEFLATE_LEVEL = 1;
export const ZSTD_LEVEL = 1;

export interface CompressOptions {
  /** Compress with zlib (DEFLATE flag)... */
  deflate?: boolean;
  /** ...or with zstd (ZSTD flag); throws where the runtime has no zstd (it is never negotiated there). */
  zstd?: boolean;
  /** Bodies below this many bytes go uncompressed. */
  minDeflateBytes?: number;
}

/** Plain MessagePack: no records, no extensions, undefined as nil — any library can read it. */
export const packr = new Packr({
  useRecords: false,
  variableMapSize: true,
  encodeUndefinedAsNil: true,
  // A map entry whose value is undefined is left out, as JSON.stringify and the state hash
  // do; written as nil it would fail an optional field's check and change the hash.
  skipValues: [undefined],
  moreTypes: false,
  int64AsType: 'number',
  mapsAsObjects: true,
} as Options);

export function frame(type: MsgType, body: Uint8Array, flags = 0): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length + 2, 0);
  out[4] = type;
  out[5] = flags;
  out.set(body, HEADER_BYTES);
  return out;
}

/** Encodes one message; compresses the body with zlib when asked and it is at least minBytes. */
export function encodeMessage(msg: Message, opts: CompressOptions = {}): Buffer {
  if ('kvs' in msg.body) {
    // KVs travel as [key, value] pairs, not as {key, value} maps: same bytes as the server's.
    const { kvs, ...fields } = msg.body;
    const entries = kvs.map((kv) => encodeKV(kv.key, kv.value));
    return encodeBody(msg.type, bodyWithKVs(fields, entries), opts);
  }
  return encodeBody(msg.type, packr.pack(msg.body), opts);
}

export function encodeBody(type: MsgType, body: Uint8Array, opts: CompressOptions = {}): Buffer {
  if (body.length < (opts.minDeflateBytes ?? 0)) return frame(type, body);
  if (opts.zstd) {
    const zstd = zstdCodec();
    if (zstd === undefined) throw new RangeError('zstd is not available in this runtime');
    return frame(type, zstd.compress(body, ZSTD_LEVEL), FLAG_ZSTD);
  }
  if (opts.deflate) return frame(type, deflateSync(body, { level: DEFLATE_LEVEL }), FLAG_DEFLATE);
  return frame(type, body);
}

/**
 * The MessagePack bytes of the pair [key, value]: one entry of a `kvs` array, in a buffer of
 * its own. msgpackr returns a view into a shared slab (8 KiB, and after a large value up to
 * 4x that value's size); the cache keeps entries for as long as a key lives, and one kept view
 * pins its whole slab, so memory grew with churn far beyond the bytes the cache counts.
 * Throws EncodeError for what every receiver would refuse (§4.1): e.g. a string with a lone
 * surrogate (msgpackr writes it as invalid UTF-8), NaN, or nesting beyond the body's bound.
 */
export function encodeKV(key: string, value: JsonValue): Buffer {
  const packed = packr.pack([key, value]);
  // The pair sits at level 3 of a body (body map, `kvs`), so it may nest two levels less.
  const violation = profileViolation(packed, MAX_BODY_DEPTH - 2);
  if (violation !== undefined) throw new EncodeError(`${key}: ${violation}`);
  const own = Buffer.allocUnsafeSlow(packed.length); // unpooled: exactly its own bytes
  packed.copy(own);
  return own;
}

export function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x90 | n]);
  if (n < 0x10000) {
    const b = Buffer.allocUnsafe(3);
    b[0] = 0xdc;
    b.writeUInt16BE(n, 1);
    return b;
  }
  const b = Buffer.allocUnsafe(5);
  b[0] = 0xdd;
  b.writeUInt32BE(n, 1);
  return b;
}

function mapHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x80 | n]);
  throw new RangeError('map bodies have fewer than 16 fields');
}

/**
 * A body map whose `kvs` field is a list of pre-encoded entries and whose other fields are
 * plain values, so large frames are assembled by concatenation rather than re-encoding.
 */
export function bodyWithKVs(fields: Record<string, unknown>, encodedKVs: readonly Uint8Array[]): Buffer {
  const names = Object.keys(fields).filter((k) => fields[k] !== undefined);
  const parts: Uint8Array[] = [mapHeader(names.length + 1)];
  for (const name of names) parts.push(packr.pack(name), packr.pack(fields[name]));
  parts.push(packr.pack('kvs'), arrayHeader(encodedKVs.length), ...encodedKVs);
  return Buffer.concat(parts);
}
