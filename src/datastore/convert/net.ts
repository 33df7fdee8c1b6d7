// IPv4/IPv6 addresses and CIDRs as Calico's conversions check and print them (Go's net
// package: dotted quads, RFC 5952 IPv6 text). Pure functions over 4- or 16-byte arrays.

import { Invalid } from './errors.js';

export type IpVersion = 4 | 6;

export interface Ip {
  readonly version: IpVersion;
  readonly bytes: readonly number[];
}

export interface Cidr extends Ip {
  readonly prefix: number;
}

function parseV4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    // Go rejects leading zeros ("010"), which some parsers read as octal.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseV6(s: string): number[] | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  let tail: number[] = [];
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = v4;
    text = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || rest === undefined) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...rest];
  const bytes = all.flatMap((g) => [g >> 8, g & 255]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** Parses an IPv4 or IPv6 address; undefined if it is not one. */
export function parseIp(s: string): Ip | undefined {
  if (s.includes(':')) {
    const b = parseV6(s);
    return b === undefined ? undefined : { version: 6, bytes: b };
  }
  const b = parseV4(s);
  return b === undefined ? undefined : { version: 4, bytes: b };
}

export function formatIp(ip: Ip): string {
  if (ip.version === 4) return ip.bytes.join('.');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  // RFC 5952: compress the longest run (at least two) of zero groups, the first on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Parses "addr/len" (or, with `allowBareIp`, a bare address as /32 or /128). */
export function parseCidr(s: string, allowBareIp = false): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) {
    if (!allowBareIp) return undefined;
    const ip = parseIp(s);
    return ip === undefined ? undefined : { ...ip, prefix: ip.version === 4 ? 32 : 128 };
  }
  const ip = parseIp(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (ip === undefined || !/^(0|[1-9]\d{0,2})$/.test(len)) return undefined;
  const prefix = Number(len);
  if (prefix > (ip.version === 4 ? 32 : 128)) return undefined;
  return { ...ip, prefix };
}

/** The network of a CIDR (host bits cleared). */
export function masked(c: Cidr): Cidr {
  const bytes = c.bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, c.prefix - 8 * i));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  return { version: c.version, bytes, prefix: c.prefix };
}

export const formatCidr = (c: Cidr): string => `${formatIp(c)}/${c.prefix}`;

/** True if the CIDR has no host bits set. */
export const isMasked = (c: Cidr): boolean => formatCidr(masked(c)) === formatCidr(c);

/** A CIDR (or bare IP) as Calico's model stores it: the masked network, e.g. "10.0.0.0/24". */
export function networkText(s: string, what: string): string {
  const c = parseCidr(s, true);
  if (c === undefined) throw new Invalid(`${what}: invalid CIDR ${JSON.stringify(s)}`);
  return formatCidr(masked(c));
}

/** A required CIDR (with prefix), checked and returned with its parsed form. */
export function cidrOf(s: string, what: string): Cidr {
  const c = parseCidr(s);
  if (c === undefined) throw new Invalid(`${what}: invalid CIDR ${JSON.stringify(s)}`);
  return c;
}

export function ipOf(s: string, what: string): Ip {
  const ip = parseIp(s);
  if (ip === undefined) throw new Invalid(`${what}: invalid IP address ${JSON.stringify(s)}`);
  return ip;
}
