// A replica for fleet-view tests: a loopback stack in sync with one key, its fleet model, and
// a health port serving /metrics, /fleet, the live page and its WebSocket; plus an agent
// whose ACK states a hash the server never published (a divergent one).
import type { Server } from 'node:http';
import { Keys } from '../../src/model/keys.js';
import { FleetModel } from '../../src/observability/fleet.js';
import { startHealthServer } from '../../src/observability/health.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import { RawClient } from './raw-client.js';
import { type Stack, startStack, waitFor } from './stack.js';

export interface FleetReplica {
  stack: Stack;
  fleet: FleetModel;
  health: Server;
  /** HOST:PORT of the health port. */
  healthAddress: string;
  stop(): Promise<void>;
}

export async function startFleetReplica(serverId: string): Promise<FleetReplica> {
  const stack = await startStack();
  stack.caches.get('felix')!.apply([{ key: Keys.tier('default'), value: { order: 100 } }]);
  for (const c of stack.caches.values()) c.setStatus('in-sync');
  const caches = [...stack.caches.values()];
  const fleet = new FleetModel({ serverId, streams: caches, server: stack.server });
  const registry = createMetrics({ caches, server: stack.server, router: stack.router, fleet });
  const health = await startHealthServer('127.0.0.1', 0, {
    registry,
    ready: () => ({ ok: true, detail: {} }),
    fleet,
  });
  return {
    stack,
    fleet,
    health,
    healthAddress: `127.0.0.1:${(health.address() as { port: number }).port}`,
    async stop() {
      await new Promise((r) => {
        health.close(r); // also ends live-page WebSockets
        health.closeAllConnections(); // and idle keep-alive sockets
      });
      await stack.stop();
    },
  };
}

/** A peer that takes its snapshot, then ACKs it with a hash the server never published. */
export async function divergentAgent(address: string, hostname: string): Promise<RawClient> {
  const raw = await RawClient.open(address);
  raw.hello({ hostname, compressions: [] });
  await waitFor(() => raw.messages.some((m) => m.type === MsgType.SnapshotEnd), 5_000, 'snapshot');
  const end = raw.messages.find((m) => m.type === MsgType.SnapshotEnd)!;
  const generation = (end.body as { generation: number }).generation;
  raw.socket.write(encodeMessage({ type: MsgType.Ack, body: { generation, hash: `${'0'.repeat(63)}1` } }));
  return raw;
}
