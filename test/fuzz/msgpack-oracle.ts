// The fuzz oracle's own reading of a body under PROTOCOL.md §4.1, written from the spec and
// sharing no code with src/protocol/profile.ts or msgpackr: a plain recursive reader whose
// recursion is bounded by the spec's depth limit (it gives up at level 101), so a second,
// independent implementation decides what the server's decoder must refuse.

export const SPEC_MAX_DEPTH = 100;
const SAFE = 2 ** 53 - 1;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export type Read = { ok: true; value: unknown } | { ok: false; why: string };

class Bad extends Error {}

/** Reads exactly one value of the profile from `buf`, or says why the body breaks §4.1. */
export function readBody(buf: Uint8Array): Read {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const need = (n: number): void => {
    if (n > buf.length - pos) throw new Bad('truncated');
  };
  const str = (n: number): string => {
    need(n);
    let s: string;
    try {
      s = utf8.decode(buf.subarray(pos, pos + n));
    } catch {
      throw new Bad('invalid UTF-8');
    }
    pos += n;
    return s;
  };
  const value = (depth: number): unknown => {
    need(1);
    const t = buf[pos++]!;
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t <= 0x8f) return map(t & 0x0f, depth);
    if (t <= 0x9f) return array(t & 0x0f, depth);
    if (t <= 0xbf) return str(t & 0x1f);
    const u = (n: 1 | 2 | 4): number => {
      need(n);
      const v = n === 1 ? view.getUint8(pos) : n === 2 ? view.getUint16(pos) : view.getUint32(pos);
      pos += n;
      return v;
    };
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xca:
      case 0xcb: {
        need(t === 0xca ? 4 : 8);
        const f = t === 0xca ? view.getFloat32(pos) : view.getFloat64(pos);
        pos += t === 0xca ? 4 : 8;
        if (!Number.isFinite(f)) throw new Bad('non-finite float');
        return f;
      }
      case 0xcc:
        return u(1);
      case 0xcd:
        return u(2);
      case 0xce:
        return u(4);
      case 0xcf: {
        need(8);
        const v = view.getBigUint64(pos);
        pos += 8;
        if (v > BigInt(SAFE)) throw new Bad('uint64 beyond 2^53-1');
        return Number(v);
      }
      case 0xd0:
      case 0xd1:
      case 0xd2: {
        const n = t === 0xd0 ? 1 : t === 0xd1 ? 2 : 4;
        need(n);
        const v = n === 1 ? view.getInt8(pos) : n === 2 ? view.getInt16(pos) : view.getInt32(pos);
        pos += n;
        return v;
      }
      case 0xd3: {
        need(8);
        const v = view.getBigInt64(pos);
        pos += 8;
        if (v > BigInt(SAFE) || v < -BigInt(SAFE)) throw new Bad('int64 beyond ±(2^53-1)');
        return Number(v);
      }
      case 0xd9:
        return str(u(1));
      case 0xda:
        return str(u(2));
      case 0xdb:
        return str(u(4));
      case 0xdc:
        return array(u(2), depth);
      case 0xdd:
        return array(u(4), depth);
      case 0xde:
        return map(u(2), depth);
      case 0xdf:
        return map(u(4), depth);
      default: // c1, bin, ext, fixext
        throw new Bad(`forbidden type 0x${t.toString(16)}`);
    }
  };
  const array = (n: number, depth: number): unknown[] => {
    if (depth + 1 > SPEC_MAX_DEPTH) throw new Bad('too deep');
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(value(depth + 1));
    return out;
  };
  const map = (n: number, depth: number): Record<string, unknown> => {
    if (depth + 1 > SPEC_MAX_DEPTH) throw new Bad('too deep');
    const out: Record<string, unknown> = Object.create(null);
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      need(1);
      const t = buf[pos]!;
      if (!((t >= 0xa0 && t <= 0xbf) || t === 0xd9 || t === 0xda || t === 0xdb))
        throw new Bad('non-string key');
      const k = value(depth + 1) as string;
      if (k === '__proto__') throw new Bad('__proto__ key');
      if (seen.has(k)) throw new Bad('duplicate key');
      seen.add(k);
      out[k] = value(depth + 1);
    }
    return out;
  };
  try {
    const v = value(0);
    if (pos !== buf.length) return { ok: false, why: 'trailing bytes' };
    return { ok: true, value: v };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, why: err.message };
    throw err;
  }
}
