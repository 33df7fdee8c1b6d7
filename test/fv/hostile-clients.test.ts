// Clients that complete HELLO and then try to make the server hold memory: a PING flood, a
// client that never reads while it keeps sending, and output beyond the per-connection
// queue cap. Assertions are on the server's own accounting (the socket's queued bytes and
// close reasons), never on process memory or timing.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import type { Logger } from '../../src/model/logger.js';
import type { KV } from '../../src/model/types.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import type { Connection } from '../../src/server/connection.js';
import type { ServerOptions } from '../../src/server/options.js';
import { RawClient } from '../harness/raw-client.js';
import { perTestStack, startStack, waitFor } from '../harness/stack.js';

const t = perTestStack();
const { cleanup } = t;

const ping = encodeMessage({ type: MsgType.Ping, body: { ts: 1 } });

/** About `mib` MiB of state (random: it does not deflate), so a client that does not read blocks. */
function bigState(mib: number, fill: 'random' | 'zeros' = 'random'): KV[] {
  return Array.from({ length: mib * 64 }, (_, i) => ({
    key: Keys.tier(`t${i}`),
    value: { order: i, pad: fill === 'random' ? randomBytes(8 << 10).toString('hex') : '0'.repeat(16 << 10) },
  }));
}

async function start(server: Partial<ServerOptions>, state: KV[] = []): Promise<SyncClient> {
  t.stack = await startStack({ server: { pingIntervalMs: 200, pongTimeoutMs: 30_000, ...server } });
  t.stack.router.onUpdates([{ key: Keys.tier('security'), value: { order: 100 } }, ...state]);
  t.stack.router.onStatus('in-sync');
  const good = new SyncClient({ addresses: [t.stack.address], syncer: 'felix', hostname: 'good' });
  cleanup.push(() => good.stop());
  good.start();
  await waitFor(() => good.status === 'in-sync', 20_000, 'healthy client in sync');
  return good;
}

async function stillServed(good: SyncClient, name: string): Promise<void> {
  t.stack!.router.onUpdates([{ key: Keys.tier(name), value: { order: 7 } }]);
  await waitFor(() => good.state.get(Keys.tier(name)) !== undefined, 10_000, `update ${name}`);
  expect(good.connected).toBe(true);
}

const serverSide = (hostname: string): Connection | undefined =>
  [...t.stack!.server.connections()].find((c) => c.hostname === hostname);

const closedWith = (code: string) =>
  [...t.stack!.server.stats.closes.entries()].some(([k, n]) => k.endsWith(`:${code}`) && n > 0);

describe('a client cannot make the server hold unbounded memory', () => {
  it('a PING flood is closed with too-many-pings; other clients still get deltas', async () => {
    const good = await start({ clientPingBurst: 10, clientPingRefillMs: 1_000 });
    const raw = await RawClient.open(t.stack!.address);
    cleanup.push(() => raw.destroy());
    raw.hello({ hostname: 'flood' });
    await waitFor(() => raw.messages.some((m) => m.type === MsgType.ServerHello), 5_000, 'SERVER_HELLO');
    raw.socket.write(Buffer.concat(Array.from({ length: 200 }, () => ping)));
    await waitFor(() => raw.closed, 5_000, 'flooder closed');
    expect(raw.goodbye()?.code).toBe('too-many-pings');
    // The burst was answered, the excess was not.
    expect(raw.messages.filter((m) => m.type === MsgType.Pong).length).toBeLessThanOrEqual(10);
    await stillServed(good, 'after-flood');
  });

  it('no PONG is queued on a socket that does not drain, and its traffic does not defer the write deadline', async () => {
    const good = await start(
      { compressions: [], clientPingBurst: 1e9, writeTimeoutMs: 3_000, maxQueuedBytes: 256 << 20 },
      bigState(12),
    );
    const raw = await RawClient.open(t.stack!.address);
    cleanup.push(() => raw.destroy());
    raw.socket.pause(); // never reads
    raw.hello({ hostname: 'mute', compressions: [] });
    await waitFor(() => serverSide('mute')?.blocked === true, 10_000, 'blocked');
    const conn = serverSide('mute')!;
    const queued = conn.socket.writableLength;
    const bytesIn = t.stack!.server.stats.bytesIn;
    const flood = Buffer.concat(Array.from({ length: 20_000 }, () => ping));
    raw.socket.write(flood);
    await waitFor(() => t.stack!.server.stats.bytesIn >= bytesIn + flood.length, 10_000, 'flood received');
    // 20,000 PINGs received while blocked: not one PONG queued.
    expect(conn.socket.writableLength - queued).toBeLessThan(1_024);
    // It keeps sending (liveness stays fresh), yet the write deadline ends it.
    const keepSending = setInterval(() => raw.socket.write(ping), 100);
    cleanup.push(() => clearInterval(keepSending));
    await waitFor(() => closedWith('write-timeout'), 10_000, 'write-timeout');
    await stillServed(good, 'after-mute');
  });

  it('output beyond maxQueuedBytes closes the connection with write-queue-full', async () => {
    // The snapshot deflates to almost nothing for the healthy client; raw it is 12 MiB.
    const good = await start({ maxQueuedBytes: 1 << 20 }, bigState(12, 'zeros'));
    const raw = await RawClient.open(t.stack!.address);
    cleanup.push(() => raw.destroy());
    raw.socket.pause();
    raw.hello({ hostname: 'hoarder', compressions: [] });
    await waitFor(() => closedWith('write-queue-full'), 10_000, 'write-queue-full');
    await stillServed(good, 'after-hoarder');
  });
});

describe('rejected connections do not flood the log', () => {
  it('100 garbage connections: a few lines per close reason, every close counted', async () => {
    const lines: Array<{ msg?: string; code?: string }> = [];
    const log: Logger = {
      debug() {},
      info: (o, msg) => lines.push({ ...(o as object), msg }),
      warn: (o, msg) => lines.push({ ...(o as object), msg }),
      error: (o, msg) => lines.push({ ...(o as object), msg }),
      child: () => log,
    };
    t.stack = await startStack({ log });
    const socks = await Promise.all(Array.from({ length: 100 }, () => RawClient.open(t.stack!.address)));
    t.cleanup.push(() => {
      for (const s of socks) s.destroy();
    });
    for (const s of socks) s.socket.write(Buffer.from([0, 0, 0, 1, 7]));
    await waitFor(() => socks.every((s) => s.closed), 10_000, 'all closed');
    expect(t.stack.server.stats.closes.get('none:malformed-frame')).toBe(100);
    const about = lines.filter((l) => l.code === 'malformed-frame' || l.msg?.includes('malformed'));
    expect(about.length).toBeLessThanOrEqual(5);
  });
});
