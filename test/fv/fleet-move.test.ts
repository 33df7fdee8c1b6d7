// Issue 10's "done when" for placement: 3 replicas and 300 agents on loopback. Killing one
// replica moves only its agents, which resume elsewhere by state with deltas only; when it
// returns, rebalancing (shedding) and drift bring them home, again without any snapshot.
// Figures (bytes per moved agent, time to converge) are printed for the report.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { rankReplicas } from '../../src/client/placement.js';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

const AGENTS = 300;
const KEYS = 400;
// Random (incompressible) values: the snapshot's size is not flattered by deflate.
const value = () => ({ note: randomBytes(150).toString('hex') });
const initial: KV[] = Array.from({ length: KEYS }, (_, i) => ({
  key: Keys.workloadEndpoint(`node-${i % 50}`, 'ns', `pod-${i}`),
  value: value(),
}));
/** What the datastore has said so far; a returning replica lists all of it. */
const history: KV[][] = [initial];

let live = 0;
const replicas: Array<Stack | undefined> = [undefined, undefined, undefined];
const ports: number[] = [];
const clients: SyncClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  for (const r of replicas) await r?.stop();
});

async function startReplica(i: number): Promise<Stack> {
  const s = await startStack({
    port: ports[i] ?? 0,
    server: { rebalanceIntervalMs: 200, rebalanceMaxPerInterval: 10, rebalanceRetryAfterMs: 30_000 },
  });
  ports[i] = Number(s.address.split(':')[1]);
  s.router.onStatus('resync');
  for (const batch of history) s.router.onUpdates(batch);
  s.router.onStatus('in-sync');
  s.server.setReplicaView({
    fresh: () => s.caches.get('felix')!.status === 'in-sync',
    readyReplicas: () => live,
    expectedClients: (syncer) => (syncer === 'felix' ? AGENTS : 0),
  });
  replicas[i] = s;
  live++;
  return s;
}

/** The datastore changes: every live replica hears it. */
function churn(n: number): void {
  const batch = Array.from({ length: n }, (_, i) => ({ key: initial[i * 7]!.key, value: value() }));
  history.push(batch);
  for (const r of replicas) {
    if (r === undefined) continue;
    r.router.onUpdates(batch);
    felix(r).flush();
  }
}

interface Tracked {
  c: SyncClient;
  node: string;
  address: string;
  connects: Array<{ address: string; resumed: boolean }>;
}

const felix = (s: Stack) => s.caches.get('felix')!;
const atHead = (t: Tracked[]) =>
  t.every((x) => {
    const r = replicas.find((s) => s?.address === x.address);
    return r !== undefined && x.c.connected && x.c.generation === felix(r).headGeneration;
  });

describe('3 replicas, 300 agents', () => {
  it('a killed replica moves only its agents, with deltas; on its return they go home without a snapshot', async () => {
    for (let i = 0; i < 3; i++) await startReplica(i);
    const addresses = replicas.map((r) => r!.address);
    const tracked: Tracked[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const node = `node-${i}`;
      const c = new SyncClient({
        addresses,
        syncer: 'felix',
        hostname: node,
        compressions: ['deflate'],
        driftIntervalMs: 4_000,
        backoff: { initialMs: 50, maxMs: 1_000, multiplier: 2, jitter: 0.5 },
      });
      const t: Tracked = { c, node, address: '', connects: [] };
      c.on('connected', ({ address, resumed }) => {
        t.address = address;
        t.connects.push({ address, resumed });
      });
      c.on('disconnected', () => {
        t.address = '';
      });
      clients.push(c);
      tracked.push(t);
      c.start();
    }
    await waitFor(() => atHead(tracked), 60_000, 'every agent synced');
    const snapshotBytes = Math.min(...tracked.map((t) => t.c.bytesReceived));
    for (const t of tracked) expect(t.address).toBe(rankReplicas(t.node, addresses)[0]);
    const perReplica = addresses.map((a) => tracked.filter((t) => t.address === a).length);

    // Kill replica 0 (no goodbye: a crash), while the datastore keeps changing.
    const victim = addresses[0]!;
    const theirs = tracked.filter((t) => t.address === victim);
    const others = tracked.filter((t) => t.address !== victim);
    const before = new Map(tracked.map((t) => [t, t.c.bytesReceived]));
    const killedAt = Date.now();
    await replicas[0]!.stop();
    replicas[0] = undefined;
    live--;
    churn(10);
    await waitFor(() => atHead(tracked), 30_000, 'agents of the killed replica resumed elsewhere');
    const moveMs = Date.now() - killedAt;
    const movedBytes = theirs.map((t) => t.c.bytesReceived - before.get(t)!);
    for (const t of theirs) {
      expect(t.address).toBe(rankReplicas(t.node, addresses)[1]);
      expect(t.connects.slice(1).every((x) => x.resumed)).toBe(true);
    }
    for (const t of others) expect(t.connects).toHaveLength(1); // untouched
    for (const b of movedBytes) expect(b).toBeLessThan(snapshotBytes * 0.05);

    // Replica 0 returns (same address, a new process: another epoch, the same data).
    const returnedAt = Date.now();
    const back = await startReplica(0);
    churn(10);
    const home = () => tracked.every((t) => t.address === rankReplicas(t.node, addresses)[0]);
    await waitFor(() => home() && atHead(tracked), 60_000, 'every agent back on its preferred replica');
    const convergeMs = Date.now() - returnedAt;
    const shed = replicas.reduce((n, r) => n + (r?.server.stats.shed.get('felix') ?? 0), 0);
    expect(back.server.stats.snapshotsSent.get('felix')).toBe(0);
    expect(tracked.every((t) => t.connects.slice(1).every((x) => x.resumed))).toBe(true);
    for (const t of others) expect(t.connects).toHaveLength(1);
    for (const t of tracked) {
      const r = replicas.find((s) => s?.address === t.address)!;
      expect(t.c.state.hashHex()).toBe(felix(r).stateHash);
    }
    const max = Math.max(...movedBytes);
    const mean = movedBytes.reduce((a, b) => a + b, 0) / movedBytes.length;
    console.log(
      JSON.stringify({
        agents: AGENTS,
        perReplica,
        moved: theirs.length,
        movedFraction: +(theirs.length / AGENTS).toFixed(3),
        snapshotBytes,
        movedBytesMean: Math.round(mean),
        movedBytesMax: max,
        movedBytesMaxPctOfSnapshot: +((100 * max) / snapshotBytes).toFixed(2),
        moveMs,
        convergeMs,
        shedOnReturn: shed,
        snapshotsOnReturn: back.server.stats.snapshotsSent.get('felix'),
      }),
    );
  }, 180_000);
});
