// A hand-driven protocol peer for fv tests: send arbitrary bytes, collect decoded frames.

import { connect, type Socket } from 'node:net';
import { deflateSync } from 'node:zlib';
import { parseHostPort } from '../../src/model/address.js';
import { encodeMessage, FLAG_DEFLATE, frame, packr } from '../../src/protocol/codec.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { type Goodbye, type Hello, type Message, MsgType } from '../../src/protocol/messages.js';

export class RawClient {
  readonly messages: Message[] = [];
  closed = false;
  bytesIn = 0;
  // A test peer takes whatever the server sends; strictness is the client library's job.
  private readonly decoder = new FrameDecoder({
    maxFrameBytes: 64 << 20,
    maxMessageBytes: 256 << 20,
    deflate: true,
    zstd: true,
  });

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.bytesIn += d.length;
      this.messages.push(...this.decoder.push(d));
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  static async open(address: string): Promise<RawClient> {
    const { host, port } = parseHostPort(address);
    const s = connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new RawClient(s);
  }

  hello(overrides: Partial<Hello> = {}): void {
    const body: Hello = {
      versions: [1],
      syncer: 'felix',
      hostname: 'raw',
      agent: 'raw-test',
      compressions: ['deflate'],
      ...overrides,
    };
    this.socket.write(encodeMessage({ type: MsgType.Hello, body }));
  }

  goodbye(): Goodbye | undefined {
    const m = this.messages.find((msg) => msg.type === MsgType.Goodbye);
    return m?.type === MsgType.Goodbye ? m.body : undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A PING with the DEFLATE flag set, whatever was negotiated. */
export const compressedPing = (ts: number): Buffer =>
  frame(MsgType.Ping, deflateSync(packr.pack({ ts })), FLAG_DEFLATE);

/** A REPORT whose data is `depth` maps, each the value of key "a" in the one around it. */
export function deepReport(depth: number): Buffer {
  const head = Buffer.from('82a46b696e64a16ba464617461', 'hex'); // {kind: "k", data: …
  return frame(
    MsgType.Report,
    Buffer.concat([head, Buffer.from('81a161'.repeat(depth), 'hex'), Buffer.from([0xc0])]),
  );
}
