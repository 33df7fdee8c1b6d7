// One client connection: its handshake, its position in its syncer's stream and its
// deadlines. Deliberately small (no timers, no queues): the server's single tick checks
// deadlines, and frames written are shared buffers owned by the cache.

import type { Socket } from 'node:net';
import type { SyncerType, SyncStatus } from '../model/types.js';
import type { Ack, Compression } from '../protocol/messages.js';
import type { PeerIdentity } from './peer-identity.js';
import type { SyncStream } from './sync-stream.js';
import type { TokenBucket } from './token-bucket.js';

export const ConnState = { Handshake: 0, Streaming: 1, Closing: 2 } as const;
/**
 * What the client's last ACK says of its state (PROTOCOL.md §13): the hash the server
 * published for that generation (`match`), another one (`divergent`), or no way to tell.
 */
export type AckedHash = 'match' | 'divergent' | 'unknown';
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

/**
 * Who the peer is, as proven by the transport (a TLS client certificate); undefined on plain
 * TCP, where HELLO's hostname is only a claim.
 */
export type ConnectionIdentity = PeerIdentity;

export class Connection {
  state: ConnState = ConnState.Handshake;
  syncer: SyncerType | undefined;
  stream: SyncStream | undefined;
  compression: Compression = 'none';
  /** Generation the client holds (or will hold once what was written reaches it). */
  generation = -1;
  sentStatus: SyncStatus | undefined;
  ackedGeneration = -1;
  ackedAtMs = 0;
  ackedHash: AckedHash = 'unknown';
  hostname = '';
  /** HELLO's hostname if it is a valid node name: the only node this client may report about. */
  node: string | undefined;
  /** This server's place in the client's ranking of replicas (HELLO `rank`; 0 = its preferred). */
  rank: number | undefined;
  /** HELLO `capabilities` (§8.6): e.g. whether it understands QUEUED. */
  capabilities: readonly string[] | undefined;
  /** Snapshot start: a client is not judged as lagging within the grace period after it. */
  snapshotAtMs = 0;
  lastRxMs: number;
  lastPingMs: number;
  blockedSinceMs = 0;
  closingSinceMs = 0;
  bytesOut = 0;
  /** The client's PING allowance, made at its first PING. */
  pings: TokenBucket | undefined;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly openedAtMs: number,
    /** From the client's TLS certificate; undefined on a plain-TCP connection. */
    readonly identity: ConnectionIdentity | undefined = undefined,
  ) {
    this.lastRxMs = openedAtMs;
    this.lastPingMs = openedAtMs;
  }

  get blocked(): boolean {
    return this.blockedSinceMs !== 0;
  }

  /** Writes frames as one batch (one writev) and records backpressure. */
  write(frames: readonly Buffer[], now: number): void {
    if (frames.length === 0 || this.socket.destroyed) return;
    const s = this.socket;
    if (frames.length > 1) s.cork();
    for (const f of frames) {
      s.write(f);
      this.bytesOut += f.length;
    }
    if (frames.length > 1) s.uncork();
    if (s.writableNeedDrain && this.blockedSinceMs === 0) this.blockedSinceMs = now;
  }

  /**
   * Records an ACK and judges its hash against the one published for its generation. A
   * generation not sent on this connection (§13: ignored) or no longer kept says nothing.
   */
  recordAck(ack: Ack, now: number): void {
    // A generation never sent on this connection says nothing true about the client (§13).
    if (ack.generation > this.generation) return;
    this.ackedGeneration = ack.generation;
    this.ackedAtMs = now;
    const published =
      ack.hash !== undefined && ack.generation <= this.generation
        ? this.stream?.hashAt(ack.generation)
        : undefined;
    this.ackedHash = published === undefined ? 'unknown' : published === ack.hash ? 'match' : 'divergent';
  }

  describe(): Record<string, unknown> {
    return {
      conn: this.id,
      remote: `${this.socket.remoteAddress}:${this.socket.remotePort}`,
      syncer: this.syncer,
      hostname: this.hostname || undefined,
      ...(this.identity ? { identity: this.identity.subject } : {}),
    };
  }
}
