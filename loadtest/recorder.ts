// Records what Tabby sends one agent — the handshake and snapshot frames, then every DELTA
// frame with its arrival time — so that the ceiling can replay the very same bytes. Also
// gives the snapshot's size on the wire. One connection, in the coordinator process.

import { connect, type Socket } from 'node:net';
import { deflateSync, inflateSync } from 'node:zlib';
import { encodeMessage, FLAG_DEFLATE, HEADER_BYTES, packr } from '../src/protocol/codec.js';
import { MsgType, PROTOCOL_VERSIONS } from '../src/protocol/messages.js';
import { wallNow } from './lean-client.js';
import { readStamps, restamp } from './stamp.js';
import { upstreamLatencies } from './upstream.js';

export interface Recording {
  /** SERVER_HELLO through SNAPSHOT_END (and anything before the first delta), as sent. */
  preamble: Buffer;
  /** DELTA frames (header included) and their arrival, ms after the first one. */
  deltas: { atMs: number; frame: Buffer }[];
}

/** Splits a byte stream into whole frames (header included), without decoding them. */
export class FrameSplitter {
  private buf: Buffer = Buffer.alloc(0);

  push(data: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    const out: Buffer[] = [];
    while (this.buf.length >= 4) {
      const total = 4 + this.buf.readUInt32BE(0);
      if (this.buf.length < total) break;
      out.push(Buffer.from(this.buf.subarray(0, total)));
      this.buf = this.buf.subarray(total);
    }
    return out;
  }
}

export class Recorder {
  private socket: Socket | undefined;
  private readonly pre: Buffer[] = [];
  private deltas: { at: number; frame: Buffer }[] = [];
  private recording = false;
  private snapshotDone!: () => void;
  /** Resolves at SNAPSHOT_END. */
  readonly synced = new Promise<void>((r) => {
    this.snapshotDone = r;
  });
  private inPreamble = true;

  start(port: number): void {
    const s = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket = s;
    const split = new FrameSplitter();
    s.on('connect', () =>
      s.write(
        encodeMessage({
          type: MsgType.Hello,
          body: {
            versions: [...PROTOCOL_VERSIONS],
            syncer: 'felix',
            hostname: 'loadtest-recorder',
            agent: 'tabby-loadtest/recorder',
            compressions: ['deflate'],
          },
        }),
      ),
    );
    s.on('data', (d: Buffer) => {
      for (const f of split.push(d)) this.onFrame(f);
    });
    s.on('error', () => {});
  }

  private onFrame(f: Buffer): void {
    const type = f[4]!;
    if (type === MsgType.Ping) {
      const { ts } = packr.unpack(f.subarray(HEADER_BYTES)) as { ts: number };
      this.socket?.write(encodeMessage({ type: MsgType.Pong, body: { ts } }));
      return;
    }
    if (this.inPreamble && type !== MsgType.Delta) {
      this.pre.push(f);
      if (type === MsgType.SnapshotEnd) this.snapshotDone();
      return;
    }
    this.inPreamble = false;
    if (type === MsgType.Delta && this.recording) this.deltas.push({ at: wallNow(), frame: f });
  }

  /** Stamp → upstream latency (arrival here − stamp) of the deltas kept so far, stamps ≥ `sinceMs`. */
  upstream(sinceMs: number): Map<number, number> {
    return upstreamLatencies(
      this.deltas.map((d) => ({ atMs: d.at, stamps: readStamps(deltaBody(d.frame)) })),
      sinceMs,
    );
  }

  /** Deltas from now on are kept. */
  record(): void {
    this.deltas = [];
    this.recording = true;
  }

  stop(): Recording {
    this.recording = false;
    this.socket?.destroy();
    const t0 = this.deltas[0]?.at ?? 0;
    return {
      preamble: Buffer.concat(this.pre),
      deltas: this.deltas.map((d) => ({ atMs: d.at - t0, frame: d.frame })),
    };
  }
}

/** A frame's body, inflated if it was compressed; a copy either way (safe to restamp). */
export function deltaBody(frame: Buffer): Buffer {
  const packed = frame.subarray(HEADER_BYTES);
  return frame[5]! & FLAG_DEFLATE ? inflateSync(packed) : Buffer.from(packed);
}

/** The recorded frame with every stamp set to `ms`, framed again (compressed again if it was). */
export function restamped(frame: Buffer, ms: number): Buffer {
  const flags = frame[5]!;
  const body = deltaBody(frame);
  restamp(body, ms);
  const out = flags & FLAG_DEFLATE ? deflateSync(body) : body;
  const f = Buffer.allocUnsafe(HEADER_BYTES + out.length);
  f.writeUInt32BE(out.length + 2, 0);
  f[4] = frame[4]!;
  f[5] = flags;
  out.copy(f, HEADER_BYTES);
  return f;
}
