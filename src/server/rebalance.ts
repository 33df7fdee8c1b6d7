// Which clients a replica sends elsewhere when it holds more than its share (PROTOCOL.md
// §14.4). Pure: the server asks, closes the ones chosen with GOODBYE `rebalance`, and the
// clients resume on their best other replica by state. A few per interval, so a returning
// replica fills up gradually instead of taking a herd of reconnects at once.

import type { SyncerType } from '../model/types.js';

/** What the server knows of the fleet it is part of (cli wires it from discovery and the cache). */
export interface ReplicaView {
  /** Whether this replica may take new clients: its data is fresh (readiness). Absent: always. */
  fresh?(): boolean;
  /** Ready replicas serving these clients, this one included; 0: unknown (no shedding). */
  readyReplicas?(): number;
  /** Clients of this syncer across the fleet (e.g. the number of nodes); 0: unknown. */
  expectedClients?(syncer: SyncerType): number;
}

/** A replica's share of `expected` clients over `replicas`, with `slack` (0.1 = 10 %) of room. */
export function shareOf(expected: number, replicas: number, slack: number): number {
  // The epsilon keeps float noise (100 × 1.1 = 110.00000000000001) from adding a client.
  return Math.ceil((expected / replicas) * (1 + slack) - 1e-9);
}

export interface Sheddable {
  readonly id: number;
  /** This server's place in the client's ranking (HELLO `rank`), if it said. */
  readonly rank: number | undefined;
}

/**
 * Up to `count` of the eligible clients, those that ranked this server lowest first (they
 * have somewhere they prefer to go), oldest first among equals; never one that ranked it
 * first, which would only come back. A client that gave no rank counts as rank 1.
 */
export function chooseToShed<T extends Sheddable>(eligible: readonly T[], count: number): T[] {
  if (count <= 0) return [];
  return eligible
    .filter((c) => c.rank !== 0)
    .sort((a, b) => (b.rank ?? 1) - (a.rank ?? 1) || a.id - b.id)
    .slice(0, count);
}
