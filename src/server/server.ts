// The fan-out server: accepts connections, runs the handshake, and keeps every client
// moving along its syncer's stream. Fan-out is coalesced: one pass per event-loop turn
// after the cache advances, writing the same encoded frames to every client that is
// caught up. One coarse interval timer owns every deadline (handshake, ping, pong, write,
// fall-behind), so the per-connection cost is one small object and its socket.

import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../model/logger.js';
import { RateLimitedLog } from '../model/rate-limited-log.js';
import type { SyncerType } from '../model/types.js';
import { encodeMessage } from '../protocol/codec.js';
import { FrameDecoder } from '../protocol/decoder.js';
import { CloseCode, isCloseCode, ProtocolError } from '../protocol/errors.js';
import { Compression, type Hello, type Message, MsgType } from '../protocol/messages.js';
import { isNodeName } from '../protocol/reports.js';
import { Connection, type ConnectionIdentity, ConnState } from './connection.js';
import { negotiate, resumePoint } from './negotiate.js';
import { MAX_PRE_HELLO_FRAME_BYTES, type ServerOptions } from './options.js';
import { chooseToShed, type ReplicaView, shareOf } from './rebalance.js';
import { type NodeReportSink, NodeReports, type ReportOptions, type ReportPolicy } from './reports.js';
import { SnapshotQueue } from './snapshot-queue.js';
import { ServerStats } from './stats.js';
import type { SyncStream } from './sync-stream.js';
import type { TlsMaterial } from './tls.js';
import { createTlsListener } from './tls-listener.js';
import { TokenBucket } from './token-bucket.js';

export type { ConnectionIdentity } from './connection.js';
export { DEFAULT_SERVER_OPTIONS, FRAME_OVERHEAD_BYTES, type ServerOptions } from './options.js';
export type { ReplicaView } from './rebalance.js';
export type { NodeReportSink, ReportOptions, ReportPolicy } from './reports.js';

/** The peer broke the rules: worth a warning. Our own bug: an error. The rest is routine. */
function closeLogLevel(code: CloseCode): 'info' | 'warn' | 'error' {
  switch (code) {
    case CloseCode.InternalError:
      return 'error';
    case CloseCode.FrameTooLarge:
    case CloseCode.MalformedFrame:
    case CloseCode.UnknownMessage:
    case CloseCode.UnexpectedMessage:
    case CloseCode.TooManyPings:
    case CloseCode.WriteQueueFull:
      return 'warn';
    default:
      return 'info';
  }
}

/** How a handshake went, for tabby_handshakes_total: a snapshot, or a resume on this stream or by state. */
function handshakeKind(hello: Hello, epoch: string, resumed: boolean): string {
  if (!resumed) return 'snapshot';
  return hello.resume!.epoch === epoch ? 'resumed' : 'resumed-by-hash';
}

export class SyncServer {
  private readonly streams: ReadonlyMap<SyncerType, SyncStream>;
  private readonly conns = new Set<Connection>();
  private readonly ready = new Set<Connection>();
  /** Connections waiting for HELLO, oldest first (a Set keeps insertion order). */
  private readonly pending = new Set<Connection>();
  private fanoutAll = false;
  /** The fan-out pass in progress (see runFanout). */
  private pass: Connection[] = [];
  private passIndex = 0;
  private fanoutScheduled = false;
  private nextId = 1;
  private streamingCount = 0;
  private listener: Server | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private stopTls: (() => void) | undefined;
  private draining = false;
  private view: ReplicaView = {};
  private lastRebalanceMs = 0;
  readonly stats = new ServerStats();
  /** Accepts REPORTs when a sink is wired; undefined: SERVER_HELLO lists no report kinds. */
  private readonly reports: NodeReports | undefined;
  /** Clients may ping at twice our rate (the reference client pings at ours), or faster if configured. */
  private readonly clientPingRefillMs: number;
  /** Connection ends, refusals and other peer-triggered lines: a few per reason and window. */
  private readonly limitedLog: RateLimitedLog;
  /** At most maxSnapshotsInFlight snapshots written at once; the others wait their turn. */
  readonly snapshots: SnapshotQueue;

