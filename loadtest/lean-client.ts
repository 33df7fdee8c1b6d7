// A deliberately cheap sync client for load: speaks the real protocol (HELLO, answers PING,
// ACKs, PINGs) but skips snapshot chunk bodies without inflating or buffering them and, in
// deltas, only finds the send-time stamps and the target generation. A full SyncClient
// decodes and stores the whole state (~11 MB raw per client here), which 10,000 of them on
// 2 cores and 24 GiB cannot do; correctness is checked by a few full clients beside these.
// `tabby loadtest` uses the same class with label stamps (stamp.ts) and, for rollouts,
// reconnects over a list of replicas with or without resume.

import { connect, type Socket } from 'node:net';
import { inflateSync } from 'node:zlib';
import { encodeMessage, FLAG_DEFLATE, HEADER_BYTES, packr } from '../src/protocol/codec.js';
import { MsgType, PROTOCOL_VERSIONS, parseBody } from '../src/protocol/messages.js';
import { forEachStamp } from './stamp.js';
import { SENT_AT_FIELD } from './workload.js';

/** fixstr header + the field name: what precedes every send-time stamp in a delta. */
const MARKER = Buffer.concat([Buffer.from([0xa0 | SENT_AT_FIELD.length]), Buffer.from(SENT_AT_FIELD)]);
const MAX_FRAME_BYTES = 16 << 20;

export const wallNow = (): number => performance.timeOrigin + performance.now();

/** What a client tells its worker; the worker aggregates (one histogram per worker, not per client). */
export interface ClientSink {
  onSample(latencyMs: number, sentAtMs: number, id: number): void;
  onDeltaFrame(): void;
  onBytes(n: number): void;
  onGeneration(c: LeanClient, from: number, to: number): void;
  onSnapshotEnd(c: LeanClient): void;
  onGone(c: LeanClient, why: string): void;
  /** SERVER_HELLO: a snapshot follows unless `resumed`. */
  onConnected?(c: LeanClient, resumed: boolean): void;
  /** Connection lost, and the client reconnects (only with `reconnect`). */
  onDisconnected?(c: LeanClient, why: string): void;
}

export interface LeanClientOptions {
  /** Where deltas carry their send time: the bench's numeric field, or the loadtest's pod label. */
  stamps?: 'bench' | 'label';
  /** Reconnect after a close, to the next port of the list, offering resume when `resume`. */
  reconnect?: { ports: readonly number[]; resume: boolean };
}

export class LeanClient {
  private socket: Socket | undefined;
  private readonly hdr = Buffer.allocUnsafe(HEADER_BYTES);
  private hdrFill = 0;
  private inBody = false;
  private need = 0;
  private type = 0;
  private flags = 0;
  private parts: Buffer[] = [];
  generation = -1;
  ackedGeneration = -1;
  startedAtMs = 0;
  connectedAtMs = 0;
  snapshotEndAtMs = 0;
  gone = false;
  /** Connections made, and how many of the later ones the server resumed. */
  connects = 0;
  resumes = 0;
  private epoch: string | undefined;
  /** The state hash the server sent for generation `hashAt` (SNAPSHOT_END, last DELTA frame). */
  private hash: string | undefined;
  private hashAt = -1;
  /** The port of the replica (or broadcaster) dialled last. */
  port = 0;
  private destroyed = false;
  private onHandshake: (() => void) | undefined;

  constructor(
    readonly id: number,
    private readonly sink: ClientSink,
    private readonly opts: LeanClientOptions = {},
  ) {}

  /**
   * Dials and says HELLO. `onHandshake` fires once, at SERVER_HELLO or failure: the worker
   * counts a connect in flight until the *server* has taken it, since the kernel completes
   * TCP handshakes into the listen queue long before a busy server accepts them.
   */
  start(port: number, onHandshake: () => void): void {
    this.startedAtMs = wallNow();
    this.onHandshake = onHandshake;
    this.dial(port);
  }

  private dial(port: number): void {
    this.port = port;
    this.connects++;
    this.hdrFill = 0;
    this.inBody = false;
    this.parts = [];
    const resume =
      this.opts.reconnect?.resume &&
      this.epoch !== undefined &&
      this.snapshotEndAtMs > 0 &&
      this.generation >= 0
        ? {
            epoch: this.epoch,
            generation: this.generation,
            // The hash the server sent for this position (§14.3 allows it: this client keeps
            // no state to hash), so another replica that had the same state can resume it.
            ...(this.hashAt === this.generation && this.hash ? { hash: this.hash } : {}),
          }
        : undefined;
    const s = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket = s;
    s.once('connect', () => {
      this.connectedAtMs = wallNow();
      s.write(
        encodeMessage({
          type: MsgType.Hello,
          body: {
            versions: [...PROTOCOL_VERSIONS],
            syncer: 'felix',
            hostname: `bench-client-${this.id}`,
            agent: 'tabby-bench/lean',
            compressions: ['deflate'],
            maxFrameBytes: MAX_FRAME_BYTES,
            ...(resume ? { resume } : {}),
          },
        }),
      );
    });
    s.on('data', (d: Buffer) => {
      if (this.socket === s) this.onData(d);
    });
    s.on('error', (err) => this.lost(s, err.message));
    s.on('close', () => this.lost(s, 'connection closed'));
  }

