// A replica that answers the handshake and then goes silent (a half-open path, a stuck
// process): the client's keepalive declares it dead (PROTOCOL.md §12), and its next attempt
// must go to another replica, not straight back to the silent one — which would accept and
// hand over a SERVER_HELLO again, and hold the client there for ever.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rankReplicas } from '../../src/client/placement.js';
import { SyncClient } from '../../src/client/sync-client.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { MsgType, PROTOCOL_VERSIONS } from '../../src/protocol/messages.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

let stack: Stack | undefined;
let silent: Server | undefined;
const sockets: Socket[] = [];
let client: SyncClient | undefined;
afterEach(async () => {
  await client?.stop();
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  await stack?.stop();
  client = silent = stack = undefined;
});

describe('failover from a silent replica', () => {
  it('after a ping-timeout the next attempt goes to the other replica', async () => {
    let accepted = 0;
    silent = createServer((s) => {
      accepted++;
      sockets.push(s);
      s.on('error', () => {});
      // One SERVER_HELLO, then nothing: no PING, no snapshot, no FIN.
      s.once('data', () =>
        s.write(
          encodeMessage({
            type: MsgType.ServerHello,
            body: {
              version: Math.max(...PROTOCOL_VERSIONS),
              syncer: 'felix',
              compression: 'none',
              epoch: 'silent-epoch',
              serverId: 'silent',
              resumed: false,
              pingIntervalMs: 200,
              pongTimeoutMs: 500,
            },
          }),
        ),
      );
    });
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', () => r()));
    const silentAddress = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    stack = await startStack();
    stack.router.onUpdates([{ key: '/calico/v1/config/LogSeverityScreen', value: 'Info' }]);
    stack.router.onStatus('in-sync');
    const addresses = [silentAddress, stack.address];
    // A node whose preferred replica is the silent one.
    const hostname = Array.from({ length: 100 }, (_, i) => `node-${i}`).find(
      (h) => rankReplicas(h, addresses)[0] === silentAddress,
    )!;
    client = new SyncClient({
      addresses,
      syncer: 'felix',
      hostname,
      backoff: { initialMs: 20, maxMs: 100, multiplier: 2, jitter: 0 },
      driftIntervalMs: 0,
    });
    const reasons: string[] = [];
    client.on('disconnected', (d) => reasons.push(`${d.address}: ${d.reason}`));
    client.start();
    await waitFor(() => client!.status === 'in-sync', 20_000, 'in sync on the healthy replica');
    expect(client.serverId).toBe('test');
    expect(reasons[0]).toMatch(/ping-timeout/);
    expect(accepted).toBe(1);
  });
});