  constructor(
    streams: readonly SyncStream[],
    private readonly opts: ServerOptions,
    private readonly log: Logger,
    reporting?: { sink: NodeReportSink; policy: ReportPolicy; options?: ReportOptions },
  ) {
    if (opts.pongTimeoutMs <= opts.pingIntervalMs)
      throw new RangeError('pongTimeoutMs must be longer than pingIntervalMs');
    this.streams = new Map(streams.map((s) => [s.syncer, s]));
    this.limitedLog = new RateLimitedLog(log);
    this.clientPingRefillMs = Math.min(opts.clientPingRefillMs, opts.pingIntervalMs / 2);
    this.snapshots = new SnapshotQueue(
      { maxInFlight: opts.maxSnapshotsInFlight, bytesPerSecond: opts.snapshotBytesPerSecond },
      (conn) => this.sendSnapshot(conn, Date.now()),
      (conn, frames) => this.send(conn, frames, Date.now()),
    );
    if (reporting)
      this.reports = new NodeReports(
        reporting.sink,
        this.stats.reports,
        log.child({ component: 'reports' }),
        reporting.policy,
        reporting.options,
      );
    for (const s of streams) {
      s.on('advance', () => {
        this.fanoutAll = true;
        this.scheduleFanout();
      });
    }
  }

  /**
   * What the server knows of its fleet: freshness gates new clients (`not-ready`), ready
   * replicas and expected clients set its share for rebalancing (PROTOCOL.md §14.4).
   */
  setReplicaView(view: ReplicaView): void {
    this.view = view;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  connections(): IterableIterator<Connection> {
    return this.conns.values();
  }

  /**
   * Listens on host:port: plain TCP, or mutual TLS when `tls` is given (every client must
   * present a certificate the client CA verifies and the allow-lists admit).
   */
  async listen(host: string, port: number, tls?: TlsMaterial): Promise<{ host: string; port: number }> {
    const srv = tls ? this.tlsListen(tls) : createServer({ noDelay: true }, (socket) => this.attach(socket));
    this.listener = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ port, host, backlog: this.opts.listenBacklog }, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    srv.on('error', (err) => this.log.error({ err }, 'listener error'));
    this.ticker = setInterval(() => this.tick(), this.opts.tickMs);
    this.ticker.unref();
    const addr = srv.address();
    if (addr === null || typeof addr === 'string') throw new Error('listener has no TCP address');
    return { host: addr.address, port: addr.port };
  }

  private tlsListen(tls: TlsMaterial): Server {
    const { server, stop } = createTlsListener(tls, {
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      maxSockets: this.opts.maxConnections + this.opts.maxPendingHandshakes,
      closeLingerMs: this.opts.closeLingerMs,
      stats: this.stats,
      log: this.log,
      limitedLog: this.limitedLog,
      attach: (socket, identity) => this.attach(socket, identity),
    });
    this.stopTls = stop;
    return server;
  }