  /** A socket ended: reconnect (rollouts) or give up (the bench). Stale sockets are ignored. */
  private lost(s: Socket, why: string): void {
    if (this.socket !== s) return;
    const r = this.opts.reconnect;
    if (!r || this.destroyed || this.gone) {
      this.fail(why);
      return;
    }
    this.socket = undefined;
    s.destroy();
    this.handshakeDone();
    this.sink.onDisconnected?.(this, why);
    const next = r.ports[(r.ports.indexOf(this.port) + 1) % r.ports.length]!;
    // Jittered, as SyncClient's backoff is: a drained replica's clients do not all land at once.
    setTimeout(
      () => {
        if (!this.destroyed) this.dial(next);
      },
      50 + Math.random() * 250,
    );
  }

  /** Sends an ACK if the position moved since the last one (SyncClient ACKs at most once a second). */
  ack(): void {
    if (this.gone || this.generation <= this.ackedGeneration) return;
    this.ackedGeneration = this.generation;
    this.socket?.write(encodeMessage({ type: MsgType.Ack, body: { generation: this.generation } }));
  }

  /** Only after HELLO went out: a PING written while connecting would overtake it. */
  ping(): void {
    if (!this.gone && this.connectedAtMs > 0)
      this.socket?.write(encodeMessage({ type: MsgType.Ping, body: { ts: Date.now() } }));
  }

  destroy(): void {
    this.destroyed = true;
    this.socket?.destroy();
  }

  private fail(why: string): void {
    if (this.gone) return;
    this.gone = true;
    this.handshakeDone();
    this.sink.onGone(this, why);
  }

  private handshakeDone(): void {
    const f = this.onHandshake;
    this.onHandshake = undefined;
    f?.();
  }

  /** Splits the stream into frames; snapshot chunk bodies are counted and dropped as they pass. */
  private onData(data: Buffer): void {
    this.sink.onBytes(data.length);
    let off = 0;
    while (off < data.length) {
      if (!this.inBody) {
        const n = Math.min(HEADER_BYTES - this.hdrFill, data.length - off);
        data.copy(this.hdr, this.hdrFill, off, off + n);
        this.hdrFill += n;
        off += n;
        if (this.hdrFill < HEADER_BYTES) return;
        this.hdrFill = 0;
        const len = this.hdr.readUInt32BE(0);
        if (len < 2 || len > MAX_FRAME_BYTES) {
          this.protocolError(`frame length ${len}`);
          return;
        }
        this.type = this.hdr[4]!;
        this.flags = this.hdr[5]!;
        this.need = len - 2;
        this.inBody = true;
        this.parts = [];
      }
      const n = Math.min(this.need, data.length - off);
      if (this.type !== MsgType.SnapshotChunk && n > 0) this.parts.push(data.subarray(off, off + n));
      off += n;
      this.need -= n;
      if (this.need > 0) return;
      this.inBody = false;
      const body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      this.parts = [];
      try {
        this.onFrame(this.type, this.flags, body);
      } catch (err) {
        this.protocolError((err as Error).message);
        return;
      }
    }
  }

  private onFrame(type: number, flags: number, raw: Buffer): void {
    if (type === MsgType.SnapshotChunk) return;
    const body = flags & FLAG_DEFLATE ? inflateSync(raw) : raw;
    if (type === MsgType.Delta) {
      this.onDelta(body);
      return;
    }
    const msg = parseBody(type, packr.unpack(body));
    switch (msg.type) {
      case MsgType.SnapshotEnd:
        this.snapshotEndAtMs = wallNow();
        this.setGeneration(msg.body.generation);
        this.noteHash(msg.body.generation, msg.body.hash);
        this.sink.onSnapshotEnd(this);
        return;
      case MsgType.Status:
        this.setGeneration(msg.body.generation);
        return;
      case MsgType.Ping:
        this.socket?.write(encodeMessage({ type: MsgType.Pong, body: { ts: msg.body.ts } }));
        return;
      case MsgType.Goodbye: {
        const why = `GOODBYE ${msg.body.code}: ${msg.body.message}`;
        // A draining replica says goodbye: with `reconnect` the client goes to the next one.
        if (this.socket && this.opts.reconnect) this.lost(this.socket, why);
        else {
          this.fail(why);
          this.socket?.destroy();
        }
        return;
      }
      case MsgType.ServerHello:
        this.epoch = msg.body.epoch;
        if (msg.body.resumed) this.resumes++;
        // Generations of another epoch are not comparable: start over from its snapshot.
        else this.generation = -1;
        this.handshakeDone();
        this.sink.onConnected?.(this, msg.body.resumed);
        return;
      default:
        return; // SNAPSHOT_BEGIN, PONG: nothing to do
    }
  }

