// Address arithmetic the routing calculation needs on top of ../cidr.ts: the address at an
// ordinal inside a block, text for a (family, bigint) address, containment between CIDRs.

import type { Cidr } from '../cidr.js';

export type { Cidr } from '../cidr.js';
export { cidrContains, parseCidr, parseIp } from '../cidr.js';

/** Text of an address: dotted quad, or RFC 5952 IPv6 (longest zero run compressed). */
export function formatAddress(version: 4 | 6, value: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The address `ordinal` places after the block's network address. */
export function addressAt(block: Cidr, ordinal: number): string {
  return formatAddress(block.version, block.base + BigInt(ordinal));
}

/** The canonical "base/prefix" text of a parsed CIDR. */
export function formatCidr(c: Cidr): string {
  return `${formatAddress(c.version, c.base)}/${c.prefix}`;
}

/** True when `outer` contains all of `inner` (same family, shorter or equal prefix). */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  if (outer.version !== inner.version || outer.prefix > inner.prefix) return false;
  const bits = BigInt((outer.version === 4 ? 32 : 128) - outer.prefix);
  return inner.base >> bits === outer.base >> bits;
}

/** True when the two CIDRs share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrCovers(a, b) || cidrCovers(b, a);
}
