// IPv4 addresses as unsigned 32-bit integers, and CIDRs over them: the arithmetic the
// simulated IPAM needs and nothing more (the sim is IPv4-only, like the seed lab).

export interface Cidr {
  /** Network address (host bits zero), unsigned. */
  readonly base: number;
  readonly prefix: number;
  /** Number of addresses. */
  readonly size: number;
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    const octet = Number(p);
    if (!/^\d{1,3}$/.test(p) || octet > 255) throw new RangeError(`not an IPv4 address: ${ip}`);
    n = n * 256 + octet;
  }
  return n;
}

export function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function parseCidr(s: string): Cidr {
  const [ip, len] = s.split('/');
  const prefix = Number(len);
  if (ip === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new RangeError(`not an IPv4 CIDR: ${s}`);
  }
  const size = 2 ** (32 - prefix);
  const addr = ipToInt(ip);
  const base = addr - (addr % size);
  if (base !== addr) throw new RangeError(`CIDR has host bits set: ${s}`);
  return { base, prefix, size };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + c.size;
}

/** True if the two ranges share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}
