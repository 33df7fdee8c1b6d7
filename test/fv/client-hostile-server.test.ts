// Well-formed frames from a server that a client must not take at face value: timing hints
// that would keep an agent away from its only replica for weeks, or make it ping a thousand
// times a second. (Malformed frames: fuzz-client.test.ts.)

import { afterEach, describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, MIN_PING_INTERVAL_MS, SyncClient } from '../../src/client/sync-client.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import { type ScriptedServer, scriptedServer } from '../harness/scripted-server.js';
import { waitFor } from '../harness/stack.js';

let server: ScriptedServer | undefined;
const clients: SyncClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await server?.close();
  server = undefined;
});

const serve = async (answer: Parameters<typeof scriptedServer>[0]) => {
  server = await scriptedServer(answer);
  return server;
};

const client = (address: string) => {
  const c = new SyncClient({
    addresses: [address],
    syncer: 'felix',
    hostname: 'n1',
    backoff: { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0 },
  });
  clients.push(c);
  return c;
};

describe('a client bounds what a server asks of it', () => {
  it(`a GOODBYE's retryAfterMs beyond ${MAX_RETRY_AFTER_MS} ms waits only that long`, async () => {
    // 2^40 ms is 35 years; 2^31 + 5 would overflow setTimeout into an immediate retry.
    for (const retryAfterMs of [2 ** 40, 2 ** 31 + 5]) {
      const { address } = await serve([
        { type: MsgType.Goodbye, body: { code: 'shutdown', message: 'go away', retryAfterMs } },
      ]);
      const c = client(address);
      const waits: Array<number | undefined> = [];
      c.on('disconnected', (e) => waits.push(e.retryInMs));
      c.start();
      await waitFor(() => waits.length > 0, 5_000, 'disconnected');
      expect(waits[0]).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
      expect(waits[0]).toBeGreaterThanOrEqual(MAX_RETRY_AFTER_MS / 2);
      await Promise.all(clients.splice(0).map((x) => x.stop()));
      await server!.close();
      server = undefined;
    }
  });

  it(`SERVER_HELLO pingIntervalMs 1: the client pings at most every ${MIN_PING_INTERVAL_MS} ms`, async () => {
    const { address, received } = await serve([
      {
        type: MsgType.ServerHello,
        body: {
          version: 1,
          syncer: 'felix',
          compression: 'none',
          epoch: 'e',
          serverId: 'fast',
          resumed: false,
          pingIntervalMs: 1,
          pongTimeoutMs: 60_000,
        },
      },
    ]);
    const c = client(address);
    c.start();
    await waitFor(() => c.connected, 5_000, 'connected');
    await new Promise((r) => setTimeout(r, 500));
    // At the server's word it would be ~500 PINGs by now.
    expect(received.filter((m) => m.type === MsgType.Ping).length).toBeLessThanOrEqual(1);
  });
});

describe('a client under a PING flood from a server that does not read', () => {
  it('answers no more PONGs than its socket takes: its write queue stays bounded', async () => {
    const PINGS = 1_000_000; // 15 MB of PINGs, 15 MB of PONGs if each were answered
    const ping = encodeMessage({ type: MsgType.Ping, body: { ts: 1 } });
    const flood = Buffer.concat(Array.from({ length: PINGS }, () => ping));
    const srv = await serve([
      {
        type: MsgType.ServerHello,
        body: {
          version: 1,
          syncer: 'felix',
          compression: 'none',
          epoch: 'e',
          serverId: 'flood',
          resumed: false,
          pingIntervalMs: 60_000,
          pongTimeoutMs: 120_000,
        },
      },
    ]);
    srv.onHello = (socket) => {
      socket.pause(); // never reads again
      socket.write(flood);
    };
    const c = client(srv.address);
    c.start();
    await waitFor(() => c.connected, 5_000, 'connected');
    const queued = () =>
      (c as unknown as { socket?: { writableLength: number } }).socket?.writableLength ?? 0;
    let most = 0;
    // Until the whole flood is read: the kernel's socket buffers hide the first megabytes.
    const deadline = Date.now() + 50_000;
    while (Date.now() < deadline && c.bytesReceived < flood.length) {
      most = Math.max(most, queued());
      await new Promise((r) => setTimeout(r, 5));
    }
    most = Math.max(most, queued());
    console.log(`PING flood: ${c.bytesReceived} bytes received, at most ${most} bytes queued to the server`);
    expect(c.bytesReceived).toBeGreaterThanOrEqual(flood.length);
    expect(most).toBeLessThan(1 << 20);
  }, 60_000);
});
