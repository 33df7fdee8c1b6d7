// A server that answers every HELLO with the same scripted bytes and records what clients
// send: for driving the client library with frames a real server would never send.

import { createServer, type Server, type Socket } from 'node:net';
import { encodeMessage } from '../../src/protocol/codec.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { type Message, MsgType } from '../../src/protocol/messages.js';

export interface ScriptedServer {
  address: string;
  /** Every frame received, from every connection, in order. */
  received: Message[];
  /** HELLOs received: one per connection attempt that got that far. */
  hellos(): number;
  /** Called after the scripted answer to each HELLO, with that connection's socket. */
  onHello?: (socket: Socket) => void;
  close(): Promise<void>;
}

/** `answer`: messages (encoded here) or raw bytes, written in order after each HELLO. */
export async function scriptedServer(answer: ReadonlyArray<Message | Buffer>): Promise<ScriptedServer> {
  const received: Message[] = [];
  const sockets = new Set<Socket>();
  let self: ScriptedServer | undefined;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 20 });
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      for (const m of decoder.push(d)) {
        received.push(m);
        if (m.type !== MsgType.Hello) continue;
        for (const a of answer) socket.write(Buffer.isBuffer(a) ? a : encodeMessage(a));
        self?.onHello?.(socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self = {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    received,
    hellos: () => received.filter((m) => m.type === MsgType.Hello).length,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  return self;
}
