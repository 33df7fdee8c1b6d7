// The client against a scripted server: each connection gets exactly the frames a test
// chooses, so the client's checks (hash, ordering, runs) can be driven deliberately.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { hashState } from '../../src/model/state-hash.js';
import type { KV } from '../../src/model/types.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { type Hello, type Message, MsgType } from '../../src/protocol/messages.js';
import { waitFor } from '../harness/stack.js';

interface Session {
  hello: Hello;
  received: Message[];
  socket: Socket;
}

let server: Server | undefined;
const clients: SyncClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** Serves the i-th connection with script[i]. */
async function scripted(
  script: Array<(s: Session) => void>,
): Promise<{ address: string; sessions: Session[] }> {
  const sessions: Session[] = [];
  server = createServer((socket) => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 20 });
    let session: Session | undefined;
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      for (const m of decoder.push(d)) {
        if (!session && m.type === MsgType.Hello) {
          session = { hello: m.body, received: [], socket };
          sessions.push(session);
          script[sessions.length - 1]?.(session);
        } else session?.received.push(m);
      }
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return { address: `127.0.0.1:${addr.port}`, sessions };
}

const send = (s: Session, ...msgs: Message[]) => {
  for (const m of msgs) s.socket.write(encodeMessage(m));
};
const serverHello = (epoch: string): Message => ({
  type: MsgType.ServerHello,
  body: {
    version: 1,
    syncer: 'felix',
    compression: 'none',
    epoch,
    serverId: 'scripted',
    resumed: false,
    pingIntervalMs: 10_000,
    pongTimeoutMs: 60_000,
  },
});
const snapshot = (
  epoch: string,
  generation: number,
  kvs: KV[],
  hash = hashState(kvs.map((k) => [k.key, k.value])),
) => [
  { type: MsgType.SnapshotBegin, body: { epoch, generation, keys: kvs.length, chunks: 1 } } as Message,
  { type: MsgType.SnapshotChunk, body: { kvs } } as Message,
  { type: MsgType.SnapshotEnd, body: { generation, hash } } as Message,
  { type: MsgType.Status, body: { status: 'in-sync', generation } } as Message,
];

function newClient(address: string) {
  const c = new SyncClient({
    addresses: [address],
    syncer: 'felix',
    compressions: [],
    backoff: { initialMs: 20, maxMs: 100, multiplier: 2, jitter: 0 },
  });
  clients.push(c);
  return c;
}

describe('client checks', () => {
  it('a wrong state hash: GOODBYE hash-mismatch, reconnect without resume, consumer corrected by the diff', async () => {
    const good: KV[] = [
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ];
    const { address, sessions } = await scripted([
      (s) =>
        send(
          s,
          serverHello('e1'),
          ...snapshot(
            'e1',
            5,
            [
              { key: 'a', value: 1 },
              { key: 'x', value: 9 },
            ],
            'f'.repeat(64),
          ),
        ),
      (s) => send(s, serverHello('e1'), ...snapshot('e1', 6, good)),
    ]);
    const c = newClient(address);
    const view = new Map<string, unknown>();
    c.on('updates', (kvs) => {
      for (const kv of kvs) {
        if (kv.value === null) view.delete(kv.key);
        else view.set(kv.key, kv.value);
      }
    });
    c.start();
    await waitFor(() => sessions.length === 2 && c.generation === 6, 5_000, 'second session');
    expect(sessions[0]!.received.find((m) => m.type === MsgType.Goodbye)?.body).toMatchObject({
      code: 'hash-mismatch',
    });
    expect(sessions[1]!.hello.resume).toBeUndefined(); // a position with a bad hash is not trusted
    expect(view).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    ); // 'x' was shown, then deleted by the diff
    expect(c.state.hashHex()).toBe(hashState(good.map((k) => [k.key, k.value])));
  });

  it('a DELTA before any snapshot is a protocol error', async () => {
    const { address, sessions } = await scripted([
      (s) => send(s, serverHello('e1'), { type: MsgType.Delta, body: { to: 1, kvs: [], more: false } }),
    ]);
    const c = newClient(address);
    c.start();
    await waitFor(
      () => sessions[0]?.received.some((m) => m.type === MsgType.Goodbye) ?? false,
      5_000,
      'goodbye',
    );
    expect(sessions[0]!.received.find((m) => m.type === MsgType.Goodbye)?.body).toMatchObject({
      code: 'unexpected-message',
    });
  });

  it('a DELTA run (more=true) reaches the consumer once, at its last frame', async () => {
    const base: KV[] = [{ key: 'a', value: 1 }];
    const after = [
      ['a', 2],
      ['b', 3],
      ['c', 4],
    ] as const;
    const { address } = await scripted([
      (s) =>
        send(
          s,
          serverHello('e1'),
          ...snapshot('e1', 1, base),
          { type: MsgType.Delta, body: { to: 2, kvs: [{ key: 'a', value: 2 }], more: true } },
          { type: MsgType.Delta, body: { to: 2, kvs: [{ key: 'b', value: 3 }], more: true } },
          {
            type: MsgType.Delta,
            body: { to: 2, kvs: [{ key: 'c', value: 4 }], more: false, hash: hashState(after) },
          },
        ),
    ]);
    const c = newClient(address);
    const batches: Array<[number, number]> = [];
    c.on('updates', (kvs, gen) => batches.push([kvs.length, gen]));
    c.start();
    await waitFor(() => c.generation === 2, 5_000, 'generation 2');
    expect(batches).toEqual([
      [1, 1],
      [3, 2],
    ]);
  });
});
