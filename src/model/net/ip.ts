// IPv4 and IPv6 addresses as (version, bigint) pairs: one parser for the whole code base, in two
// syntaxes, over ipaddr.js for IPv6 expansion and RFC 5952 text. Text that does not parse yields
// undefined; nothing here throws on bad input.

import ipaddr from 'ipaddr.js';

export type IpVersion = 4 | 6;

/**
 * How strictly to read address text. `go` is what Calico's Go conversions accept (`net.ParseIP`):
 * decimal octets without leading zeros. `lenient` also reads leading zeros as decimal ("010" is
 * 10, never octal); the agent reads values off the wire this way.
 */
export type IpSyntax = 'go' | 'lenient';

export interface Ip {
  readonly version: IpVersion;
  /** The address bits, most significant first (32 or 128 of them). */
  readonly addr: bigint;
}

export const bitsOf = (version: IpVersion): 32 | 128 => (version === 4 ? 32 : 128);

const DECIMAL: Record<IpSyntax, RegExp> = { go: /^(0|[1-9]\d{0,2})$/, lenient: /^\d{1,3}$/ };

/** A decimal number of at most three digits in `syntax` (octets and prefix lengths). */
export function decimal(text: string, syntax: IpSyntax): number | undefined {
  return DECIMAL[syntax].test(text) ? Number(text) : undefined;
}

function parseV4(text: string, syntax: IpSyntax): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    const n = decimal(p, syntax);
    if (n === undefined || n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

const V6_TEXT = /^[0-9A-Fa-f:.]+$/;

function parseV6(text: string, syntax: IpSyntax): bigint | undefined {
  // ipaddr.js is more liberal than Go (zone ids, 5-digit groups, hex or octal IPv4 tails, "::a.b.c.d"
  // read as IPv4-mapped), so the shape is checked here and only plain hex groups reach it.
  if (!V6_TEXT.test(text)) return undefined;
  let hex = text;
  if (text.includes('.')) {
    // An embedded IPv4 address is the last 32 bits, after the last colon.
    const cut = text.lastIndexOf(':');
    const v4 = parseV4(text.slice(cut + 1), syntax);
    if (v4 === undefined) return undefined;
    hex = `${text.slice(0, cut + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  if (hex.split(':').some((group) => group.length > 4)) return undefined;
  let parsed: ipaddr.IPv6;
  try {
    parsed = ipaddr.IPv6.parse(hex);
  } catch {
    return undefined;
  }
  let v = 0n;
  for (const part of parsed.parts) v = (v << 16n) | BigInt(part);
  return v;
}

/** Parses an IPv4 or IPv6 address (no prefix, no brackets, no zone); undefined if it is not one. */
export function parseIp(text: string, syntax: IpSyntax = 'go'): Ip | undefined {
  const version: IpVersion = text.includes(':') ? 6 : 4;
  const addr = version === 4 ? parseV4(text, syntax) : parseV6(text, syntax);
  return addr === undefined ? undefined : { version, addr };
}

/** The address's bytes, network order (4 or 16 of them). */
export function ipBytes(ip: Ip): number[] {
  const n = bitsOf(ip.version) / 8;
  return Array.from({ length: n }, (_, i) => Number((ip.addr >> BigInt(8 * (n - 1 - i))) & 0xffn));
}

/** Dotted quad, or RFC 5952 IPv6 text (lower case, longest zero run compressed, never dotted). */
export function formatIp(ip: Ip): string {
  if (ip.version === 4) return ipBytes(ip).join('.');
  const parts = Array.from({ length: 8 }, (_, i) => Number((ip.addr >> BigInt(16 * (7 - i))) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}
