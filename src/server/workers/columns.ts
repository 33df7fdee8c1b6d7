// A worker's streaming connections as columns for the primary (cheap to serialize: a few
// arrays, not an object per connection), and back into the connection-shaped rows the
// primary's fleet view reads, so /fleet, `tabby status` and tabby_agents cover every worker.

import type { SyncerType } from '../../model/types.js';
import { type Connection, ConnState } from '../connection.js';
import type { ConnectionColumns } from './messages.js';

export function columnsOf(conns: Iterable<Connection>): ConnectionColumns {
  const c: ConnectionColumns = {
    id: [],
    syncer: [],
    hostname: [],
    address: [],
    identity: [],
    openedAtMs: [],
    ackedGeneration: [],
    ackedHash: [],
    bytesOut: [],
  };
  for (const conn of conns) {
    if (conn.state !== ConnState.Streaming || conn.syncer === undefined) continue;
    c.id.push(conn.id);
    c.syncer.push(conn.syncer);
    c.hostname.push(conn.hostname);
    c.address.push(`${conn.socket.remoteAddress ?? '?'}:${conn.socket.remotePort ?? '?'}`);
    c.identity.push(conn.identity?.subject ?? null);
    c.openedAtMs.push(conn.openedAtMs);
    c.ackedGeneration.push(conn.ackedGeneration);
    c.ackedHash.push(conn.ackedHash);
    c.bytesOut.push(conn.bytesOut);
  }
  return c;
}

/** What the fleet view reads of a connection (fleet.ts agentRow). */
export interface ConnectionFacts {
  readonly id: number;
  readonly state: ConnState;
  readonly syncer: SyncerType | undefined;
  readonly hostname: string;
  readonly openedAtMs: number;
  readonly ackedGeneration: number;
  readonly ackedHash: Connection['ackedHash'];
  readonly bytesOut: number;
  readonly identity: { readonly subject: string } | undefined;
  readonly socket: { readonly remoteAddress?: string; readonly remotePort?: number | string };
}

/**
 * Rows of one worker's columns. Ids are only unique within a worker, so each worker's are
 * offset by `idBase` (its slot times a billion).
 */
export function* factsOf(c: ConnectionColumns, idBase: number): Generator<ConnectionFacts> {
  for (let i = 0; i < c.id.length; i++) {
    const address = c.address[i]!;
    const cut = address.lastIndexOf(':');
    const identity = c.identity[i];
    yield {
      id: idBase + c.id[i]!,
      state: ConnState.Streaming,
      syncer: c.syncer[i],
      hostname: c.hostname[i]!,
      openedAtMs: c.openedAtMs[i]!,
      ackedGeneration: c.ackedGeneration[i]!,
      ackedHash: c.ackedHash[i]!,
      bytesOut: c.bytesOut[i]!,
      identity: identity === null || identity === undefined ? undefined : { subject: identity },
      socket: { remoteAddress: address.slice(0, cut), remotePort: address.slice(cut + 1) },
    };
  }
}
