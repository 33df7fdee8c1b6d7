// The client library every node agent embeds: dials its preferred replica (rendezvous
// ranking, falling down the ranking when one fails or asks to be left alone), says hello
// (resuming its position when it has one), follows the snapshot and deltas into a
// ClientState, keeps the connection alive, reconnects with jittered backoff, and drifts back
// to its preferred replica on a long jittered timer. Consumers get 'updates' with real
// differences only.

import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { parseHostPort as parseAddress } from '../model/address.js';
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from '../model/backoff.js';
import type { Logger } from '../model/logger.js';
import { silentLogger } from '../model/logger.js';
import type { JsonValue, KV, SyncerType, SyncStatus } from '../model/types.js';
import { encodeMessage } from '../protocol/codec.js';
import { FrameDecoder } from '../protocol/decoder.js';
import { CloseCode, ProtocolError } from '../protocol/errors.js';
import {
  Capability,
  Compression,
  type Goodbye,
  type Message,
  MsgType,
  PROTOCOL_VERSIONS,
  type Queued,
  type StreamPosition,
} from '../protocol/messages.js';
import { zstdCodec } from '../protocol/zstd.js';
import { Cooldowns, rankReplicas } from './placement.js';
import { ClientReports } from './reports.js';
import { ClientState } from './state.js';
import { StreamGuard } from './stream-guard.js';
import { type ClientTlsOptions, tlsConnectOptions } from './tls.js';

export interface SyncClientOptions {
  /** Static host:port list, ranked per node by rendezvous hashing (placement.ts). */
  addresses?: readonly string[];
  /**
   * The current replica addresses (e.g. from discovery), read at every dial and drift check;
   * used instead of `addresses` when given.
   */
  addressProvider?: () => readonly string[];
  /** Off its preferred replica, the client moves back after this long, ±50 % (0: never). */
  driftIntervalMs?: number;
  syncer: SyncerType;
  hostname?: string;
  agent?: string;
  compressions?: readonly string[];
  /** Resume from the last position on reconnect (deltas only when the server still can). */
  resume?: boolean;
  /** Check the state hash at every snapshot end and delta; mismatch forces a fresh snapshot. */
  verifyHash?: boolean;
  connectTimeoutMs?: number;
  /** Declare the server dead after this long without a frame (default: server's pongTimeoutMs). */
  readTimeoutMs?: number;
  /** Minimum spacing of ACK messages. */
  ackIntervalMs?: number;
  maxFrameBytes?: number;
  backoff?: BackoffOptions;
  log?: Logger;
  /** Mutual TLS: present this certificate and verify the server's. Plain TCP when absent. */
  tls?: ClientTlsOptions;
  /** Offer the `queued` capability: hear where it stands while a server makes it wait (§9.1). */
  queued?: boolean;
}

export interface SyncClientEvents {
  updates: [kvs: KV[], generation: number];
  status: [status: SyncStatus];
  connected: [info: { serverId: string; address: string; resumed: boolean }];
  /** `code`: the server's GOODBYE code, if it sent one; `retryInMs`: when the next attempt is due. */
  disconnected: [info: { reason: string; address: string; code?: string; retryInMs?: number }];
  /** Fires after a SNAPSHOT_END or a final DELTA frame was applied. */
  generation: [generation: number];
  /** The server makes this client wait for its snapshot: its place in line (§9.1). */
  queued: [place: Queued];
}

const MAX_MESSAGE_BYTES = 64 << 20;
/**
 * The longest a GOODBYE's retryAfterMs keeps the client off a server (§6.10): a wrong or
 * hostile hint must not keep an agent from its only replica for days (nor overflow a timer,
 * which Node turns into an immediate retry).
 */
export const MAX_RETRY_AFTER_MS = 300_000;
/** The client pings at most this often, whatever SERVER_HELLO's pingIntervalMs says (§12). */
export const MIN_PING_INTERVAL_MS = 1_000;

