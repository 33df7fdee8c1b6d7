// Version skew, each promise of PROTOCOL.md §20.1 over a real socket: a newer client against
// this server and this client against a newer (or older) server negotiate down to a version
// both speak, or end with unsupported-version and a message naming both version lists —
// never a stream one side cannot read. What a later version may add without a new version
// number (fields, close codes, compressions, report kinds) is ignored or refused as promised.

import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import { hashState } from '../../src/model/state-hash.js';
import { encodeBody, encodeMessage, frame, packr } from '../../src/protocol/codec.js';
import { CloseCode, ProtocolError } from '../../src/protocol/errors.js';
import { MsgType, PROTOCOL_VERSIONS } from '../../src/protocol/messages.js';
import { negotiate } from '../../src/server/negotiate.js';
import { DEFAULT_SERVER_OPTIONS } from '../../src/server/options.js';
import type { SyncStream } from '../../src/server/sync-stream.js';
import { RawClient } from '../harness/raw-client.js';
import { type ScriptedServer, scriptedServer } from '../harness/scripted-server.js';
import { perTestStack, startStack, waitFor } from '../harness/stack.js';

const t = perTestStack();
let scripted: ScriptedServer | undefined;
const clients: SyncClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await scripted?.close();
  scripted = undefined;
});

/** Fields no v1 peer knows: what a later release might add as optional fields. */
const FUTURE = { features: ['delta-v2', 'zstd'], trace: { id: 'abc', sampled: true }, n: 7 };

async function serverWithState() {
  t.stack = await startStack({ server: { pingIntervalMs: 60_000, pongTimeoutMs: 120_000 } });
  t.stack.router.onUpdates([{ key: Keys.tier('security'), value: { order: 100 } }]);
  t.stack.router.onStatus('in-sync');
  const raw = await RawClient.open(t.stack.address);
  t.cleanup.push(() => raw.destroy());
  return raw;
}

const types = (raw: RawClient) => raw.messages.map((m) => m.type);

function newClient(address: string): { client: SyncClient; ends: Array<{ reason: string; code?: string }> } {
  const client = new SyncClient({
    addresses: [address],
    syncer: 'felix',
    hostname: 'n1',
    backoff: { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0 },
  });
  clients.push(client);
  const ends: Array<{ reason: string; code?: string }> = [];
  client.on('disconnected', (e) => ends.push(e));
  client.start();
  return { client, ends };
}

/** A v1 stream of one key, every frame carrying fields v1 does not define. */
function futureStream(version = 1): Buffer[] {
  const kvs: Array<[string, unknown]> = [[Keys.tier('t'), { order: 1 }]];
  const hash = hashState(kvs as never);
  const f = (type: number, body: object) => frame(type as MsgType, packr.pack({ ...body, ...FUTURE }));
  return [
    f(MsgType.ServerHello, {
      version,
      syncer: 'felix',
      compression: 'none',
      epoch: 'e2',
      serverId: 'future',
      resumed: false,
      pingIntervalMs: 60_000,
      pongTimeoutMs: 120_000,
    }),
    f(MsgType.SnapshotBegin, { epoch: 'e2', generation: 5, keys: 1, chunks: 1 }),
    f(MsgType.SnapshotChunk, { kvs }),
    f(MsgType.SnapshotEnd, { generation: 5, hash }),
    f(MsgType.Status, { status: 'in-sync', generation: 5 }),
  ];
}

describe('a newer client against this server', () => {
  it('versions [2, 1] and fields v1 does not know: served version 1, a snapshot, then STATUS', async () => {
    const raw = await serverWithState();
    raw.hello({ versions: [2, 1], ...FUTURE } as never);
    await waitFor(() => types(raw).includes(MsgType.Status), 5_000, 'STATUS');
    const sh = raw.messages[0]!;
    expect(sh.type === MsgType.ServerHello && sh.body.version).toBe(1);
    expect(types(raw)).toEqual(
      expect.arrayContaining([MsgType.SnapshotBegin, MsgType.SnapshotChunk, MsgType.SnapshotEnd]),
    );
    // Later frames with unknown fields are fine too (ACK, PING, a REPORT of an unknown kind).
    for (const [type, body] of [
      [MsgType.Ack, { generation: 0, ...FUTURE }],
      [MsgType.Report, { kind: 'future-kind', data: 1, ...FUTURE }],
      [MsgType.Ping, { ts: 99, ...FUTURE }],
    ] as const)
      raw.socket.write(encodeBody(type, packr.pack(body)));
    await waitFor(() => types(raw).includes(MsgType.Pong), 5_000, 'PONG');
    expect(raw.closed).toBe(false);
    expect(raw.goodbye()).toBeUndefined();
  });

  it('only versions this server does not speak: GOODBYE unsupported-version naming both lists, no SERVER_HELLO', async () => {
    const raw = await serverWithState();
    raw.hello({ versions: [2, 3] });
    await waitFor(() => raw.closed, 5_000, 'close');
    expect(types(raw)).toEqual([MsgType.Goodbye]);
    expect(raw.goodbye()).toMatchObject({
      code: 'unsupported-version',
      message: 'client speaks versions [2,3], server speaks [1]',
    });
  });

  it('compression names v1 does not define are ignored', async () => {
    for (const [offered, chosen] of [
      [['zstd', 'deflate'], 'deflate'],
      [['zstd'], 'none'],
    ] as const) {
      const raw = await serverWithState();
      raw.hello({ compressions: [...offered] });
      await waitFor(() => raw.messages.length > 0, 5_000, 'SERVER_HELLO');
      const sh = raw.messages[0]!;
      expect(sh.type === MsgType.ServerHello && sh.body.compression).toBe(chosen);
      raw.destroy();
    }
  });

  it('a GOODBYE code v1 does not define: closed quietly, counted as another code', async () => {
    const raw = await serverWithState();
    raw.hello();
    await waitFor(() => types(raw).includes(MsgType.Status), 5_000, 'STATUS');
    raw.socket.write(
      encodeMessage({ type: MsgType.Goodbye, body: { code: 'upgrading-to-v2', message: '' } }),
    );
    await waitFor(() => raw.closed, 5_000, 'close');
    expect(raw.goodbye()).toBeUndefined();
    expect(t.stack!.server.stats.closes.get('felix:client:other')).toBe(1);
  });
});

