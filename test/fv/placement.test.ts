// Several replicas on loopback: resume on another replica by state hash (PROTOCOL.md §14.3),
// placement by rendezvous ranking, falling down the ranking and drifting back.
import { afterEach, describe, expect, it } from 'vitest';
import { rankReplicas } from '../../src/client/placement.js';
import { SyncClient, type SyncClientOptions } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

const stacks: Stack[] = [];
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
  for (const s of stacks.splice(0)) await s.stop();
});

const pad = 'x'.repeat(300);
const wep = (i: number, v: number): KV => ({
  key: Keys.workloadEndpoint(`node-${i % 10}`, 'ns', `pod-${i}`),
  value: { ipv4Nets: [`10.244.${i >> 8}.${i & 255}/32`], labels: { v: String(v) }, note: pad },
});
const weps = (from: number, to: number, v: number) =>
  Array.from({ length: to - from }, (_, i) => wep(from + i, v));

/** Feeds a replica in-sync data, in `batches` generations (replicas batch differently). */
function seed(s: Stack, kvs: KV[], batches = 1): void {
  s.router.onStatus('resync');
  const per = Math.ceil(kvs.length / batches);
  for (let i = 0; i < kvs.length; i += per) {
    s.router.onUpdates(kvs.slice(i, i + per));
    s.caches.get('felix')!.flush();
  }
  s.router.onStatus('in-sync');
}

async function replica(opts: Parameters<typeof startStack>[0] = {}): Promise<Stack> {
  const s = await startStack(opts);
  stacks.push(s);
  return s;
}

function client(opts: Partial<SyncClientOptions>): SyncClient {
  const c = new SyncClient({
    syncer: 'felix',
    backoff: { initialMs: 20, maxMs: 200, multiplier: 2, jitter: 0.5 },
    ...opts,
  });
  cleanup.push(() => c.stop());
  c.start();
  return c;
}

const felix = (s: Stack) => s.caches.get('felix')!;

describe('resume on another replica (§14.3)', () => {
  it('a replica that had the same state resumes the client with deltas; one that never had it sends a snapshot', async () => {
    const [a, b, c] = [await replica(), await replica(), await replica()];
    seed(a, weps(0, 2000, 0));
    seed(b, weps(0, 2000, 0), 10); // same state, other generation numbers, other epoch
    seed(c, weps(0, 2000, 9)); // a state the client never holds
    let current = [a.address];
    const cl = client({ addressProvider: () => current });
    const connects: boolean[] = [];
    cl.on('connected', ({ resumed }) => connects.push(resumed));
    await waitFor(() => cl.status === 'in-sync', 10_000, 'first sync');
    const snapshotBytes = cl.bytesReceived;
    expect(felix(a).epoch).not.toBe(felix(b).epoch);
    expect(felix(a).headGeneration).not.toBe(felix(b).headGeneration);

    // b moves on past the client's state, then a goes away.
    b.router.onUpdates([wep(1, 1), wep(2, 1)]);
    felix(b).flush();
    current = [b.address];
    const before = cl.bytesReceived;
    await a.stop();
    stacks.splice(stacks.indexOf(a), 1);
    await waitFor(() => connects.length === 2 && cl.generation === felix(b).headGeneration, 10_000, 'on b');
    expect(connects[1]).toBe(true);
    expect(cl.state.hashHex()).toBe(felix(b).stateHash);
    expect(cl.state.get(wep(1, 1).key)).toEqual(wep(1, 1).value);
    expect(cl.bytesReceived - before).toBeLessThan(snapshotBytes / 20);
    expect(b.server.stats.handshakes.get('felix:resumed-by-hash')).toBe(1);

    current = [c.address];
    const before2 = cl.bytesReceived;
    b.server.connections().next().value!.socket.destroy();
    await waitFor(() => connects.length === 3 && cl.generation === felix(c).headGeneration, 10_000, 'on c');
    expect(connects[2]).toBe(false);
    expect(cl.state.hashHex()).toBe(felix(c).stateHash);
    expect(cl.bytesReceived - before2).toBeGreaterThan(snapshotBytes / 2);
  });
});

describe('placement', () => {
  it('a client connects to its rank-0 replica, falls down the ranking when it is down, and drifts back with resume', async () => {
    const [a, b] = [await replica(), await replica()];
    for (const s of [a, b]) seed(s, weps(0, 500, 0));
    const node = 'node-drift';
    const [first, second] = rankReplicas(node, [a.address, b.address]);
    const preferred = first === a.address ? a : b;
    const other = preferred === a ? b : a;
    const port = Number(preferred.address.split(':')[1]);
    await preferred.stop(); // the preferred replica is down at first
    stacks.splice(stacks.indexOf(preferred), 1);
    const cl = client({ addresses: [a.address, b.address], hostname: node, driftIntervalMs: 400 });
    const seen: Array<{ address: string; resumed: boolean }> = [];
    cl.on('connected', (i) => seen.push(i));
    await waitFor(() => cl.status === 'in-sync', 10_000, 'sync on the second choice');
    expect(seen[0]!.address).toBe(second);
    // HELLO told the server where it stands in the client's ranking.
    expect([...other.server.connections()][0]!.rank).toBe(1);

    const back = await replica({ port });
    seed(back, weps(0, 500, 0));
    await waitFor(() => seen.length === 2, 10_000, 'drift back');
    expect(seen[1]).toEqual({ address: first, serverId: 'test', resumed: true });
    await waitFor(
      () => [...back.server.connections()].some((c) => c.rank === 0),
      5_000,
      'rank 0 on the server',
    );
    expect(cl.state.hashHex()).toBe(felix(back).stateHash);
  });
});