  /**
   * Takes over an accepted socket (plain TCP here; a TLS listener hands over its sockets too,
   * with the identity its client certificate proves).
   */
  attach(socket: Socket, identity?: ConnectionIdentity): void {
    const now = Date.now();
    this.stats.accepted++;
    const conn = new Connection(this.nextId++, socket, now, identity);
    socket.setNoDelay(true);
    socket.on('error', (err) => this.onSocketGone(conn, `socket error: ${err.message}`));
    socket.on('close', () => this.onSocketGone(conn, 'peer closed'));
    const refusal = this.admission(now); // judged before the newcomer counts
    this.conns.add(conn);
    if (refusal) {
      this.refuse(conn, refusal.code, refusal.why);
      return;
    }
    this.pending.add(conn);
    const limits = this.opts.maxInboundFrameBytes;
    const decoder = new FrameDecoder({
      // Read per frame header: until HELLO is handled, a stranger gets a small limit.
      get maxFrameBytes() {
        return conn.state === ConnState.Handshake ? MAX_PRE_HELLO_FRAME_BYTES : limits;
      },
      get maxMessageBytes() {
        return conn.state === ConnState.Handshake ? MAX_PRE_HELLO_FRAME_BYTES : limits;
      },
    });
    socket.on('data', (data: Buffer) => {
      if (conn.state === ConnState.Closing) return;
      conn.lastRxMs = Date.now();
      this.stats.bytesIn += data.length;
      try {
        decoder.feed(data, (msg) => {
          if (conn.state === ConnState.Closing) return; // e.g. frames after the client's GOODBYE
          this.onMessage(conn, msg);
          // A client may compress only as negotiated (§8.3), HELLO never.
          decoder.deflate = conn.state === ConnState.Streaming && conn.compression === Compression.Deflate;
          decoder.zstd = conn.state === ConnState.Streaming && conn.compression === Compression.Zstd;
        });
      } catch (err) {
        if (err instanceof ProtocolError) {
          this.stats.protocolErrors.inc(err.closeCode);
          this.close(conn, err.closeCode, err.message);
        } else {
          this.close(conn, CloseCode.InternalError, 'internal error', undefined, { err });
        }
      }
    });
    socket.on('drain', () => {
      conn.blockedSinceMs = 0;
      this.snapshots.drained(conn);
      this.ready.add(conn);
      this.scheduleFanout();
    });
  }

  /**
   * Whether a new connection gets a handshake slot (undefined) or why not. Connections past
   * HELLO count against maxConnections; those still waiting for HELLO have their own budget,
   * so idle sockets cannot lock agents out: when it is full, the one waiting longest gives
   * way (if it has had its minimum grace), else the newcomer is refused with a retry hint.
   */
  private admission(now: number): { code: CloseCode; why: string } | undefined {
    const o = this.opts;
    if (this.draining) return { code: CloseCode.Shutdown, why: 'server is shutting down' };
    if (this.view.fresh?.() === false)
      return {
        code: CloseCode.NotReady,
        why: 'the datastore is not in sync: this replica would serve stale data',
      };
    if (this.establishedCount() >= o.maxConnections)
      return { code: CloseCode.TooManyConnections, why: `at the limit of ${o.maxConnections} connections` };
    if (this.pending.size < o.maxPendingHandshakes) return undefined;
    const oldest = this.pending.values().next().value!;
    if (now - oldest.openedAtMs < o.minHandshakeGraceMs)
      return {
        code: CloseCode.TooManyConnections,
        why: `${this.pending.size} connections are waiting for their HELLO`,
      };
    this.close(
      oldest,
      CloseCode.HandshakeTimeout,
      `no HELLO after ${now - oldest.openedAtMs} ms, and ${this.pending.size} connections wait for HELLO`,
    );
    return undefined;
  }

  /** Closes a connection the server will not serve now, with a jittered retry hint. */
  private refuse(conn: Connection, code: CloseCode, why: string): void {
    this.stats.refused++;
    const base = code === CloseCode.NotReady ? this.opts.notReadyRetryAfterMs : 2_000;
    this.close(conn, code, why, Math.round(base * (0.5 + Math.random())));
  }

  /**
   * Connections streaming: what maxConnections limits. Closing ones do not count (they linger
   * at most closeLingerMs), or a flood of refused or evicted sockets would lock agents out.
   */
  private establishedCount(): number {
    return this.streamingCount;
  }