/** What an operator reads when the server closed with a reason: a refusal says so, and when to expect the retry. */
function goodbyeReason(bye: Goodbye, retryInMs: number | undefined): string {
  const retry = retryInMs === undefined ? '' : `, retry in ${Math.ceil(retryInMs / 1000)} s`;
  if (bye.code === CloseCode.TooManyConnections) return `refused: too many connections${retry}`;
  return `${bye.code}${bye.message ? `: ${bye.message}` : ''}${retry}`;
}

export class SyncClient extends EventEmitter<SyncClientEvents> {
  readonly state: ClientState;
  private readonly reports: ClientReports;
  private readonly o: Required<
    Omit<SyncClientOptions, 'readTimeoutMs' | 'log' | 'tls' | 'addresses' | 'addressProvider'>
  > & {
    readTimeoutMs?: number;
    tls?: ClientTlsOptions;
  };
  private readonly addresses: () => readonly string[];
  private readonly log: Logger;
  private readonly backoff: Backoff;
  /** Position in the ranking of usable replicas for the next dial; 0 after a good connection. */
  private cursor = 0;
  /**
   * A replica that went silent after a good handshake (a half-open path, a stuck process):
   * the next attempt skips it once, or it would take the client back and hold it for ever.
   */
  private avoid: string | undefined;
  private readonly cooldowns = new Cooldowns();
  private driftTimer: NodeJS.Timeout | undefined;
  private socket: Socket | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private lastAckMs = 0;
  /** The state hash at `generation`, taken when it was applied: the next ACK says it (§13). */
  private ackHash: { generation: number; hash: string } | undefined;
  private position: StreamPosition | undefined;
  private epoch = '';
  private lastRxMs = 0;
  private readTimeoutMs = 60_000;
  private retryAfterMs = 0;
  /** The current connection's GOODBYE from the server, if any. */
  private goodbye: Goodbye | undefined;
  /** Changes of a DELTA run (frames with more=true), reported together at its last frame. */
  private runChanges: KV[] = [];
  /** Bytes received over the life of the client (tests assert resume costs little). */
  bytesReceived = 0;
  status: SyncStatus = 'wait-for-datastore';
  generation = -1;
  serverId = '';
  connected = false;
  /** Where the client stands while the server makes it wait for a snapshot; undefined otherwise. */
  queuePlace: Queued | undefined;

  get syncer(): SyncerType {
    return this.o.syncer;
  }

  constructor(opts: SyncClientOptions) {
    super();
    const { addresses, addressProvider, ...rest } = opts;
    if (addressProvider === undefined && (addresses === undefined || addresses.length === 0))
      throw new RangeError('SyncClient needs at least one address or an address provider');
    for (const a of addresses ?? []) parseAddress(a);
    const fixed = addresses ?? [];
    this.addresses = addressProvider ?? (() => fixed);
    this.o = {
      hostname: osHostname(),
      agent: 'tabby-client/0.1.0',
      compressions: zstdCodec() ? [Compression.Zstd, Compression.Deflate] : [Compression.Deflate],
      resume: true,
      verifyHash: true,
      connectTimeoutMs: 10_000,
      ackIntervalMs: 1_000,
      maxFrameBytes: 16 << 20,
      backoff: DEFAULT_BACKOFF,
      driftIntervalMs: 600_000,
      queued: true,
      ...rest,
    };
    this.log = (opts.log ?? silentLogger).child({ syncer: opts.syncer });
    this.state = new ClientState(this.o.verifyHash);
    this.reports = new ClientReports(this.o.hostname);
    this.backoff = new Backoff(this.o.backoff);
  }

  start(): void {
    this.stopped = false;
    this.dial();
  }

