// CIDRs over ./ip.ts: parse, mask, print, compare and contain. A parsed CIDR keeps the address as
// written (Calico rejects some CIDRs with host bits set, so the bits must survive parsing);
// `masked` clears them, and `netOf` is the masked, memoised reading the agent uses.

import { bitsOf, decimal, formatIp, type Ip, type IpSyntax, parseIp } from './ip.js';

export interface Cidr extends Ip {
  readonly prefix: number;
}

export interface CidrSyntax {
  /** Accept a bare address as a /32 or /128 (default false). */
  readonly bare?: boolean;
  /** How to read the address and the prefix length (default `go`). */
  readonly syntax?: IpSyntax;
}

// Objects are built whole, without spreads: the agent parses every rule net and set member.
function parse(text: string, bare: boolean, syntax: IpSyntax): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash), syntax);
  if (ip === undefined) return undefined;
  const bits = bitsOf(ip.version);
  if (slash < 0) return bare ? { version: ip.version, addr: ip.addr, prefix: bits } : undefined;
  const prefix = decimal(text.slice(slash + 1), syntax);
  if (prefix === undefined || prefix > bits) return undefined;
  return { version: ip.version, addr: ip.addr, prefix };
}

/** Parses "addr/len" (or, with `bare`, an address alone); undefined if it is not one. */
export const parseCidr = (text: string, syntax: CidrSyntax = {}): Cidr | undefined =>
  parse(text, syntax.bare ?? false, syntax.syntax ?? 'go');

const hostBits = (c: Cidr): bigint => BigInt(bitsOf(c.version) - c.prefix);

/** The network of a CIDR (host bits cleared). */
export function masked(c: Cidr): Cidr {
  const host = hostBits(c);
  return { version: c.version, addr: (c.addr >> host) << host, prefix: c.prefix };
}

/** True if the CIDR has no host bits set. */
export const isMasked = (c: Cidr): boolean => masked(c).addr === c.addr;

export const formatCidr = (c: Cidr): string => `${formatIp(c)}/${c.prefix}`;

/** True if `ip` (an address, or any CIDR's address) lies in `net`. */
export function cidrContains(net: Cidr, ip: Ip): boolean {
  if (net.version !== ip.version) return false;
  const host = hostBits(net);
  return ip.addr >> host === net.addr >> host;
}

/** True when `outer` contains all of `inner` (same family, shorter or equal prefix). */
export const cidrCovers = (outer: Cidr, inner: Cidr): boolean =>
  outer.prefix <= inner.prefix && cidrContains(outer, inner);

/** True when the two CIDRs share at least one address. */
export const cidrsOverlap = (a: Cidr, b: Cidr): boolean => cidrCovers(a, b) || cidrCovers(b, a);

/** Orders by address, then by prefix length (IPv4 and IPv6 compare by their bits alone). */
export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  return a.prefix - b.prefix;
}

/** The text of the address `ordinal` places after the CIDR's address. */
export const addressAt = (block: Cidr, ordinal: number): string =>
  formatIp({ version: block.version, addr: block.addr + BigInt(ordinal) });

/** A CIDR or bare address as the agent reads wire text: lenient syntax, host bits cleared. */
export function parseNet(text: string): Cidr | undefined {
  const c = parse(text, true, 'lenient');
  return c === undefined || c.prefix === bitsOf(c.version) ? c : masked(c);
}

const memo = new Map<string, Cidr | undefined>();

/** parseNet with a small memo: rule nets and IP set members repeat endlessly. */
export function netOf(text: string): Cidr | undefined {
  if (memo.has(text)) return memo.get(text);
  if (memo.size > 10_000) memo.clear();
  const c = parseNet(text);
  memo.set(text, c);
  return c;
}

/** True if `ip` lies in any of the CIDR texts (unparseable entries never match). */
export function anyContains(nets: readonly string[], ip: Ip): boolean {
  for (const n of nets) {
    const c = netOf(n);
    if (c !== undefined && cidrContains(c, ip)) return true;
  }
  return false;
}