  private onMessage(conn: Connection, msg: Message): void {
    if (msg.type === MsgType.Goodbye) {
      // Accepted in every state, before HELLO too (§7.2); never answered (§16). The code is the
      // peer's string: a metric label only when it is one we know (labels must stay bounded).
      const code = isCloseCode(msg.body.code) ? msg.body.code : 'other';
      this.limitedLog.info(
        `client:${code}`,
        { ...conn.describe(), code: msg.body.code },
        'client said goodbye',
      );
      this.countClose(conn, `client:${code}`);
      this.setClosing(conn);
      conn.socket.end();
      return;
    }
    if (conn.state === ConnState.Handshake) {
      if (msg.type !== MsgType.Hello)
        throw new ProtocolError(CloseCode.UnexpectedMessage, 'the first message must be HELLO');
      this.handshake(conn, msg.body);
      return;
    }
    switch (msg.type) {
      case MsgType.Ping:
        this.onPing(conn, msg.body.ts);
        return;
      case MsgType.Pong:
        return; // liveness is any received byte
      case MsgType.Ack:
        conn.recordAck(msg.body, Date.now());
        return;
      case MsgType.Report:
        if (this.reports) this.reports.onReport(conn, msg.body);
        else {
          this.stats.reports.inc('other:unsupported-kind');
          this.log.debug(
            { ...conn.describe(), kind: msg.body.kind },
            'ignoring REPORT: no report kinds accepted',
          );
        }
        return;
      default:
        throw new ProtocolError(
          CloseCode.UnexpectedMessage,
          `unexpected message type ${msg.type} from a client`,
        );
    }
  }

  /**
   * A client's PING is answered unless its socket is not draining (the PONG would only
   * queue: a client that does not read cannot use it), and a client that pings beyond its
   * allowance is dropped: each answer costs a write, and no well-behaved client needs more.
   */
  private onPing(conn: Connection, ts: number): void {
    const now = Date.now();
    conn.pings ??= new TokenBucket(this.opts.clientPingBurst, this.clientPingRefillMs, now);
    if (!conn.pings.take(now)) {
      this.close(conn, CloseCode.TooManyPings, `more than ${this.opts.clientPingBurst} PINGs in a burst`);
      return;
    }
    if (conn.socket.writableNeedDrain) return;
    this.send(conn, [encodeMessage({ type: MsgType.Pong, body: { ts } })], now);
  }

  /**
   * Every write to a client goes through here: the bytes its socket holds that the kernel
   * has not taken are capped, whatever wrote them.
   */
  private send(conn: Connection, frames: readonly Buffer[], now: number): boolean {
    conn.write(frames, now);
    const queued = conn.socket.writableLength;
    if (queued <= this.opts.maxQueuedBytes) return true;
    this.close(
      conn,
      CloseCode.WriteQueueFull,
      `${queued} bytes queued for the socket, above the limit of ${this.opts.maxQueuedBytes}`,
    );
    return false;
  }

  private handshake(conn: Connection, hello: Hello): void {
    const { version, compression, stream } = negotiate(hello, this.streams, this.opts);
    const now = Date.now();
    this.pending.delete(conn);
    // Others may have completed their HELLO since this one was admitted (this one not yet counted).
    if (this.establishedCount() >= this.opts.maxConnections) {
      this.refuse(
        conn,
        CloseCode.TooManyConnections,
        `at the limit of ${this.opts.maxConnections} connections`,
      );
      return;
    }
    conn.syncer = hello.syncer;
    conn.stream = stream;
    conn.compression = compression;
    conn.hostname = hello.hostname.slice(0, 253);
    conn.node = isNodeName(hello.hostname) ? hello.hostname : undefined;
    conn.rank = hello.rank;
    conn.capabilities = hello.capabilities;
    const resumeAt = resumePoint(hello.resume, stream);
    const resumed = resumeAt !== undefined;
    conn.state = ConnState.Streaming;
    this.streamingCount++;
    const serverHello = encodeMessage({
      type: MsgType.ServerHello,
      body: {
        version,
        syncer: hello.syncer,
        compression,
        epoch: stream.epoch,
        serverId: this.opts.serverId,
        resumed,
        ...(resumed ? { resumeGeneration: resumeAt } : {}),
        pingIntervalMs: this.opts.pingIntervalMs,
        pongTimeoutMs: this.opts.pongTimeoutMs,
        // Only a connection that may report is told it can (§15.1).
        ...(this.reports?.acceptsFrom(conn) ? { reports: [...this.reports.kinds] } : {}),
      },
    });
    if (!this.send(conn, [serverHello], now)) return;
    this.stats.handshakes.inc(`${hello.syncer}:${handshakeKind(hello, stream.epoch, resumed)}`);
    this.log.debug({ ...conn.describe(), agent: hello.agent, resumed, compression }, 'client connected');
    if (resumed) {
      conn.generation = resumeAt;
      conn.snapshotAtMs = now; // a resuming client gets the same grace as a new one
      this.deliver(conn, now);
    } else {
      this.snapshots.request(conn, hello.capabilities);
    }
  }

