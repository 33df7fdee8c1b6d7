// The MessagePack profile of proto/PROTOCOL.md §4.1, checked in one pass over the raw bytes of
// a body before msgpackr decodes it. It has to be the bytes: msgpackr quietly normalises much
// of what the profile forbids (duplicate keys merged, invalid UTF-8 turned into U+FFFD, bin,
// ext and 0xc1 turned into objects, 64-bit integers rounded, `__proto__` renamed), and it
// recurses, so nesting is bounded here, iteratively, before it runs.

import { isUtf8 } from 'node:buffer';

/**
 * Deepest nesting of arrays and maps in a body; the body map itself is level 1, so a KV's
 * value in a SNAPSHOT_CHUNK or DELTA (body → kvs → pair → value) may nest 97 levels.
 * msgpackr's recursive decoder overflows the stack somewhere above 4,000 on default stacks.
 */
export const MAX_BODY_DEPTH = 100;

const SAFE_HI = 0x1fffff; // high 32 bits of 2^53 − 1

/**
 * Why `buf` is not exactly one MessagePack value within the profile and nested at most
 * `maxDepth` levels, or undefined if it is. Never throws and never recurses.
 */
export function profileViolation(buf: Buffer, maxDepth = MAX_BODY_DEPTH): string | undefined {
  const end = buf.length;
  let pos = 0;
  // Open containers, innermost last: items still to read (a map of n entries has 2n items,
  // keys at even counts) and, for maps, the keys seen so far: small maps as [start, end]
  // pairs in `ranges` from keysAt, compared byte by byte; large ones in a Set.
  const left: number[] = [];
  const isMap: boolean[] = [];
  const keysAt: number[] = [];
  const keySets: Array<Set<string> | undefined> = [];
  const ranges: number[] = [];
  do {
    if (pos >= end) return 'truncated MessagePack data';
    const top = left.length - 1;
    const isKey = top >= 0 && isMap[top]! && (left[top]! & 1) === 0;
    if (top >= 0) left[top]!--;
    const t = buf[pos++]!;
    let strLen = -1;
    let items = -1;
    let map = false;
    if (t <= 0x7f || t >= 0xe0) {
      // positive or negative fixint
    } else if (t <= 0x8f) {
      items = t & 0x0f;
      map = true;
    } else if (t <= 0x9f) {
      items = t & 0x0f;
    } else if (t <= 0xbf) {
      strLen = t & 0x1f;
    } else {
      const need = WIDTH[t - 0xc0]!;
      if (need < 0) return FORBIDDEN[t - 0xc0] ?? `MessagePack type 0x${t.toString(16)}`;
      if (pos + need > end) return 'truncated MessagePack data';
      switch (t) {
        case 0xca:
          if (!Number.isFinite(buf.readFloatBE(pos))) return 'NaN or infinite float';
          break;
        case 0xcb:
          if (!Number.isFinite(buf.readDoubleBE(pos))) return 'NaN or infinite float';
          break;
        case 0xcf:
          if (buf.readUInt32BE(pos) > SAFE_HI) return 'integer beyond 2^53 − 1';
          break;
        case 0xd3:
          if (!Number.isSafeInteger(buf.readInt32BE(pos) * 2 ** 32 + buf.readUInt32BE(pos + 4)))
            return 'integer beyond 2^53 − 1';
          break;
        case 0xd9:
          strLen = buf[pos]!;
          break;
        case 0xda:
          strLen = buf.readUInt16BE(pos);
          break;
        case 0xdb:
          strLen = buf.readUInt32BE(pos);
          break;
        case 0xdc:
        case 0xde:
          items = buf.readUInt16BE(pos);
          map = t === 0xde;
          break;
        case 0xdd:
        case 0xdf:
          items = buf.readUInt32BE(pos);
          map = t === 0xdf;
          break;
      }
      pos += need;
    }
    if (isKey && strLen < 0) return 'map key is not a string';
    if (strLen >= 0) {
      if (strLen > end - pos) return 'truncated MessagePack data';
      if (!isValidUtf8(buf, pos, pos + strLen)) return 'string is not valid UTF-8';
      if (isKey) {
        const why = checkKey(buf, pos, pos + strLen, keySets[top], ranges, keysAt[top]!);
        if (why) return why;
      }
      pos += strLen;
    } else if (items >= 0) {
      if (left.length + 1 > maxDepth) return `arrays and maps nested deeper than ${maxDepth} levels`;
      const n = map ? items * 2 : items;
      // Every item takes at least one byte: a count beyond the bytes left is a lie.
      if (n > end - pos) return 'truncated MessagePack data';
      if (n > 0) {
        left.push(n);
        isMap.push(map);
        keysAt.push(ranges.length);
        keySets.push(map && items > SMALL_MAP ? new Set() : undefined);
      }
    }
    while (left.length > 0 && left[left.length - 1] === 0) {
      left.pop();
      isMap.pop();
      ranges.length = keysAt.pop()!;
      keySets.pop();
    }
  } while (left.length > 0);
  return pos === end ? undefined : 'bytes after the MessagePack value';
}