describe('this client against a newer or older server', () => {
  it('a newer server speaking v1 with fields v1 does not know in every frame: the client syncs', async () => {
    scripted = await scriptedServer(futureStream());
    const { client } = newClient(scripted.address);
    await waitFor(() => client.status === 'in-sync', 5_000, 'in sync');
    expect(client.state.get(Keys.tier('t'))).toEqual({ order: 1 });
    expect(client.connected).toBe(true);
  });

  it('a server that answers a version the client did not offer: unsupported-version naming both, then a retry', async () => {
    scripted = await scriptedServer(futureStream(2));
    const { ends } = newClient(scripted.address);
    await waitFor(() => scripted!.hellos() >= 2, 5_000, 'a retry');
    expect(ends[0]?.reason).toBe(
      `unsupported-version: server chose version 2, this client speaks [${PROTOCOL_VERSIONS.join(',')}]`,
    );
    const bye = scripted.received.find((m) => m.type === MsgType.Goodbye);
    expect(bye?.type === MsgType.Goodbye && bye.body.code).toBe('unsupported-version');
  });

  it('a newer server that no longer speaks v1: its GOODBYE reason reaches the operator, retried with backoff', async () => {
    scripted = await scriptedServer([
      {
        type: MsgType.Goodbye,
        body: { code: 'unsupported-version', message: 'client speaks versions [1], server speaks [2,3]' },
      },
    ]);
    const { client, ends } = newClient(scripted.address);
    await waitFor(() => scripted!.hellos() >= 2, 5_000, 'a retry');
    expect(ends[0]).toMatchObject({
      code: 'unsupported-version',
      reason: expect.stringMatching(
        /^unsupported-version: client speaks versions \[1\], server speaks \[2,3\]/,
      ),
    });
    expect(client.connected).toBe(false);
  });

  it('a GOODBYE code v1 does not define: a disconnect with that code, then a reconnect', async () => {
    scripted = await scriptedServer([
      { type: MsgType.Goodbye, body: { code: 'moved-to-v3', message: 'bye' } },
    ]);
    const { ends } = newClient(scripted.address);
    await waitFor(() => scripted!.hellos() >= 2, 5_000, 'a reconnect');
    expect(ends[0]).toMatchObject({
      code: 'moved-to-v3',
      reason: expect.stringMatching(/^moved-to-v3: bye/),
    });
  });

  const refusals: Array<[string, Buffer, string]> = [
    [
      'a STATUS value v1 does not define (a new status needs a new version)',
      encodeBody(MsgType.Status, packr.pack({ status: 'degraded', generation: 5 })),
      'malformed-frame',
    ],
    [
      'a message type v1 does not define, sent without negotiation',
      frame(0x0e as MsgType, packr.pack({ ...FUTURE })),
      'unknown-message',
    ],
    ['a frame flag v1 does not define', frame(MsgType.Ping, packr.pack({ ts: 1 }), 0x02), 'malformed-frame'],
  ];
  for (const [name, bytes, code] of refusals)
    it(`${name}: ${code}, then a reconnect`, async () => {
      scripted = await scriptedServer([...futureStream(), bytes]);
      const { ends } = newClient(scripted.address);
      await waitFor(() => scripted!.hellos() >= 2, 5_000, 'a reconnect');
      expect(ends[0]?.reason.startsWith(`${code}: `)).toBe(true);
    });
});

describe('negotiation with a server that speaks two versions (the N-1 promise)', () => {
  const stream = { syncer: 'felix' } as SyncStream;
  const streams = new Map([['felix' as const, stream]]);
  const hello = (versions: number[]) => ({
    versions,
    syncer: 'felix' as const,
    hostname: 'n',
    agent: 'a',
    compressions: [],
  });
  const opts = DEFAULT_SERVER_OPTIONS;

  it('an older client gets the version it speaks; a current one the highest both speak', () => {
    expect(negotiate(hello([1]), streams, opts, [1, 2]).version).toBe(1);
    expect(negotiate(hello([2, 1]), streams, opts, [1, 2]).version).toBe(2);
    expect(negotiate(hello([1, 2, 3]), streams, opts, [1, 2]).version).toBe(2);
  });

  it('no common version: unsupported-version naming both lists', () => {
    expect(() => negotiate(hello([3]), streams, opts, [1, 2])).toThrow(
      new ProtocolError(CloseCode.UnsupportedVersion, 'client speaks versions [3], server speaks [1,2]'),
    );
  });
});
