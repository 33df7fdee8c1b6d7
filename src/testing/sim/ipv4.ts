// IPv4 ranges as unsigned 32-bit integers: the arithmetic the simulated IPAM needs and nothing more
// (the sim is IPv4-only, like the seed lab). Text is read and written by src/model/net.

import { formatCidr, isMasked, parseCidr } from '../../model/net/cidr.js';
import { formatIp, parseIp } from '../../model/net/ip.js';

export interface Range4 {
  /** Network address (host bits zero), unsigned. */
  readonly base: number;
  readonly prefix: number;
  /** Number of addresses. */
  readonly size: number;
}

export function ipToInt(ip: string): number {
  const a = parseIp(ip, 'lenient');
  if (a?.version !== 4) throw new RangeError(`not an IPv4 address: ${ip}`);
  return Number(a.addr);
}

export function intToIp(n: number): string {
  return formatIp({ version: 4, addr: BigInt(n >>> 0) });
}

/** "10.0.0.0/16" as a range; host bits set are an error (a pool definition must be exact). */
export function parseRange(s: string): Range4 {
  const c = parseCidr(s, { syntax: 'lenient' });
  if (c?.version !== 4) throw new RangeError(`not an IPv4 CIDR: ${s}`);
  if (!isMasked(c)) throw new RangeError(`CIDR has host bits set: ${s}`);
  return { base: Number(c.addr), prefix: c.prefix, size: 2 ** (32 - c.prefix) };
}

export function formatRange(r: Range4): string {
  return formatCidr({ version: 4, addr: BigInt(r.base), prefix: r.prefix });
}

export function rangeContains(r: Range4, ip: number): boolean {
  return ip >= r.base && ip < r.base + r.size;
}

/** True if the two ranges share at least one address. */
export function rangesOverlap(a: Range4, b: Range4): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}
