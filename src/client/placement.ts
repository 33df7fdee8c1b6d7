// Which replica a node talks to: rendezvous (highest-random-weight) hashing of (node, replica
// address). Every node ranks the replicas on its own, with no coordination, and a replica
// that leaves or joins changes the first choice of only the nodes that ranked it first, so
// one replica restart moves ~1/n of the nodes instead of reshuffling them all.

import { createHash } from 'node:crypto';

/** The node's weight for a replica: 64 bits of SHA-256(node ‖ 0x00 ‖ address). */
function weight(node: string, address: string): bigint {
  return createHash('sha256').update(node).update('\0').update(address).digest().readBigUInt64BE(0);
}

/**
 * The distinct addresses ordered by this node's preference, best first (ties, which need a
 * 64-bit collision, by address so that the order is still total).
 */
export function rankReplicas(node: string, addresses: readonly string[]): string[] {
  const scored = [...new Set(addresses)].map((a) => ({ a, w: weight(node, a) }));
  scored.sort((x, y) => (x.w === y.w ? (x.a < y.a ? -1 : 1) : x.w > y.w ? -1 : 1));
  return scored.map((s) => s.a);
}

/**
 * Addresses a GOODBYE's retryAfterMs asked us to leave alone for a while (§16), so the next
 * attempt goes down the ranking instead of back to a replica that is draining, shedding or
 * not ready.
 */
export class Cooldowns {
  private readonly until = new Map<string, number>();

  add(address: string, ms: number, now: number): void {
    if (ms > 0) this.until.set(address, Math.max(this.until.get(address) ?? 0, now + ms));
  }

  cooling(address: string, now: number): boolean {
    const t = this.until.get(address);
    if (t === undefined) return false;
    if (t > now) return true;
    this.until.delete(address);
    return false;
  }

  /** When the first of `addresses` is usable again (ms from now; 0 if one is already). */
  waitMs(addresses: readonly string[], now: number): number {
    let best = Number.POSITIVE_INFINITY;
    for (const a of addresses) best = Math.min(best, this.cooling(a, now) ? this.until.get(a)! - now : 0);
    return Number.isFinite(best) ? best : 0;
  }
}
