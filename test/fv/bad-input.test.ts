import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import { encodeMessage, frame } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import { compressedPing, deepReport, RawClient } from '../harness/raw-client.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

let stack: Stack | undefined;
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
  await stack?.stop();
  stack = undefined;
});

async function withHealthyClient() {
  stack = await startStack({ server: { handshakeTimeoutMs: 300, pingIntervalMs: 200, pongTimeoutMs: 700 } });
  stack.router.onUpdates([{ key: Keys.tier('security'), value: { order: 100 } }]);
  stack.router.onStatus('in-sync');
  const good = new SyncClient({ addresses: [stack.address], syncer: 'felix' });
  cleanup.push(() => good.stop());
  good.start();
  await waitFor(() => good.status === 'in-sync', 5_000, 'healthy client in sync');
  return good;
}

async function expectClosedWith(raw: RawClient, code: string): Promise<void> {
  await waitFor(() => raw.closed, 5_000, `close with ${code}`);
  expect(raw.goodbye()?.code).toBe(code);
}

describe('bad input gets a reason and disturbs nobody else', () => {
  const cases: Array<[string, (raw: RawClient) => void, string]> = [
    ['garbage bytes', (r) => r.socket.write(Buffer.from([0, 0, 0, 1, 7])), 'malformed-frame'],
    ['oversized frame header', (r) => r.socket.write(Buffer.from([0x7f, 0, 0, 0, 1, 0])), 'frame-too-large'],
    [
      'wrong first message',
      (r) => r.socket.write(encodeMessage({ type: MsgType.Ping, body: { ts: 1 } })),
      'unexpected-message',
    ],
    ['unsupported version', (r) => r.hello({ versions: [99] }), 'unsupported-version'],
    ['unknown syncer', (r) => r.hello({ syncer: 'nope' as never }), 'unknown-syncer'],
    [
      'unknown message type',
      (r) => r.socket.write(frame(0x7e as never, Buffer.from([0x80]))),
      'unknown-message',
    ],
    [
      'body not MessagePack',
      (r) => r.socket.write(frame(MsgType.Hello, Buffer.from([0xc1]))),
      'malformed-frame',
    ],
    ['never says hello', () => {}, 'handshake-timeout'],
    [
      'REPORT data nested 10,000 levels deep (§4.1 allows 100)',
      (r) => {
        r.hello();
        r.socket.write(deepReport(10_000));
      },
      'malformed-frame',
    ],
    [
      'a DEFLATE frame after compression "none" was negotiated',
      (r) => {
        r.hello({ compressions: [] });
        r.socket.write(compressedPing(1));
      },
      'malformed-frame',
    ],
    [
      'accepts frames smaller than the server sends',
      (r) => r.hello({ maxFrameBytes: 1024 }),
      'frame-too-large',
    ],
  ];
  for (const [name, send, code] of cases) {
    it(`${name} → ${code}`, async () => {
      const good = await withHealthyClient();
      const raw = await RawClient.open(stack!.address);
      cleanup.push(() => raw.destroy());
      send(raw);
      await expectClosedWith(raw, code);
      // The healthy client still follows updates.
      stack!.router.onUpdates([{ key: Keys.tier('platform'), value: { order: 200 } }]);
      await waitFor(
        () => good.state.get(Keys.tier('platform')) !== undefined,
        5_000,
        'update after bad client',
      );
      expect(good.connected).toBe(true);
      const reasons = [...stack!.server.stats.closes.entries()].map(([k]) => k);
      expect(reasons.some((r) => r.endsWith(`:${code}`))).toBe(true);
    });
  }

  it('a client that never answers pings is dropped with ping-timeout', async () => {
    await withHealthyClient();
    const raw = await RawClient.open(stack!.address);
    cleanup.push(() => raw.destroy());
    raw.hello();
    await expectClosedWith(raw, 'ping-timeout');
    expect(raw.messages.some((m) => m.type === MsgType.Ping)).toBe(true);
  });

  it('connections over the limit are refused with a retry hint', async () => {
    stack = await startStack({ server: { maxConnections: 1 } });
    stack.router.onStatus('in-sync');
    const first = await RawClient.open(stack.address);
    cleanup.push(() => first.destroy());
    first.hello();
    await waitFor(() => first.messages.length > 0);
    const second = await RawClient.open(stack.address);
    cleanup.push(() => second.destroy());
    await expectClosedWith(second, 'too-many-connections');
    expect(second.goodbye()?.retryAfterMs).toBeGreaterThan(0);
    expect(first.closed).toBe(false);
  });
});