  /** One latency sample per distinct stamp (a merged delta carries several generations). */
  private onDelta(body: Buffer): void {
    this.sink.onDeltaFrame();
    const now = wallNow();
    let last = Number.NaN;
    const sample = (sentAt: number) => {
      if (sentAt !== last) this.sink.onSample(now - sentAt, sentAt, this.id);
      last = sentAt;
    };
    if (this.opts.stamps === 'label') forEachStamp(body, (_, sentAt) => sample(sentAt));
    else
      for (let at = body.indexOf(MARKER); at >= 0; at = body.indexOf(MARKER, at + MARKER.length))
        sample(readNumber(body, at + MARKER.length));
    const head = peekDeltaHead(body);
    if (!head.more) {
      this.setGeneration(head.to);
      this.noteHash(head.to, head.hash);
    }
  }

  private noteHash(g: number, hash: string | undefined): void {
    this.hash = hash;
    this.hashAt = hash === undefined ? -1 : g;
  }

  private setGeneration(g: number): void {
    if (g <= this.generation) return;
    const from = this.generation;
    this.generation = g;
    this.sink.onGeneration(this, from, g);
  }

  private protocolError(why: string): void {
    this.fail(`protocol error: ${why}`);
    this.socket?.destroy();
  }
}

/** A MessagePack number at `at` (the stamp is a float64 in practice; the rest for safety). */
export function readNumber(b: Buffer, at: number): number {
  const t = b[at]!;
  if (t === 0xcb) return b.readDoubleBE(at + 1);
  if (t === 0xca) return b.readFloatBE(at + 1);
  if (t === 0xcf) return Number(b.readBigUInt64BE(at + 1));
  if (t === 0xce) return b.readUInt32BE(at + 1);
  if (t < 0x80) return t;
  throw new Error(`send-time stamp has MessagePack type 0x${t.toString(16)}`);
}

/**
 * `to` and `more` of a DELTA body without decoding its KVs: the server writes them first
 * (frames.ts: bodyWithKVs({to, more, hash}, ...)). Any other layout falls back to a full decode.
 */
export function peekDeltaHead(b: Buffer): { to: number; more: boolean; hash?: string } {
  // fixmap, fixstr "to", then an unsigned int, then fixstr "more" and a bool.
  if ((b[0]! & 0xf0) === 0x80 && b[1] === 0xa2 && b[2] === 0x74 && b[3] === 0x6f) {
    let at = 4;
    const t = b[at]!;
    let to: number;
    if (t < 0x80) {
      to = t;
      at += 1;
    } else if (t === 0xcc) {
      to = b[at + 1]!;
      at += 2;
    } else if (t === 0xcd) {
      to = b.readUInt16BE(at + 1);
      at += 3;
    } else if (t === 0xce) {
      to = b.readUInt32BE(at + 1);
      at += 5;
    } else {
      to = -1;
    }
    if (to >= 0 && b[at] === 0xa4 && b.toString('latin1', at + 1, at + 5) === 'more') {
      const v = b[at + 5];
      if (v === 0xc2 || v === 0xc3) {
        // Then "hash" as str8 of 64 hex characters when the frame carries one (§6.5).
        at += 6;
        const hash =
          b[at] === 0xa4 &&
          b.toString('latin1', at + 1, at + 5) === 'hash' &&
          b[at + 5] === 0xd9 &&
          b[at + 6] === 64
            ? b.toString('latin1', at + 7, at + 71)
            : undefined;
        return { to, more: v === 0xc3, ...(hash ? { hash } : {}) };
      }
    }
  }
  const msg = parseBody(MsgType.Delta, packr.unpack(b));
  if (msg.type !== MsgType.Delta) throw new Error('not a DELTA');
  return { to: msg.body.to, more: msg.body.more, ...(msg.body.hash ? { hash: msg.body.hash } : {}) };
}
