import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';
import { ConnState } from '../../src/server/connection.js';
import { RawClient } from '../harness/raw-client.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

let stacks: Stack[] = [];
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
  for (const s of stacks.splice(0)) await s.stop();
});

const pad = 'x'.repeat(400);
const wep = (i: number, v: number): KV => ({
  key: Keys.workloadEndpoint(`node-${i % 10}`, 'ns', `pod-${i}`),
  value: { ipv4Nets: [`10.244.${i >> 8}.${i & 255}/32`], labels: { v: String(v) }, note: pad },
});
const seed = (s: Stack, n: number) => {
  s.router.onStatus('resync');
  s.router.onUpdates(Array.from({ length: n }, (_, i) => wep(i, 0)));
  s.router.onStatus('in-sync');
};
function client(s: Stack, extra: Partial<ConstructorParameters<typeof SyncClient>[0]> = {}) {
  const c = new SyncClient({
    addresses: [s.address],
    syncer: 'felix',
    backoff: { initialMs: 20, maxMs: 200, multiplier: 2, jitter: 0.5 },
    ...extra,
  });
  cleanup.push(() => c.stop());
  c.start();
  return c;
}

describe('slow and lagging clients', () => {
  it('a client that stops reading is bounded in memory and dropped; others are unaffected', async () => {
    const s = await startStack({
      server: { writeTimeoutMs: 1_500, maxFallBehindMs: 1_000, newClientGraceMs: 0 },
    });
    stacks.push(s);
    seed(s, 500);
    const good = client(s);
    const raw = await RawClient.open(s.address);
    cleanup.push(() => raw.destroy());
    raw.hello({ compressions: [] });
    await waitFor(() => raw.messages.length > 0 && good.status === 'in-sync');
    raw.socket.pause(); // stops reading: the kernel buffers fill, then the server's.
    const felix = s.caches.get('felix')!;
    let maxBuffered = 0;
    let round = 0;
    const deadline = Date.now() + 15_000;
    const rawOnServer = () => [...s.server.connections()].some((c) => c.hostname === 'raw');
    // (A paused socket does not see its own close, so ask the server.)
    while (rawOnServer() && Date.now() < deadline) {
      round++;
      s.router.onUpdates(Array.from({ length: 500 }, (_, i) => wep(i, round)));
      for (const c of s.server.connections()) {
        if (c.hostname === 'raw') maxBuffered = Math.max(maxBuffered, c.socket.writableLength);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(rawOnServer()).toBe(false);
    // ~250 KB per round were produced for as long as it took; the server held at most a couple of rounds.
    expect(round * 250_000).toBeGreaterThan(4 * maxBuffered);
    expect(maxBuffered).toBeLessThan(2 << 20);
    const reasons = [...s.server.stats.closes.entries()].map(([k]) => k);
    expect(reasons.some((r) => r === 'felix:write-timeout' || r === 'felix:fell-behind')).toBe(true);
    felix.flush();
    await waitFor(() => good.generation === felix.headGeneration, 10_000, 'good client at head');
    expect(good.state.hashHex()).toBe(felix.stateHash);
    expect([...s.server.connections()].filter((c) => c.state === ConnState.Streaming)).toHaveLength(1);
  });
});

describe('resume', () => {
  it('a client dropped inside the window gets deltas only; outside the window a snapshot', async () => {
    const s = await startStack({ cache: { maxHistoryBytes: 400_000 } });
    stacks.push(s);
    seed(s, 2000);
    const c = client(s);
    const connects: boolean[] = [];
    c.on('connected', ({ resumed }) => connects.push(resumed));
    await waitFor(() => c.status === 'in-sync');
    const felix = s.caches.get('felix')!;
    const snapshotBytes = c.bytesReceived;
    expect(snapshotBytes).toBeGreaterThan(10_000);

    // Inside the window.
    c.dropConnection();
    s.router.onUpdates([wep(1, 1), wep(2, 1)]);
    felix.flush();
    const before = c.bytesReceived;
    await waitFor(() => connects.length === 2 && c.generation === felix.headGeneration, 10_000, 'resumed');
    expect(connects[1]).toBe(true);
    expect(c.bytesReceived - before).toBeLessThan(snapshotBytes / 20);
    expect(c.state.hashHex()).toBe(felix.stateHash);

    // Outside the window: enough churn while disconnected to evict the client's position.
    await c.stop();
    for (let r = 2; r < 10; r++) s.router.onUpdates(Array.from({ length: 2000 }, (_, i) => wep(i, r)));
    felix.flush();
    expect(felix.canResume(c.generation)).toBe(false);
    const before2 = c.bytesReceived;
    c.start();
    await waitFor(
      () => connects.length === 3 && c.generation === felix.headGeneration,
      10_000,
      're-snapshot',
    );
    expect(connects[2]).toBe(false);
    expect(c.bytesReceived - before2).toBeGreaterThan(snapshotBytes / 2);
    expect(c.state.hashHex()).toBe(felix.stateHash);
  });
});

describe('server restart', () => {
  it('clients reconnect and converge; the consumer never sees the world empty', async () => {
    const s1 = await startStack();
    stacks.push(s1);
    seed(s1, 1000);
    const c = client(s1);
    await waitFor(() => c.status === 'in-sync');
    const port = Number(s1.address.split(':')[1]);
    let minSize = Number.POSITIVE_INFINITY;
    const seen: KV[] = [];
    c.on('updates', (kvs) => {
      seen.push(...kvs);
      minSize = Math.min(minSize, c.state.size);
    });
    await s1.stop();
    stacks = [];
    // The new replica has the same state but for three changes (a new epoch: no resume possible).
    const s2 = await startStack({ port });
    stacks.push(s2);
    seed(s2, 1000);
    s2.router.onUpdates([wep(5, 9), { key: wep(6, 0).key, value: null }, wep(1000, 9)]);
    const felix = s2.caches.get('felix')!;
    felix.flush();
    await waitFor(() => c.generation === felix.headGeneration && c.connected, 10_000, 'reconnected');
    expect(c.state.hashHex()).toBe(felix.stateHash);
    expect(seen.map((kv) => kv.key).sort()).toEqual([wep(5, 0).key, wep(6, 0).key, wep(1000, 0).key].sort());
    expect(minSize).toBeGreaterThanOrEqual(1000);
  });

  it('graceful drain sends every client a shutdown GOODBYE, spread over the drain time', async () => {
    const s = await startStack();
    stacks.push(s);
    seed(s, 10);
    const raws = await Promise.all(Array.from({ length: 5 }, () => RawClient.open(s.address)));
    for (const r of raws) {
      cleanup.push(() => r.destroy());
      r.hello();
    }
    await waitFor(() => raws.every((r) => r.messages.length > 3));
    const t0 = Date.now();
    await s.server.drain(400);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    for (const r of raws) expect(r.goodbye()?.code).toBe('shutdown');
  });
});
