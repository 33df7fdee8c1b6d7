// Settings of the fan-out server, with Typha's defaults where it has one.

import { availableParallelism } from 'node:os';
import type { Compression } from '../protocol/messages.js';

export interface ServerOptions {
  serverId: string;
  /** Connections past HELLO; more are refused (too-many-connections). */
  maxConnections: number;
  /**
   * Connections that have not sent HELLO yet, counted apart so that idle sockets cannot lock
   * out agents. When full, the one waiting longest makes room if it has had
   * minHandshakeGraceMs; otherwise the newcomer is refused.
   */
  maxPendingHandshakes: number;
  minHandshakeGraceMs: number;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  /** A client whose socket has not drained for this long is dropped. */
  writeTimeoutMs: number;
  /**
   * Bytes written to a connection's socket and not yet taken by the kernel
   * (socket.writableLength) above which it is dropped (write-queue-full). Must exceed the
   * largest snapshot: a snapshot is written at once (its frames are the cache's, shared).
   */
  maxQueuedBytes: number;
  /** PINGs a client may send at once (each is answered)... */
  clientPingBurst: number;
  /**
   * ...and one more per this many ms or per half pingIntervalMs, whichever is shorter
   * (clients ping at the interval SERVER_HELLO gives them); beyond that: too-many-pings.
   */
  clientPingRefillMs: number;
  /** A client whose oldest missing generation is older than this is dropped... */
  maxFallBehindMs: number;
  /** ...unless it started a snapshot less than this long ago. */
  newClientGraceMs: number;
  /** Compressions the server is willing to use, in preference order. */
  compressions: readonly Compression[];
  maxInboundFrameBytes: number;
  /** The longest frame this server may send (its caches' frame body limit plus overhead). */
  maxOutboundFrameBytes: number;
  /** Accept queue length (the kernel caps it at net.core.somaxconn); Node's default 511 overflows in reconnect storms. */
  listenBacklog: number;
  /** A fan-out pass yields to the event loop after this long (it resumes where it stopped). */
  fanoutSliceMs: number;
  /** Granularity of all deadlines. */
  tickMs: number;
  /** How long a closed connection may linger half-open before it is destroyed. */
  closeLingerMs: number;
  /** How often a replica over its share sheds clients (PROTOCOL.md §14.4); 0: never. */
  rebalanceIntervalMs: number;
  /** Clients shed per syncer per interval at most. */
  rebalanceMaxPerInterval: number;
  /** Room above an even share before shedding starts (0.1 = 10 %). */
  rebalanceSlack: number;
  /** retryAfterMs in a `rebalance` GOODBYE: how long the client leaves this replica alone. */
  rebalanceRetryAfterMs: number;
  /** retryAfterMs (±50 %) when refusing a client because the data is not fresh (`not-ready`). */
  notReadyRetryAfterMs: number;
  /** Snapshots written at once; more clients wait their turn, FIFO (admission.ts). 0: unlimited. */
  maxSnapshotsInFlight: number;
  /** Average snapshot bytes per second over all clients (1 s of burst); 0: unlimited. */
  snapshotBytesPerSecond: number;
}

/**
 * A few snapshots per core: the frames are encoded once and shared, so a snapshot in flight
 * costs writes, and a few per core keep the cores and the link busy while clients decode;
 * more only split the same bandwidth over more clients, so each one waits longer to be in sync.
 */
export const DEFAULT_MAX_SNAPSHOTS_IN_FLIGHT = Math.max(8, 4 * availableParallelism());

/** Room for a frame's header fields and worst-case deflate expansion above its body limit. */
export const FRAME_OVERHEAD_BYTES = 4096;
/**
 * Largest frame accepted before HELLO has been handled (proto/PROTOCOL.md §8.1): a HELLO is
 * a few hundred bytes, and a connection nobody knows yet should not make us buffer 1 MiB.
 */
export const MAX_PRE_HELLO_FRAME_BYTES = 16 << 10;
/** What a client accepts when its HELLO says nothing (proto/PROTOCOL.md §18). */
export const DEFAULT_CLIENT_MAX_FRAME_BYTES = 16 << 20;

export const DEFAULT_SERVER_OPTIONS: Omit<ServerOptions, 'serverId'> = {
  maxConnections: 10_000,
  maxPendingHandshakes: 1_000,
  minHandshakeGraceMs: 1_000,
  handshakeTimeoutMs: 10_000,
  pingIntervalMs: 10_000,
  pongTimeoutMs: 60_000,
  writeTimeoutMs: 120_000,
  maxQueuedBytes: 64 << 20,
  clientPingBurst: 10,
  clientPingRefillMs: 1_000,
  maxFallBehindMs: 300_000,
  newClientGraceMs: 300_000,
  compressions: ['deflate'],
  maxInboundFrameBytes: 1 << 20,
  maxOutboundFrameBytes: (1 << 20) + FRAME_OVERHEAD_BYTES,
  listenBacklog: 4_096,
  fanoutSliceMs: 20,
  tickMs: 1_000,
  closeLingerMs: 5_000,
  rebalanceIntervalMs: 5_000,
  rebalanceMaxPerInterval: 5,
  rebalanceSlack: 0.1,
  rebalanceRetryAfterMs: 60_000,
  notReadyRetryAfterMs: 5_000,
  maxSnapshotsInFlight: DEFAULT_MAX_SNAPSHOTS_IN_FLIGHT,
  snapshotBytesPerSecond: 0,
};
