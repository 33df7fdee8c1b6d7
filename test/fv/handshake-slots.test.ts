// Sockets that never say HELLO must not lock out agents: they have their own budget apart
// from --max-connections, the longest-waiting one gives way when it is full, and a refused
// `tabby sync` says it was refused and when it retries.
import { describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import { ConnState } from '../../src/server/connection.js';
import type { ServerOptions } from '../../src/server/options.js';
import { run } from '../harness/cli.js';
import { RawClient } from '../harness/raw-client.js';
import { perTestStack, type Stack, startStack, waitFor } from '../harness/stack.js';

const t = perTestStack();
const { cleanup } = t;

async function start(server: Partial<ServerOptions>): Promise<Stack> {
  t.stack = await startStack({ server });
  t.stack.router.onUpdates([{ key: Keys.tier('security'), value: { order: 100 } }]);
  t.stack.router.onStatus('in-sync');
  return t.stack;
}

async function idleSockets(n: number): Promise<RawClient[]> {
  const socks = await Promise.all(Array.from({ length: n }, () => RawClient.open(t.stack!.address)));
  cleanup.push(() => {
    for (const s of socks) s.destroy();
  });
  return socks;
}

async function agentSyncs(hostname: string): Promise<SyncClient> {
  const c = new SyncClient({ addresses: [t.stack!.address], syncer: 'felix', hostname });
  cleanup.push(() => c.stop());
  c.start();
  await waitFor(() => c.status === 'in-sync', 10_000, `${hostname} in sync`);
  return c;
}

const closes = (code: string) =>
  [...t.stack!.server.stats.closes.entries()]
    .filter(([k]) => k.endsWith(`:${code}`))
    .reduce((a, [, n]) => a + n, 0);

describe('connections that have not sent HELLO', () => {
  it('60 idle sockets do not count against --max-connections', async () => {
    await start({ maxConnections: 10 });
    await idleSockets(60);
    await waitFor(() => t.stack!.server.connectionCount >= 60, 5_000, 'idle sockets accepted');
    await agentSyncs('node-1');
    expect(closes('too-many-connections')).toBe(0);
  });

  it('when their own budget is full, the longest-waiting gives way to a newcomer', async () => {
    await start({ maxPendingHandshakes: 16, minHandshakeGraceMs: 200 });
    const idle = await idleSockets(60);
    await new Promise((r) => setTimeout(r, 300));
    await agentSyncs('node-1');
    // Beyond the budget, newcomers within the grace were refused; the agent took the slot of
    // an idle one that had had its grace.
    expect(closes('too-many-connections')).toBeGreaterThan(0);
    expect(closes('handshake-timeout')).toBeGreaterThan(0);
    await waitFor(() => idle.filter((s) => !s.closed).length <= 16, 5_000, 'idle sockets bounded');
  });

  it('past HELLO the limit still holds: refused after HELLO when others took the slots meanwhile', async () => {
    await start({ maxConnections: 1 });
    const late = await RawClient.open(t.stack!.address); // admitted: nobody is past HELLO yet
    cleanup.push(() => late.destroy());
    await agentSyncs('node-1');
    late.hello({ hostname: 'node-2' });
    await waitFor(() => late.closed, 5_000, 'refused');
    expect(late.goodbye()?.code).toBe('too-many-connections');
    expect(late.goodbye()?.retryAfterMs).toBeGreaterThan(0);
    expect(late.messages.some((m) => m.type === MsgType.ServerHello)).toBe(false);
  });

  it('a GOODBYE before HELLO frees the slot; closing sockets count against neither budget', async () => {
    await start({ maxConnections: 2, maxPendingHandshakes: 3, minHandshakeGraceMs: 0 });
    const bye = await RawClient.open(t.stack!.address);
    cleanup.push(() => bye.destroy());
    bye.socket.write(
      encodeMessage({ type: MsgType.Goodbye, body: { code: 'client-closing', message: 'bye' } }),
    );
    const idle: RawClient[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await RawClient.open(t.stack!.address);
      cleanup.push(() => r.destroy());
      idle.push(r);
    }
    const waiting = () =>
      [...t.stack!.server.connections()].filter((c) => c.state === ConnState.Handshake).length;
    expect(waiting()).toBeLessThanOrEqual(3);
    // Evicted and refused sockets linger closing: agents still get in.
    await agentSyncs('node-1');
  });

  it('a frame over 16 KiB before HELLO is refused at its header', async () => {
    await start({});
    const raw = await RawClient.open(t.stack!.address);
    cleanup.push(() => raw.destroy());
    raw.socket.write(Buffer.from([0, 0, 0x40, 0x01, MsgType.Hello, 0])); // length 16 385
    await waitFor(() => raw.closed, 5_000, 'closed');
    expect(raw.goodbye()?.code).toBe('frame-too-large');
  });

  it('`tabby sync` refused for too many connections says so, with the retry delay', async () => {
    await start({ maxConnections: 1 });
    await agentSyncs('node-1');
    const r = await run(['sync', '--server', t.stack!.address, '--once', '--timeout-ms', '2500'], 20_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused: too many connections, retry in \d+ s/);
    expect(r.stderr).not.toMatch(/wait-for-datastore/);
  });
});
