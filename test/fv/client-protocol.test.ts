// The client against a scripted server: each connection gets exactly the frames a test
// chooses, so the client's checks (hash, ordering, runs) can be driven deliberately.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { hashState } from '../../src/model/state-hash.js';
import type { KV } from '../../src/model/types.js';
import { encodeMessage, FLAG_DEFLATE } from '../../src/protocol/codec.js';
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

/** The code of the GOODBYE the client sent in session i, once it has. */
async function goodbyeIn(sessions: Session[], i: number): Promise<unknown> {
  const bye = () => sessions[i]?.received.find((m) => m.type === MsgType.Goodbye);
  await waitFor(() => bye() !== undefined, 5_000, `goodbye in session ${i}`);
  const m = bye()!;
  return m.type === MsgType.Goodbye ? m.body.code : undefined;
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
    newClient(address).start();
    expect(await goodbyeIn(sessions, 0)).toBe('unexpected-message');
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

describe('client ACKs (PROTOCOL.md §13)', () => {
  it('carry the state hash of the acknowledged generation, never one from inside a delta run', async () => {
    const base: KV[] = [{ key: 'a', value: 1 }];
    const after = [
      ['a', 2],
      ['b', 3],
    ] as const;
    let session: Session | undefined;
    const { address } = await scripted([
      (s) => {
        session = s;
        // One write: the client applies the run's first frame before its ACK timer can fire.
        s.socket.write(
          Buffer.concat(
            [
              serverHello('e1'),
              ...snapshot('e1', 1, base),
              { type: MsgType.Delta, body: { to: 2, kvs: [{ key: 'a', value: 2 }], more: true } } as Message,
            ].map((m) => encodeMessage(m)),
          ),
        );
      },
    ]);
    const c = new SyncClient({ addresses: [address], syncer: 'felix', compressions: [], ackIntervalMs: 1 });
    clients.push(c);
    c.start();
    const acks = () => session?.received.filter((m) => m.type === MsgType.Ack).map((m) => m.body) ?? [];
    await waitFor(() => acks().length >= 1, 5_000, 'first ACK');
    expect(acks()[0]).toEqual({ generation: 1, hash: hashState(base.map((k) => [k.key, k.value])) });
    send(session!, {
      type: MsgType.Delta,
      body: { to: 2, kvs: [{ key: 'b', value: 3 }], more: false, hash: hashState(after) },
    });
    await waitFor(() => acks().some((a) => a.generation === 2), 5_000, 'ACK of generation 2');
    expect(acks().find((a) => a.generation === 2)).toEqual({ generation: 2, hash: hashState(after) });
  });

  it('carry no hash from a client that does not keep one', async () => {
    let session: Session | undefined;
    const { address } = await scripted([
      (s) => {
        session = s;
        send(s, serverHello('e1'), ...snapshot('e1', 3, [{ key: 'a', value: 1 }]));
      },
    ]);
    const c = new SyncClient({
      addresses: [address],
      syncer: 'felix',
      compressions: [],
      ackIntervalMs: 1,
      verifyHash: false,
    });
    clients.push(c);
    c.start();
    await waitFor(() => session?.received.some((m) => m.type === MsgType.Ack) === true, 5_000, 'ACK');
    expect(session!.received.find((m) => m.type === MsgType.Ack)?.body).toEqual({ generation: 3 });
  });
});

// ---- stream invariants (PROTOCOL.md §16.1) and the receive table (§7.2) --------------------

const begin = (epoch: string, generation: number, keys: number, chunks: number): Message => ({
  type: MsgType.SnapshotBegin,
  body: { epoch, generation, keys, chunks },
});
const chunk = (...keys: string[]): Message => ({
  type: MsgType.SnapshotChunk,
  body: { kvs: keys.map((key) => ({ key, value: 1 })) },
});
const end = (generation: number, keys: string[]): Message => ({
  type: MsgType.SnapshotEnd,
  body: { generation, hash: hashState(keys.map((k) => [k, 1])) },
});
const delta = (to: number, more: boolean, hash?: string): Message => ({
  type: MsgType.Delta,
  body: { to, kvs: [], more, ...(hash === undefined ? {} : { hash }) },
});
const status = (generation: number): Message => ({
  type: MsgType.Status,
  body: { status: 'in-sync', generation },
});
const resumedHello = (epoch: string): Message => {
  const h = serverHello(epoch);
  return { ...h, body: { ...h.body, resumed: true } } as Message;
};
/** A fresh client at generation 5 of epoch e1 (one key, "a"). */
const base = [serverHello('e1'), ...snapshot('e1', 5, [{ key: 'a', value: 1 }])];
const H = hashState([['a', 1]]);

/** The close code the client's GOODBYE gives for a first session of `frames`. */
async function closeCodeFor(
  frames: Array<Message | Buffer>,
): Promise<{ code: unknown; resumedNext: boolean }> {
  const { address, sessions } = await scripted([
    (s) => {
      for (const f of frames) s.socket.write(Buffer.isBuffer(f) ? f : encodeMessage(f));
    },
    (s) => send(s, serverHello('e9'), ...snapshot('e9', 1, [])),
  ]);
  newClient(address).start();
  const code = await goodbyeIn(sessions, 0);
  await waitFor(() => sessions.length === 2, 5_000, 'the client reconnects');
  return { code, resumedNext: !!sessions[1]!.hello.resume };
}

describe('client: each broken stream invariant closes with inconsistent-stream, then reconnects without resume', () => {
  const cases: Array<[string, Message[]]> = [
    ['epoch change mid-stream (SNAPSHOT_BEGIN of another epoch)', [...base, begin('e2', 6, 0, 0)]],
    [
      'fewer keys than SNAPSHOT_BEGIN announced',
      [serverHello('e1'), begin('e1', 5, 3, 1), chunk('a', 'b'), end(5, ['a', 'b'])],
    ],
    ['more keys than SNAPSHOT_BEGIN announced', [serverHello('e1'), begin('e1', 5, 1, 1), chunk('a', 'b')]],
    ['a key twice in one snapshot', [serverHello('e1'), begin('e1', 5, 2, 2), chunk('a'), chunk('a')]],
    [
      'SNAPSHOT_END of another generation',
      [serverHello('e1'), begin('e1', 5, 1, 1), chunk('a'), end(6, ['a'])],
    ],
    ['DELTA to the current generation', [...base, delta(5, false, H)]],
    ['DELTA to an older generation', [...base, delta(3, false, H)]],
    ['a hash on a DELTA frame with more=true', [...base, delta(6, true, H)]],
    ['a DELTA of another `to` inside a run', [...base, delta(6, true), delta(7, false, H)]],
    ['STATUS at a generation the client is not at', [...base, status(9)]],
    ['SERVER_HELLO resumed although the client offered no position', [resumedHello('e1')]],
  ];
  for (const [name, frames] of cases) {
    it(name, async () => {
      expect(await closeCodeFor(frames)).toEqual({ code: 'inconsistent-stream', resumedNext: false });
    });
  }

  it('SERVER_HELLO resumed on an epoch other than the one the client offered', async () => {
    const { address, sessions } = await scripted([
      (s) => {
        send(s, ...base);
        setTimeout(() => s.socket.destroy(), 50); // the client reconnects and offers (e1, 5)
      },
      (s) => send(s, resumedHello('e2')),
      (s) => send(s, serverHello('e3'), ...snapshot('e3', 1, [])),
    ]);
    newClient(address).start();
    expect(await goodbyeIn(sessions, 1)).toBe('inconsistent-stream');
    await waitFor(() => sessions.length === 3, 5_000, 'third session');
    // The client offered its state hash, but a resume on another epoch must say where (resumeGeneration).
    expect(sessions[1]!.hello.resume).toEqual({ epoch: 'e1', generation: 5, hash: H });
    expect(sessions[2]!.hello.resume).toBeUndefined();
  });
});

describe('client: resume by state on another stream (§14.3)', () => {
  it('takes resumeGeneration as its new position and follows that stream', async () => {
    const h2 = hashState([
      ['a', 1],
      ['b', 2],
    ]);
    const { address, sessions } = await scripted([
      (s) => {
        send(s, ...base);
        setTimeout(() => s.socket.destroy(), 50);
      },
      (s) => {
        const h = serverHello('e2');
        send(s, { ...h, body: { ...h.body, resumed: true, resumeGeneration: 40 } } as Message);
        send(s, {
          type: MsgType.Delta,
          body: { to: 41, kvs: [{ key: 'b', value: 2 }], more: false, hash: h2 },
        });
        send(s, status(41));
      },
    ]);
    const c = newClient(address);
    c.start();
    await waitFor(() => c.generation === 41 && c.status === 'in-sync', 5_000, 'resumed on e2');
    expect(sessions[1]!.hello.resume).toEqual({ epoch: 'e1', generation: 5, hash: H });
    expect(c.state.get('b')).toBe(2);
    expect(c.state.hashHex()).toBe(h2);
    expect(sessions[1]!.received.find((m) => m.type === MsgType.Goodbye)).toBeUndefined();
  });
});

describe('client: frames out of place (§7.2) are unexpected-message, compression is held to §8.3', () => {
  const compressed = (m: Message) => {
    const f = encodeMessage(m, { deflate: true });
    expect(f[5]).toBe(FLAG_DEFLATE);
    return f;
  };
  const cases: Array<[string, Array<Message | Buffer>, string]> = [
    ['STATUS inside a snapshot', [serverHello('e1'), begin('e1', 5, 1, 1), status(5)], 'unexpected-message'],
    ['STATUS inside a DELTA run', [...base, delta(6, true), status(5)], 'unexpected-message'],
    [
      'SNAPSHOT_BEGIN inside a DELTA run',
      [...base, delta(6, true), begin('e1', 6, 0, 0)],
      'unexpected-message',
    ],
    [
      'SNAPSHOT_END before every chunk',
      [serverHello('e1'), begin('e1', 5, 2, 2), chunk('a'), end(5, ['a'])],
      'unexpected-message',
    ],
    ['a second SERVER_HELLO', [...base, serverHello('e1')], 'unexpected-message'],
    ['PING before SERVER_HELLO', [{ type: MsgType.Ping, body: { ts: 1 } }], 'unexpected-message'],
    [
      'a DEFLATE frame after compression "none"',
      [serverHello('e1'), compressed(begin('e1', 5, 0, 0))],
      'malformed-frame',
    ],
    ['a compressed SERVER_HELLO', [compressed(serverHello('e1'))], 'malformed-frame'],
  ];
  for (const [name, frames, code] of cases) {
    it(`${name} → ${code}`, async () => {
      expect((await closeCodeFor(frames)).code).toBe(code);
    });
  }

  it('a DELTA before the snapshot of a reconnect that was not resumed', async () => {
    const { address, sessions } = await scripted([
      (s) => {
        send(s, ...base);
        setTimeout(() => s.socket.destroy(), 50);
      },
      (s) => send(s, serverHello('e1'), delta(6, false, H)), // resumed=false: a snapshot must come first
    ]);
    newClient(address).start();
    expect(await goodbyeIn(sessions, 1)).toBe('unexpected-message');
  });
});

describe('client: its own failures are not blamed on the server', () => {
  it('a consumer listener that throws closes with internal-error, not malformed-frame', async () => {
    const { address, sessions } = await scripted([(s) => send(s, ...base)]);
    const c = newClient(address);
    c.on('updates', () => {
      throw new Error('consumer bug');
    });
    c.start();
    expect(await goodbyeIn(sessions, 0)).toBe('internal-error');
  });
});
