// Incremental frame decoder: bytes in (any split), messages out. Size limits are checked
// from the header, before the body is buffered, and again on inflation, so a peer can
// never make us hold more than maxFrameBytes (+ one read) or inflate more than
// maxMessageBytes. Every body passes the MessagePack profile check (profile.ts) before it
// is decoded, so what reaches parseBody is plain JSON data of bounded depth.

import { inflateSync, type ZlibOptions } from 'node:zlib';
import { FLAG_DEFLATE, FLAG_ZSTD, HEADER_BYTES, KNOWN_FLAGS, packr } from './codec.js';
import { CloseCode, ProtocolError } from './errors.js';
import { type Message, msgName, parseBody } from './messages.js';
import { profileViolation } from './profile.js';
import { zstdCodec } from './zstd.js';

export interface DecoderLimits {
  /** Largest accepted value of the length field (type + flags + body), bytes. */
  maxFrameBytes: number;
  /** Largest accepted MessagePack body after inflation, bytes. */
  maxMessageBytes: number;
  /** Accept frames with the DEFLATE flag (default false); see FrameDecoder.deflate. */
  deflate?: boolean;
  /** Accept frames with the ZSTD flag (default false); see FrameDecoder.zstd. */
  zstd?: boolean;
}

/** zlib inflate within a limit, with the compressed bytes it used. */
function inflate(body: Buffer, maxOutputLength: number): { buffer: Buffer; consumed: number } {
  // `info` also returns the engine, whose bytesWritten is the compressed bytes it read.
  const out = inflateSync(body, { maxOutputLength, info: true } as ZlibOptions) as unknown as {
    buffer: Buffer;
    engine: { bytesWritten: number };
  };
  return { buffer: out.buffer, consumed: out.engine.bytesWritten };
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1; // length field of the frame being read, -1 while reading a header
  /** Bytes of the frames decoded so far (compressed size, as on the wire). */
  bytesDecoded = 0;
  /**
   * Whether a DEFLATE frame is acceptable: only once `deflate` was negotiated (§8.3). Owners
   * switch it from their message handler, so it applies from the next frame on.
   */
  deflate: boolean;
  /** Likewise for a ZSTD frame: only once `zstd` was negotiated (§3.2). */
  zstd: boolean;

  constructor(private readonly limits: DecoderLimits) {
    this.deflate = limits.deflate ?? false;
    this.zstd = limits.zstd ?? false;
  }

  /** Feeds bytes; returns the complete messages. Throws ProtocolError on bad input. */
  push(data: Buffer): Message[] {
    const out: Message[] = [];
    this.feed(data, (m) => out.push(m));
    return out;
  }

  /**
   * Feeds bytes and hands each complete message to `onMessage` before the next frame is
   * decoded, so what a message changes (e.g. `deflate`) holds for the frames after it even
   * within one read. Throws ProtocolError on bad input, or what onMessage throws; the bytes
   * after that frame stay buffered.
   */
  feed(data: Buffer, onMessage: (msg: Message) => void): void {
    this.chunks.push(data);
    this.buffered += data.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const len = this.peekUInt32();
        if (len < 2) throw new ProtocolError(CloseCode.MalformedFrame, `frame length ${len} is below 2`);
        if (len > this.limits.maxFrameBytes)
          throw new ProtocolError(
            CloseCode.FrameTooLarge,
            `frame of ${len} bytes exceeds the limit of ${this.limits.maxFrameBytes}`,
          );
        this.need = len;
      }
      if (this.buffered < 4 + this.need) break;
      const raw = this.take(4 + this.need);
      this.need = -1;
      this.bytesDecoded += raw.length;
      onMessage(this.decodeFrame(raw));
    }
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  private decodeFrame(raw: Buffer): Message {
    const type = raw[4]!;
    const flags = raw[5]!;
    if ((flags & ~KNOWN_FLAGS) !== 0)
      throw new ProtocolError(
        CloseCode.MalformedFrame,
        `${msgName(type)}: unknown flags 0x${flags.toString(16)}`,
      );
    let body = raw.subarray(HEADER_BYTES);
    if (flags & (FLAG_DEFLATE | FLAG_ZSTD)) body = this.decompress(type, flags, body);
    else if (body.length > this.limits.maxMessageBytes)
      throw new ProtocolError(CloseCode.FrameTooLarge, `${msgName(type)}: body exceeds the message limit`);
    const violation = profileViolation(body);
    if (violation !== undefined)
      throw new ProtocolError(CloseCode.MalformedFrame, `${msgName(type)}: ${violation}`);
    let decoded: unknown;
    try {
      decoded = packr.unpack(body);
    } catch (err) {
      // The profile check passed, so this is msgpackr disagreeing with it: still the peer's bytes.
      throw new ProtocolError(
        CloseCode.MalformedFrame,
        `${msgName(type)}: body is not one MessagePack value`,
        {
          cause: err,
        },
      );
    }
    return parseBody(type, decoded);
  }

  /**
   * A DEFLATE (zlib, §3.1) or ZSTD (§3.2) body, inflated within the message limit: only if
   * that compression was negotiated, and nothing may follow the compressed data.
   */
  private decompress(type: number, flags: number, body: Buffer): Buffer {
    const zstd = (flags & FLAG_ZSTD) !== 0;
    const name = zstd ? 'zstd' : 'deflate';
    if (zstd && flags & FLAG_DEFLATE)
      throw new ProtocolError(CloseCode.MalformedFrame, `${msgName(type)}: both DEFLATE and ZSTD flags set`);
    const codec = zstd ? zstdCodec() : undefined;
    if (zstd ? !this.zstd || codec === undefined : !this.deflate)
      throw new ProtocolError(
        CloseCode.MalformedFrame,
        `${msgName(type)}: ${name.toUpperCase()} flag set but ${name} was not negotiated`,
      );
    const max = this.limits.maxMessageBytes;
    let out: { buffer: Buffer; consumed: number };
    try {
      out = codec ? codec.decompress(body, max) : inflate(body, max);
    } catch (err) {
      const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new ProtocolError(
        tooBig ? CloseCode.FrameTooLarge : CloseCode.MalformedFrame,
        `${msgName(type)}: ${tooBig ? `inflates beyond ${max} bytes` : `bad ${zstd ? 'zstd' : 'zlib'} data`}`,
        { cause: err },
      );
    }
    if (out.consumed !== body.length)
      throw new ProtocolError(
        CloseCode.MalformedFrame,
        `${msgName(type)}: bytes after the ${zstd ? 'zstd frame' : 'zlib stream'}`,
      );
    return out.buffer;
  }

  private peekUInt32(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    return Buffer.concat(this.chunks, 4).readUInt32BE(0);
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks, this.buffered);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}
