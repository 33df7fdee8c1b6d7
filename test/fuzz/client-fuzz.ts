// Property-based fuzzing of the client library against a hostile server: each generated
// connection answers HELLO with a SERVER_HELLO (mostly valid), maybe a snapshot, then
// anything, then a frame longer than the client accepts, and a FIN. The client must end each
// connection the way spec-oracle.ts allows, say so in a typed `disconnected` reason, never
// blame itself (internal-error), never crash the process, and schedule its reconnect.

import { createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { SyncClient } from '../../src/client/sync-client.js';
import { hashState } from '../../src/model/state-hash.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { isCloseCode } from '../../src/protocol/errors.js';
import { type Message, MsgType } from '../../src/protocol/messages.js';
import { waitFor } from '../harness/stack.js';
import { clientVerdicts } from './spec-oracle.js';
import { serverScript } from './wire-arbitraries.js';

const CLIENT_MAX_FRAME = 16 << 20;
/** The frame that ends every script: longer than the client accepts (§3, frame-too-large). */
const TERMINATOR = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x06, 0x00]);

export interface ClientFuzzResult {
  connections: number;
  ends: Record<string, number>;
  ms: number;
}

interface Served {
  socket: Socket;
  fromClient: Message[];
  closed: boolean;
}

/** A server that hands each connection, once its HELLO arrived, to `onHello`. */
async function hostileServer(onHello: (s: Served) => void): Promise<{ server: Server; address: string }> {
  const server = createServer((socket) => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 20, deflate: true });
    const s: Served = { socket, fromClient: [], closed: false };
    socket.on('error', () => {});
    socket.on('close', () => {
      s.closed = true;
    });
    socket.on('data', (d: Buffer) => {
      for (const m of decoder.push(d)) {
        s.fromClient.push(m);
        if (m.type === MsgType.Hello && s.fromClient.length === 1) onHello(s);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

export async function fuzzClient(opts: { runs: number; seed: number }): Promise<ClientFuzzResult> {
  const started = Date.now();
  const result: ClientFuzzResult = { connections: 0, ends: {}, ms: 0 };
  let next: ((s: Served) => void) | undefined;
  const { server, address } = await hostileServer((s) => next?.(s));
  const hashOf = (kvs: Array<[string, number]>) => hashState(kvs);
  try {
    const property = fc.asyncProperty(serverScript, async (makeScript) => {
      const script = makeScript(hashOf);
      const allowed = clientVerdicts(Buffer.concat([script.stream, TERMINATOR]), {
        maxFrameBytes: CLIENT_MAX_FRAME,
        compressions: ['deflate'],
      });
      const served: Served[] = [];
      next = (s) => {
        served.push(s);
        if (served.length > 1) return; // the reconnect: proof enough
        void (async () => {
          let from = 0;
          for (const at of [...script.splits, script.stream.length]) {
            if (at > from) s.socket.write(script.stream.subarray(from, at));
            from = Math.max(from, at);
            await new Promise((r) => setImmediate(r));
          }
          s.socket.end(TERMINATOR);
        })();
      };
      const client = new SyncClient({
        addresses: [address],
        syncer: 'felix',
        hostname: 'fuzzed',
        maxFrameBytes: CLIENT_MAX_FRAME,
        backoff: { initialMs: 1, maxMs: 5, multiplier: 2, jitter: 0 },
      });
      const ended: Array<{ reason: string; code?: string; retryInMs?: number }> = [];
      client.on('disconnected', (e) => ended.push(e));
      try {
        client.start();
        // A connection that never got as far as SERVER_HELLO ends without an event if the
        // server merely closed it; the reconnect says it ended then.
        await waitFor(
          () => ended.length > 0 || served.length > 1,
          20_000,
          'the client to end the connection',
        );
        const e = ended[0] ?? { reason: 'connection closed', retryInMs: 0 };
        const got =
          e.code !== undefined
            ? 'quiet'
            : e.reason === 'connection closed'
              ? 'closed'
              : e.reason.split(':')[0]!;
        if (!allowed.includes(got))
          throw new Error(
            `client ended with ${JSON.stringify(e)}, the spec allows ${allowed.join(' | ')}; stream ${script.stream.subarray(0, 300).toString('hex')}`,
          );
        if (got !== 'quiet' && got !== 'closed' && !isCloseCode(got))
          throw new Error(`untyped reason: ${e.reason}`);
        // It reconnects: soon, unless the server's GOODBYE asked it to wait.
        if (e.retryInMs === undefined || !Number.isFinite(e.retryInMs))
          throw new Error(`no reconnect scheduled: ${JSON.stringify(e)}`);
        if (e.retryInMs < 1_000) await waitFor(() => served.length > 1, 20_000, 'the client to reconnect');
        result.connections++;
        result.ends[got] = (result.ends[got] ?? 0) + 1;
      } finally {
        await client.stop();
        for (const s of served) s.socket.destroy();
      }
    });
    await fc.assert(property, { numRuns: opts.runs, seed: opts.seed, endOnFailure: true });
  } finally {
    await new Promise((r) => server.close(r));
  }
  result.ms = Date.now() - started;
  return result;
}