  /** Says goodbye and stops reconnecting. The state stays readable. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.clearConnTimers();
    const s = this.socket;
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end(
          encodeMessage({
            type: MsgType.Goodbye,
            body: { code: CloseCode.ClientClosing, message: 'client stopping' },
          }),
        );
        setTimeout(() => s.destroy(), 1_000).unref();
      });
    }
  }

  /**
   * Reports `data` of `kind` (e.g. `wireguard-public-key`, `{publicKey}`) about this node
   * (the HELLO hostname) to every server that accepts the kind: now if connected, and again
   * after each (re)connection. Only the latest value per kind is kept. Throws ReportError
   * for data a server would refuse.
   */
  setReport(kind: string, data: JsonValue): void {
    const frame = this.reports.set(kind, data);
    if (frame && this.connected && this.socket && !this.socket.destroyed) this.socket.write(frame);
  }

  /** Drops the current connection (it will reconnect): for tests and operator tooling. */
  dropConnection(): void {
    this.socket?.destroy();
  }

  /** The usable replicas, best first (a bad address from a provider is skipped, with a warning). */
  private ranking(): string[] {
    const valid = this.addresses().filter((a) => {
      try {
        parseAddress(a);
        return true;
      } catch {
        this.log.warn({ address: a }, 'ignoring a server address that is not HOST:PORT');
        return false;
      }
    });
    return rankReplicas(this.o.hostname, valid);
  }

  /**
   * Picks the replica for the next attempt: the best-ranked one not cooling down, then, after
   * each failed attempt, the next one down the ranking. Returns undefined (and schedules the
   * retry) when none can be tried now.
   */
  private pick(): { address: string; rank: number } | undefined {
    const now = Date.now();
    const ranking = this.ranking();
    const open = ranking.filter((a) => !this.cooldowns.cooling(a, now));
    if (open.length === 0) {
      if (ranking.length === 0) this.log.warn('no server addresses known: retrying');
      const wait = ranking.length === 0 ? this.backoff.next() : this.cooldowns.waitMs(ranking, now);
      this.reconnectTimer = setTimeout(() => this.dial(), wait);
      return undefined;
    }
    let address = open[this.cursor % open.length]!;
    this.cursor++;
    if (address === this.avoid && open.length > 1) address = open[this.cursor++ % open.length]!;
    this.avoid = undefined;
    return { address, rank: ranking.indexOf(address) };
  }

