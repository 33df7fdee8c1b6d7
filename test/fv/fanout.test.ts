import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import { hashState } from '../../src/model/state-hash.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

let stack: Stack | undefined;
const clients: SyncClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await stack?.stop();
  stack = undefined;
});

function wep(i: number, gen: number): KV {
  return {
    key: Keys.workloadEndpoint(`node-${i % 20}`, 'ns', `pod-${i}`),
    value: { ipv4Nets: [`10.244.${i >> 8}.${i & 255}/32`], labels: { app: `a${i % 7}`, gen: String(gen) } },
  };
}

describe('fan-out over loopback', () => {
  it('200 clients under churn, some joining mid-churn, all end with the source state', async () => {
    // fanoutSliceMs 0: every pass is cut into slices of 64 clients, so slicing is exercised too.
    stack = await startStack({ server: { fanoutSliceMs: 0 } });
    const source = new Map<string, JsonValue>();
    const push = (kvs: KV[]) => {
      for (const kv of kvs) {
        if (kv.value === null) source.delete(kv.key);
        else source.set(kv.key, kv.value);
      }
      stack!.router.onUpdates(kvs);
    };
    stack.router.onStatus('resync');
    push(Array.from({ length: 2000 }, (_, i) => wep(i, 0)));
    push([{ key: Keys.tier('security'), value: { order: 100 } }]);
    stack.router.onStatus('in-sync');

    const start = (n: number) => {
      for (let i = 0; i < n; i++) {
        const c = new SyncClient({
          addresses: [stack!.address],
          syncer: 'felix',
          hostname: `h${clients.length}`,
        });
        clients.push(c);
        c.start();
      }
    };
    start(100);
    // Churn while the rest join.
    for (let round = 1; round <= 40; round++) {
      const kvs: KV[] = [];
      for (let j = 0; j < 50; j++) {
        const i = (round * 97 + j * 31) % 2500;
        kvs.push(j % 5 === 0 ? { key: wep(i, round).key, value: null } : wep(i, round));
      }
      push(kvs);
      if (round === 20) start(100);
      await new Promise((r) => setTimeout(r, 5));
    }
    const felix = stack.caches.get('felix')!;
    felix.flush();
    const want = hashState(source);
    expect(felix.stateHash).toBe(want);
    await waitFor(
      () => clients.every((c) => c.generation === felix.headGeneration && c.status === 'in-sync'),
      30_000,
      'all clients at head',
    );
    for (const c of clients) {
      expect(c.state.hashHex()).toBe(want);
      expect(c.state.size).toBe(source.size);
    }
    expect(stack.server.connectionCount).toBe(200);
  });

  it('bgp clients never receive workload endpoints', async () => {
    stack = await startStack();
    stack.router.onUpdates([
      wep(1, 0),
      { key: Keys.ipPool('10.244.0.0/16'), value: { cidr: '10.244.0.0/16' } },
    ]);
    stack.router.onStatus('in-sync');
    const c = new SyncClient({ addresses: [stack.address], syncer: 'bgp' });
    clients.push(c);
    c.start();
    await waitFor(() => c.status === 'in-sync');
    expect([...c.state.entries()].map(([k]) => k)).toEqual([Keys.ipPool('10.244.0.0/16')]);
  });
});