  private sendSnapshot(conn: Connection, now: number): void {
    const stream = conn.stream!;
    const snap = stream.snapshot(conn.compression);
    if (snap.bytes > this.opts.maxQueuedBytes)
      this.limitedLog.error(
        'snapshot-over-queue-limit',
        { syncer: stream.syncer, bytes: snap.bytes, maxQueuedBytes: this.opts.maxQueuedBytes },
        'a snapshot is larger than the per-connection queue limit: clients that cannot take it at once are dropped; raise --max-queued-bytes',
      );
    if (!this.send(conn, snap.frames, now)) return;
    conn.generation = snap.generation;
    conn.sentStatus = undefined;
    conn.snapshotAtMs = now;
    this.stats.snapshotsSent.inc(stream.syncer);
    this.stats.snapshotBytes += snap.bytes;
    this.snapshots.wrote(conn, snap.bytes);
    this.deliver(conn, now);
  }

  /** Brings one writable, streaming client to the head of its stream. */
  private deliver(conn: Connection, now: number): void {
    if (conn.state !== ConnState.Streaming || conn.blocked || this.snapshots.waiting(conn)) return;
    const stream = conn.stream!;
    if (conn.generation !== stream.headGeneration) {
      const frames = stream.catchUp(conn.generation, conn.compression);
      if (frames === undefined) {
        // Out of the retained window: a fresh snapshot is cheaper than what was lost.
        this.stats.resnapshots++;
        this.log.info(
          { ...conn.describe(), generation: conn.generation },
          'client outside the window: re-snapshot',
        );
        this.snapshots.request(conn, conn.capabilities);
        return;
      }
      this.stats.deltaBytes += frames.bytes;
      if (!this.send(conn, frames.frames, now)) return;
      conn.generation = stream.headGeneration;
    }
    if (conn.sentStatus !== stream.status) {
      if (!this.send(conn, [stream.statusFrame()], now)) return;
      conn.sentStatus = stream.status;
    }
  }

  private scheduleFanout(): void {
    if (this.fanoutScheduled) return;
    this.fanoutScheduled = true;
    setImmediate(() => this.runFanout());
  }

  /**
   * One slice of a fan-out pass. Socket writes copy into the kernel synchronously, so a pass
   * over thousands of clients is cut into slices of at most fanoutSliceMs, letting the loop
   * read pongs, hellos and datastore updates in between. A pass started is finished before
   * the next one starts, so every client is visited once per pass.
   */
  private runFanout(): void {
    this.fanoutScheduled = false;
    if (this.passIndex >= this.pass.length) {
      this.pass = this.fanoutAll ? [...this.conns] : [...this.ready];
      this.passIndex = 0;
      this.fanoutAll = false;
      this.ready.clear();
    }
    const started = performance.now();
    const now = Date.now();
    while (this.passIndex < this.pass.length) {
      this.deliver(this.pass[this.passIndex++]!, now);
      if ((this.passIndex & 63) === 0 && performance.now() - started > this.opts.fanoutSliceMs) break;
    }
    if (this.passIndex >= this.pass.length) this.pass = [];
    if (this.pass.length > 0 || this.fanoutAll || this.ready.size > 0) this.scheduleFanout();
  }