  private dial(): void {
    if (this.stopped) return;
    const picked = this.pick();
    if (picked === undefined) return;
    const { address, rank } = picked;
    const { host, port } = parseAddress(address);
    let socket: Socket;
    try {
      socket = this.o.tls
        ? tlsConnect({ host, port, timeout: this.o.connectTimeoutMs, ...tlsConnectOptions(this.o.tls, host) })
        : connect({ host, port, noDelay: true, timeout: this.o.connectTimeoutMs });
    } catch (err) {
      // Unreadable certificate files are retried with backoff: a mounted Secret may appear late.
      this.log.warn({ address, err: (err as Error).message }, 'cannot dial');
      this.emit('disconnected', { reason: (err as Error).message, address });
      this.scheduleReconnect(address);
      return;
    }
    socket.setNoDelay(true);
    this.socket = socket;
    const decoder = new FrameDecoder({
      maxFrameBytes: this.o.maxFrameBytes,
      maxMessageBytes: MAX_MESSAGE_BYTES,
    });
    let reason = 'connection closed';
    this.goodbye = undefined;
    let guard: StreamGuard | undefined;
    // Over TLS the HELLO waits for the handshake (and the server's identity check).
    socket.once(this.o.tls ? 'secureConnect' : 'connect', () => {
      socket.setTimeout(0);
      this.lastRxMs = Date.now();
      this.readTimeoutMs = this.o.readTimeoutMs ?? this.o.connectTimeoutMs;
      const resume = this.o.resume && !this.state.staging ? this.position : undefined;
      const hello = {
        versions: [...PROTOCOL_VERSIONS],
        syncer: this.o.syncer,
        hostname: this.o.hostname,
        agent: this.o.agent,
        // Offered only what this runtime can decode (zstd needs Node ≥ 22.15).
        compressions: this.o.compressions.filter((c) => c !== Compression.Zstd || zstdCodec() !== undefined),
        maxFrameBytes: this.o.maxFrameBytes,
        ...(resume ? { resume } : {}),
        rank,
        ...(this.o.queued ? { capabilities: [Capability.Queued] } : {}),
      };
      guard = new StreamGuard(hello);
      socket.write(encodeMessage({ type: MsgType.Hello, body: hello }));
      this.startWatchdog(socket, address);
    });
    socket.on('timeout', () => {
      reason = 'connect timeout';
      socket.destroy();
    });
    socket.on('data', (data: Buffer) => {
      this.lastRxMs = Date.now();
      this.bytesReceived += data.length;
      try {
        decoder.feed(data, (msg) => {
          if (socket.destroyed) return; // frames after the server's GOODBYE in the same read
          guard!.check(msg, this.generation);
          this.onMessage(socket, msg, address, rank);
          // Compressed frames only after a SERVER_HELLO that chose their compression (§8.3).
          if (msg.type === MsgType.ServerHello) {
            decoder.deflate = msg.body.compression === Compression.Deflate;
            decoder.zstd = msg.body.compression === Compression.Zstd;
          }
        });
      } catch (err) {
        // Anything but a ProtocolError is our own fault (a bug, a throwing listener), not the server's.
        const code = err instanceof ProtocolError ? err.closeCode : CloseCode.InternalError;
        reason = `${code}: ${(err as Error).message}`;
        this.log.warn({ address, code, err: (err as Error).message }, 'dropping server connection');
        // After either, the position is not to be trusted: reconnect without resume.
        if (code === CloseCode.HashMismatch || code === CloseCode.InconsistentStream)
          this.position = undefined;
        socket.end(encodeMessage({ type: MsgType.Goodbye, body: { code, message: (err as Error).message } }));
        socket.destroy();
      }
    });
    socket.on('error', (err) => {
      reason = err.message;
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.queuePlace = undefined;
      this.clearConnTimers();
      if (this.state.staging) this.state.discardSnapshot();
      if (this.runChanges.length > 0) {
        // A DELTA run cut short: its frames are in the live state, so the consumer must hear of them.
        const partial = this.runChanges;
        this.runChanges = [];
        // The live state is now ahead of the position's state: only this stream, which
        // knows the run, can resume it, so the hash is no longer offered (§14.3).
        if (this.position)
          this.position = { epoch: this.position.epoch, generation: this.position.generation };
        this.emit('updates', partial, this.generation);
      }
      const wasConnected = this.connected;
      this.connected = false;
      this.reports.disconnected();
      const retryInMs = this.scheduleReconnect(address);
      const bye = this.goodbye;
      if (bye) reason = goodbyeReason(bye, retryInMs);
      if (wasConnected || reason !== 'connection closed')
        this.emit('disconnected', { reason, address, ...(bye && { code: bye.code }), retryInMs });
    });
  }