/** Extra header bytes after the type byte of 0xc0–0xdf; −1: forbidden by the profile. */
// biome-ignore format: one row per 16 type bytes
const WIDTH: readonly number[] = [
  0, -1, 0, 0, -1, -1, -1, -1, -1, -1, 4, 8, 1, 2, 4, 8, // c0–cf
  1, 2, 4, 8, -1, -1, -1, -1, -1, 1, 2, 4, 2, 4, 2, 4, // d0–df
];
const FORBIDDEN: Readonly<Record<number, string>> = {
  1: 'MessagePack 0xc1 (never used)',
  4: 'MessagePack bin',
  5: 'MessagePack bin',
  6: 'MessagePack bin',
  7: 'MessagePack ext',
  8: 'MessagePack ext',
  9: 'MessagePack ext',
  20: 'MessagePack ext',
  21: 'MessagePack ext',
  22: 'MessagePack ext',
  23: 'MessagePack ext',
  24: 'MessagePack ext',
};

function isValidUtf8(buf: Buffer, start: number, stop: number): boolean {
  // Most strings are short ASCII: checking bytes here is cheaper than a subarray per string.
  if (stop - start <= 64) {
    let i = start;
    while (i < stop && buf[i]! < 0x80) i++;
    if (i === stop) return true;
  }
  return isUtf8(buf.subarray(start, stop));
}

/** Maps up to this many entries find duplicate keys by comparing bytes, larger ones by a Set. */
const SMALL_MAP = 16;
const PROTO = Buffer.from('__proto__');

/**
 * Duplicate keys and `__proto__` (which JavaScript receivers cannot hold as data). The key
 * is buf[start, stop); keys seen before in its map are `seen`, or ranges[from…] when small.
 */
function checkKey(
  buf: Buffer,
  start: number,
  stop: number,
  seen: Set<string> | undefined,
  ranges: number[],
  from: number,
): string | undefined {
  const len = stop - start;
  if (len === PROTO.length && buf.compare(PROTO, 0, len, start, stop) === 0) return 'map key "__proto__"';
  if (seen !== undefined) {
    // Latin-1 maps bytes 1:1, so equal strings mean equal bytes (the UTF-8 is already valid).
    const k = buf.toString('latin1', start, stop);
    if (seen.has(k)) return 'duplicate map key';
    seen.add(k);
    return undefined;
  }
  for (let r = from; r < ranges.length; r += 2) {
    const s = ranges[r]!;
    if (ranges[r + 1]! - s !== len) continue;
    let i = 0;
    while (i < len && buf[s + i] === buf[start + i]) i++;
    if (i === len) return 'duplicate map key';
  }
  ranges.push(start, stop);
  return undefined;
}