  /** The one timer: pings, and every deadline of every connection. */
  private tick(): void {
    const now = Date.now();
    const o = this.opts;
    this.limitedLog.flush();
    this.reports?.flushLog();
    this.view.fresh?.(); // asked every tick too, so staleness is measured without new clients
    this.snapshots.tick(now);
    if (o.rebalanceIntervalMs > 0 && now - this.lastRebalanceMs >= o.rebalanceIntervalMs) {
      this.lastRebalanceMs = now;
      this.rebalance();
    }
    let ping: Buffer | undefined;
    for (const conn of this.conns) {
      if (conn.state === ConnState.Closing) {
        if (now - conn.closingSinceMs > o.closeLingerMs) conn.socket.destroy();
        continue;
      }
      if (conn.state === ConnState.Handshake) {
        if (now - conn.openedAtMs > o.handshakeTimeoutMs)
          this.close(conn, CloseCode.HandshakeTimeout, 'no HELLO within the handshake timeout');
        continue;
      }
      if (now - conn.lastRxMs > o.pongTimeoutMs) {
        this.close(conn, CloseCode.PingTimeout, `nothing received for ${now - conn.lastRxMs} ms`);
        continue;
      }
      if (conn.blocked && now - conn.blockedSinceMs > o.writeTimeoutMs) {
        this.close(
          conn,
          CloseCode.WriteTimeout,
          `socket has not drained for ${now - conn.blockedSinceMs} ms`,
        );
        continue;
      }
      // A client waiting for its snapshot holds nothing yet: it cannot be behind.
      const missingSince = this.snapshots.waiting(conn)
        ? undefined
        : conn.stream!.missingSinceMs(conn.generation);
      if (
        missingSince !== undefined &&
        now - missingSince > o.maxFallBehindMs &&
        now - conn.snapshotAtMs > o.newClientGraceMs
      ) {
        this.close(conn, CloseCode.FellBehind, `client is ${now - missingSince} ms behind`);
        continue;
      }
      if (now - conn.lastPingMs >= o.pingIntervalMs && !conn.blocked) {
        ping ??= encodeMessage({ type: MsgType.Ping, body: { ts: now } });
        conn.lastPingMs = now;
        this.send(conn, [ping], now);
      }
    }
  }

  /**
   * Sheds a few clients of each syncer this replica holds beyond its share of the fleet, so a
   * replica that returns fills up again without a storm. Only current clients (at the head,
   * socket drained, having acknowledged a state) are moved, so none is cut mid-snapshot or
   * mid-run and each resumes elsewhere by state with deltas only (PROTOCOL.md §14.3).
   */
  private rebalance(): void {
    const replicas = this.view.readyReplicas?.() ?? 0;
    if (this.draining || replicas <= 0) return;
    const o = this.opts;
    for (const [syncer, stream] of this.streams) {
      const expected = this.view.expectedClients?.(syncer) ?? 0;
      if (expected <= 0) continue;
      const mine = [...this.conns].filter((c) => c.syncer === syncer && c.state === ConnState.Streaming);
      const target = shareOf(expected, replicas, o.rebalanceSlack);
      if (mine.length <= target) continue;
      const eligible = mine.filter(
        (c) =>
          !c.blocked &&
          !c.socket.writableNeedDrain &&
          c.generation === stream.headGeneration &&
          c.ackedGeneration >= 0,
      );
      const shed = chooseToShed(eligible, Math.min(mine.length - target, o.rebalanceMaxPerInterval));
      for (const c of shed) {
        this.stats.shed.inc(syncer);
        this.close(
          c,
          CloseCode.Rebalance,
          `${mine.length} ${syncer} clients, above this replica's share of ${target} (${expected} over ${replicas} replicas)`,
          o.rebalanceRetryAfterMs,
        );
      }
    }
  }