  /** Acts on a server frame that the connection's StreamGuard has already checked. */
  private onMessage(socket: Socket, msg: Message, address: string, rank: number): void {
    switch (msg.type) {
      case MsgType.ServerHello: {
        const h = msg.body;
        this.serverId = h.serverId;
        this.epoch = h.epoch;
        // Resumed on another replica (or at another generation with the same state): the
        // position is now in this stream's numbering (§14.3).
        if (h.resumed && h.resumeGeneration !== undefined)
          this.moveTo(h.resumeGeneration, this.position?.hash);
        this.readTimeoutMs = this.o.readTimeoutMs ?? h.pongTimeoutMs;
        this.connected = true;
        this.cursor = 0; // the next attempt starts from the preferred replica again
        this.startPinger(socket, h.pingIntervalMs);
        if (rank > 0) this.scheduleDrift(socket, address);
        for (const frame of this.reports.connected(h.reports)) socket.write(frame);
        const unaccepted = this.reports.unaccepted();
        if (unaccepted.length > 0)
          this.log.warn(
            { address, kinds: unaccepted },
            'the server does not accept reports of these kinds on this connection: they are not recorded',
          );
        this.log.info({ address, serverId: h.serverId, resumed: h.resumed }, 'connected');
        this.emit('connected', { serverId: h.serverId, address, resumed: h.resumed });
        return;
      }
      case MsgType.SnapshotBegin:
        this.queuePlace = undefined;
        this.runChanges = [];
        this.state.beginSnapshot();
        return;
      case MsgType.SnapshotChunk:
        this.state.stage(msg.body.kvs);
        return;
      case MsgType.SnapshotEnd: {
        const changes = this.state.commitSnapshot();
        if (changes.length > 0) this.emit('updates', changes, msg.body.generation);
        this.checkHash(msg.body.hash, msg.body.generation);
        this.advance(socket, msg.body.generation, msg.body.hash);
        this.backoff.reset();
        this.emit('generation', msg.body.generation);
        return;
      }
      case MsgType.Delta: {
        const changes = this.state.applyDelta(msg.body.kvs);
        if (msg.body.more) {
          for (const c of changes) this.runChanges.push(c);
          return;
        }
        const all = this.runChanges.length > 0 ? [...this.runChanges, ...changes] : changes;
        this.runChanges = [];
        // The consumer is told every change to the live state before the hash is checked: on a
        // mismatch the resnapshot's diff then corrects exactly what the consumer holds.
        if (all.length > 0) this.emit('updates', all, msg.body.to);
        if (msg.body.hash !== undefined) this.checkHash(msg.body.hash, msg.body.to);
        this.advance(socket, msg.body.to, msg.body.hash);
        this.backoff.reset();
        this.emit('generation', msg.body.to);
        return;
      }
      case MsgType.Status:
        this.advance(socket, msg.body.generation, this.position?.hash);
        this.backoff.reset(); // the stream works (a resumed client that is current gets no delta)
        if (msg.body.status !== this.status) {
          this.status = msg.body.status;
          this.emit('status', msg.body.status);
        }
        return;
      case MsgType.Ping:
        // Not while the socket is not draining: a server that sends PINGs and does not read
        // would have us queue a PONG for each, without bound (§12; the server does the same).
        if (!socket.writableNeedDrain)
          socket.write(encodeMessage({ type: MsgType.Pong, body: { ts: msg.body.ts } }));
        return;
      case MsgType.Pong:
        return;
      case MsgType.Queued: {
        // First notice at info (why the snapshot has not started), later moves at debug.
        const first = this.queuePlace === undefined;
        this.queuePlace = msg.body;
        this.log[first ? 'info' : 'debug'](
          { address, ...msg.body },
          'waiting for a snapshot slot on the server',
        );
        this.emit('queued', msg.body);
        return;
      }
      case MsgType.Goodbye:
        this.goodbye = msg.body;
        this.retryAfterMs = Math.min(msg.body.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
        this.log.info({ address, code: msg.body.code, message: msg.body.message }, 'server said goodbye');
        socket.destroy();
        return;
      default:
        throw new ProtocolError(
          CloseCode.UnexpectedMessage,
          `unexpected message type ${msg.type} from the server`,
        );
    }
  }

  private checkHash(expected: string, generation: number): void {
    const have = this.state.hashHex();
    if (have !== undefined && have !== expected)
      throw new ProtocolError(
        CloseCode.HashMismatch,
        `state hash at generation ${generation} is ${have}, server says ${expected}`,
      );
  }

  /**
   * The client's position after a complete snapshot or delta run, with the hash of the state
   * it holds (its own when verifying, else what the server stated), so that it can resume on
   * any replica that had the same state (§14.3). Its own hash also goes with the next ACK (§13).
   */
  private advance(socket: Socket, generation: number, statedHash: string | undefined): void {
    const own = this.state.hashHex();
    this.moveTo(generation, own ?? statedHash);
    this.ackHash = own === undefined ? undefined : { generation, hash: own };
    this.scheduleAck(socket);
  }

  /** `hash`: the state hash at `generation`, or undefined when unknown (never an older one). */
  private moveTo(generation: number, hash: string | undefined): void {
    this.generation = generation;
    this.position = { epoch: this.epoch, generation, ...(hash === undefined ? {} : { hash }) };
  }

  private scheduleAck(socket: Socket): void {
    if (this.ackTimer) return;
    const wait = Math.max(0, this.lastAckMs + this.o.ackIntervalMs - Date.now());
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      if (socket.destroyed || this.socket !== socket) return;
      this.lastAckMs = Date.now();
      // Only the hash of the state at this very generation (a resume moves the generation alone).
      const hash = this.ackHash?.generation === this.generation ? this.ackHash.hash : undefined;
      socket.write(
        encodeMessage({ type: MsgType.Ack, body: { generation: this.generation, ...(hash && { hash }) } }),
      );
    }, wait);
    this.ackTimer.unref();
  }

  private startWatchdog(socket: Socket, address: string): void {
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastRxMs > this.readTimeoutMs) {
        this.log.warn({ address, ms: Date.now() - this.lastRxMs }, 'server silent: reconnecting elsewhere');
        this.avoid = address;
        socket.destroy(new Error(`${CloseCode.PingTimeout}: nothing received for ${this.readTimeoutMs} ms`));
      }
    }, 1_000);
    this.watchdog.unref();
  }

  private startPinger(socket: Socket, intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.pinger = setInterval(
      () => {
        if (!socket.destroyed) socket.write(encodeMessage({ type: MsgType.Ping, body: { ts: Date.now() } }));
      },
      Math.max(intervalMs, MIN_PING_INTERVAL_MS),
    );
    this.pinger.unref();
  }

  /**
   * Connected below the top of its ranking (the preferred replica was down, refused or asked
   * to wait), the client moves back after a long jittered delay, resuming there with deltas:
   * the nodes displaced by one replica's restart drift home spread out, not as a herd.
   */
  private scheduleDrift(socket: Socket, address: string): void {
    if (this.o.driftIntervalMs <= 0) return;
    clearTimeout(this.driftTimer);
    const ms = this.o.driftIntervalMs * (0.5 + Math.random());
    this.driftTimer = setTimeout(() => this.drift(socket, address), ms);
    this.driftTimer.unref();
  }

  private drift(socket: Socket, address: string): void {
    if (socket !== this.socket || socket.destroyed) return;
    const now = Date.now();
    const best = this.ranking().find((a) => !this.cooldowns.cooling(a, now));
    if (best === undefined || best === address) return; // home already, or nowhere better to go
    if (this.state.staging || this.runChanges.length > 0) {
      // Never cut a snapshot or a delta run: look again shortly.
      this.driftTimer = setTimeout(() => this.drift(socket, address), 1_000);
      this.driftTimer.unref();
      return;
    }
    this.log.info({ address, preferred: best }, 'moving back to the preferred replica');
    this.cursor = 0;
    this.goodbye = undefined;
    socket.end(
      encodeMessage({
        type: MsgType.Goodbye,
        body: { code: CloseCode.Rebalance, message: `moving to the preferred replica ${best}` },
      }),
    );
    socket.destroy();
  }

  private clearConnTimers(): void {
    clearInterval(this.watchdog);
    clearInterval(this.pinger);
    clearTimeout(this.ackTimer);
    clearTimeout(this.driftTimer);
    this.watchdog = this.pinger = this.ackTimer = this.driftTimer = undefined;
  }

  /**
   * Returns the delay before the next attempt (undefined: stopped). A server's retryAfterMs
   * keeps the client away from that server only: the next attempt goes to the best replica
   * not cooling down, and waits only when every one is (§16).
   */
  private scheduleReconnect(address: string): number | undefined {
    if (this.stopped) return undefined;
    const now = Date.now();
    if (this.retryAfterMs > 0) {
      this.cooldowns.add(address, this.retryAfterMs, now);
      this.cursor = 0;
    }
    this.retryAfterMs = 0;
    const delay = Math.max(this.backoff.next(), this.cooldowns.waitMs(this.ranking(), now));
    this.reconnectTimer = setTimeout(() => this.dial(), delay);
    return delay;
  }
}
