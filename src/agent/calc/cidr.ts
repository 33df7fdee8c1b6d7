// IP addresses and CIDRs as (family, bigint) pairs: just enough to ask "is this address in
// that net?" when explaining a flow. Text that does not parse yields undefined, never throws.

export interface Cidr {
  readonly version: 4 | 6;
  /** The network address, host bits cleared. */
  readonly base: bigint;
  readonly prefix: number;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(Number(p));
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] | undefined => {
    if (h === '') return [];
    const out = h.split(':');
    const last = out[out.length - 1]!;
    if (last.includes('.')) {
      // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
      const v4 = parseV4(last);
      if (v4 === undefined) return undefined;
      out.splice(out.length - 1, 1, (v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
    }
    return out.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g)) ? out : undefined;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) return undefined;
  let v = 0n;
  for (const g of [...head, ...Array<string>(missing).fill('0'), ...tail]) v = (v << 16n) | BigInt(`0x${g}`);
  return v;
}

/** An address as a full-length CIDR (/32 or /128). */
export function parseIp(text: string): Cidr | undefined {
  if (text.includes(':')) {
    const v = parseV6(text);
    return v === undefined ? undefined : { version: 6, base: v, prefix: 128 };
  }
  const v = parseV4(text);
  return v === undefined ? undefined : { version: 4, base: v, prefix: 32 };
}

/** "10.0.0.0/8", "fd00::/64" or a bare address; host bits are masked off. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === undefined || slash < 0) return ip;
  const bits = ip.version === 4 ? 32 : 128;
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return undefined;
  const prefix = Number(p);
  const hostBits = BigInt(bits - prefix);
  return { version: ip.version, base: (ip.base >> hostBits) << hostBits, prefix };
}

export function cidrContains(net: Cidr, ip: Cidr): boolean {
  if (net.version !== ip.version) return false;
  const hostBits = BigInt((net.version === 4 ? 32 : 128) - net.prefix);
  return ip.base >> hostBits === net.base >> hostBits;
}

const cache = new Map<string, Cidr | undefined>();

/** parseCidr with a small memo: rule nets and IP set members repeat endlessly. */
export function cidrOf(text: string): Cidr | undefined {
  if (cache.has(text)) return cache.get(text);
  if (cache.size > 10_000) cache.clear();
  const c = parseCidr(text);
  cache.set(text, c);
  return c;
}

/** True if `ip` lies in any of the CIDR texts (unparseable entries never match). */
export function anyContains(nets: readonly string[], ip: Cidr): boolean {
  for (const n of nets) {
    const c = cidrOf(n);
    if (c !== undefined && cidrContains(c, ip)) return true;
  }
  return false;
}