  /**
   * Ends a connection with a reason: GOODBYE when the socket can take it, then FIN. One log
   * line per close, rate-limited per code: a flood of bad connections costs a few lines.
   */
  close(conn: Connection, code: CloseCode, message: string, retryAfterMs?: number, detail?: object): void {
    if (conn.state === ConnState.Closing) return;
    this.setClosing(conn);
    this.countClose(conn, code);
    this.limitedLog[closeLogLevel(code)](
      code,
      { ...conn.describe(), ...detail, code, reason: message },
      'closing connection',
    );
    if (code === CloseCode.WriteTimeout || conn.blocked || conn.socket.writableNeedDrain) {
      conn.socket.destroy(); // it cannot take a GOODBYE: anything more would just buffer
      return;
    }
    this.sendGoodbye(conn, code, message, retryAfterMs);
  }

  private sendGoodbye(conn: Connection, code: string, message: string, retryAfterMs?: number): void {
    const body = retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs };
    conn.socket.end(encodeMessage({ type: MsgType.Goodbye, body }));
  }

  private countClose(conn: Connection, reason: string): void {
    this.stats.closes.inc(`${conn.syncer ?? 'none'}:${reason}`);
  }

  private onSocketGone(conn: Connection, why: string): void {
    if (!this.conns.delete(conn)) return;
    this.ready.delete(conn);
    this.pending.delete(conn);
    if (conn.state !== ConnState.Closing) {
      this.countClose(conn, 'peer-closed');
      this.log.debug({ ...conn.describe(), why }, 'connection lost');
    }
    this.setClosing(conn);
    if (!conn.socket.destroyed) conn.socket.destroy();
  }

  /** The one way a connection leaves Handshake or Streaming: its slot is freed here. */
  private setClosing(conn: Connection): void {
    if (conn.state === ConnState.Closing) return;
    if (conn.state === ConnState.Streaming) this.streamingCount--;
    this.snapshots.forget(conn);
    conn.state = ConnState.Closing;
    conn.closingSinceMs = Date.now();
    this.pending.delete(conn);
  }

  /**
   * Graceful shutdown: stop accepting, then close clients spread over `durationMs` so that
   * they reconnect to other replicas gradually instead of as a herd. Each GOODBYE's
   * retryAfterMs covers the rest of the drain, so the client goes to its next replica (and
   * resumes there by state) instead of knocking here again.
   */
  async drain(durationMs: number): Promise<void> {
    this.draining = true;
    this.reports?.close();
    const listener = this.listener;
    const listenerClosed = listener ? new Promise<void>((r) => listener.close(() => r())) : Promise.resolve();
    // Clients still waiting for a snapshot hold nothing here: they go first, at once.
    const drainMs = durationMs + this.opts.closeLingerMs;
    for (const c of this.snapshots.releaseAll())
      this.close(c, CloseCode.Shutdown, 'server shutting down', drainMs);
    const victims = [...this.conns].filter((c) => c.state !== ConnState.Closing);
    const step = victims.length > 0 ? durationMs / victims.length : 0;
    const started = Date.now();
    for (let i = 0; i < victims.length; i++) {
      const due = started + i * step;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const rest = Math.max(0, started + durationMs - Date.now()) + this.opts.closeLingerMs;
      this.close(victims[i]!, CloseCode.Shutdown, 'server shutting down', rest);
    }
    const deadline = Date.now() + this.opts.closeLingerMs;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.conns) c.socket.destroy();
    if (this.ticker) clearInterval(this.ticker);
    this.stopTls?.();
    await listenerClosed;
  }

  /** Immediate stop (tests): destroys every socket. */
  async destroy(): Promise<void> {
    this.draining = true;
    this.snapshots.releaseAll();
    this.reports?.close();
    if (this.ticker) clearInterval(this.ticker);
    this.stopTls?.();
    for (const c of this.conns) c.socket.destroy();
    const listener = this.listener;
    if (listener) await new Promise<void>((r) => listener.close(() => r()));
  }
}
