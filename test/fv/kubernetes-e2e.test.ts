// The whole path a production replica takes: API emulator (seeded with the simulated
// cluster's objects) → Kubernetes datastore (client-node) → converters → caches → server →
// real clients over TCP.
import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { RESOURCE_TYPES } from '../../src/datastore/kube/resources.js';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.js';
import { syncersForKey } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import { hashState } from '../../src/model/state-hash.js';
import { generateInitialState, generateObjects } from '../../src/testing/sim/index.js';
import { type EmulatorHarness, startEmulator } from '../harness/emulator.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

const SIM = { nodes: 6, pods: 60, seed: 7 };

let h: EmulatorHarness | undefined;
let stack: Stack | undefined;
let ds: KubernetesDatastore | undefined;
const clients: SyncClient[] = [];
const extra: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  for (const stop of extra.splice(0)) await stop();
  await ds?.stop();
  await stack?.stop();
  await h?.stop();
  h = undefined;
  stack = undefined;
  ds = undefined;
});

function connect(n: number, syncer: 'felix' | 'bgp' = 'felix') {
  for (let i = 0; i < n; i++) {
    const c = new SyncClient({ addresses: [stack!.address], syncer, hostname: `agent-${clients.length}` });
    clients.push(c);
    c.start();
  }
}

/** The emulator seeded with the simulated cluster, and a replica (datastore → caches → server) on it, retrying fast. */
async function startReplica(probe?: { intervalMs: number; timeoutMs: number }) {
  const api = await startEmulator();
  h = api;
  api.emu.loadObjects(generateObjects(SIM));
  const replica = await startStack();
  stack = replica;
  ds = new KubernetesDatastore({
    kubeconfig: api.kc,
    convert: convertObject,
    log: silentLogger,
    watcher: { backoff: { initialMs: 50, maxMs: 300, multiplier: 2, jitter: 0.2 } },
    ...(probe ? { probe } : {}),
  });
  await ds.start(replica.router);
  return { h: api, stack: replica };
}

describe('Kubernetes datastore end to end', () => {
  it('serves exactly what the simulated cluster would, and the API sees one watch per type for 1 or 200 agents', async () => {
    h = await startEmulator();
    const loaded = h.emu.loadObjects(generateObjects(SIM));
    expect(loaded.errors).toEqual([]);
    stack = await startStack();
    ds = new KubernetesDatastore({ kubeconfig: h.kc, convert: convertObject, log: silentLogger });
    await ds.start(stack.router);
    const felix = stack.caches.get('felix')!;
    const bgp = stack.caches.get('bgp')!;
    await waitFor(() => felix.status === 'in-sync', 10_000, 'in-sync');
    felix.flush();

    // Same objects, same converters: the same state as the sim datastore produces.
    const want = generateInitialState(SIM);
    const felixWant = want.filter((kv) => syncersForKey(kv.key).includes('felix'));
    expect(felix.keyCount).toBe(felixWant.length);
    expect(felix.stateHash).toBe(hashState(felixWant.map((kv) => [kv.key, kv.value])));
    const bgpWant = want.filter((kv) => syncersForKey(kv.key).includes('bgp'));
    expect(bgp.stateHash).toBe(hashState(bgpWant.map((kv) => [kv.key, kv.value])));

    connect(1);
    await waitFor(() => clients[0]!.status === 'in-sync', 10_000, 'first agent');
    await waitFor(() => h!.emu.stats().total.watchesOpen === RESOURCE_TYPES.length, 5_000, 'watches open');
    const watchesWithOne = h.emu.stats().total.watchesStarted;
    // Lists of every type but the one the datastore's liveness probe reads (limit=1) now and then.
    const lists = () => h!.emu.stats().total.lists - h!.emu.stats().byResource['namespaces']!.lists;
    const listsWithOne = lists();

    connect(199);
    connect(20, 'bgp');
    // Churn through the API while they connect.
    for (let i = 0; i < 10; i++) {
      h.emu.patch(
        { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-000' } },
        { metadata: { labels: { churn: String(i) } } },
      );
    }
    await waitFor(() => clients.every((c) => c.status === 'in-sync'), 20_000, 'all agents in sync');
    felix.flush();
    bgp.flush();
    await waitFor(
      () =>
        clients.every((c) =>
          c.syncer === 'felix' ? c.generation === felix.headGeneration : c.generation === bgp.headGeneration,
        ),
      10_000,
      'all at head',
    );
    for (const c of clients)
      expect(c.state.hashHex()).toBe(c.syncer === 'felix' ? felix.stateHash : bgp.stateHash);
    expect(h.emu.stats().total.watchesStarted).toBe(watchesWithOne);
    expect(lists()).toBe(listsWithOne);
    expect(h.emu.stats().total.watchesOpen).toBe(RESOURCE_TYPES.length);
  });

  it('API down: agents keep their state, status goes to resync and back to in-sync', async () => {
    ({ h, stack } = await startReplica());
    connect(5);
    await waitFor(() => clients.every((c) => c.status === 'in-sync'), 10_000, 'agents in sync');
    const sizes = clients.map((c) => c.state.size);
    const seen: string[] = [];
    clients[0]!.on('status', (s) => seen.push(s));
    let deletions = 0;
    clients[0]!.on('updates', (kvs) => {
      deletions += kvs.filter((kv) => kv.value === null).length;
    });

    await h.emu.stop();
    await waitFor(() => clients.every((c) => c.status === 'resync'), 10_000, 'agents told resync');
    expect(clients.map((c) => c.state.size)).toEqual(sizes);
    expect(clients.every((c) => c.connected)).toBe(true); // never dropped because the API is down

    h.emu.patch(
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-001' } },
      { metadata: { labels: { back: 'yes' } } },
    );
    await h.emu.start({ host: '127.0.0.1', port: h.emu.port });
    await waitFor(() => clients.every((c) => c.status === 'in-sync'), 15_000, 'in-sync again');
    const felix = stack.caches.get('felix')!;
    felix.flush();
    await waitFor(() => clients.every((c) => c.generation === felix.headGeneration), 10_000, 'at head');
    for (const c of clients) expect(c.state.hashHex()).toBe(felix.stateHash);
    expect(seen).toEqual(['resync', 'in-sync']);
    expect(deletions).toBe(0);
  });

  it('replaced API (restored store, resourceVersions back): agents end with exactly what a fresh replica builds', async () => {
    ({ h, stack } = await startReplica({ intervalMs: 200, timeoutMs: 1_000 }));
    connect(3);
    await waitFor(() => clients.every((c) => c.status === 'in-sync'), 10_000, 'agents in sync');
    const seen: string[] = [];
    clients[0]!.on('status', (s) => seen.push(s));

    // Another cluster's objects (same node names, other pods, IPs, policies) at lower resourceVersions.
    await h.emu.stop();
    const loaded = h.emu.replaceStore(generateObjects({ ...SIM, seed: 8 }));
    expect(loaded.errors).toEqual([]);
    await h.emu.start({ host: '127.0.0.1', port: h.emu.port });
    await waitFor(() => ds!.health().api?.replacements === 1, 10_000, 'replacement noticed');

    // A fresh replica of the new API is the reference.
    const fresh = await startStack();
    const freshDs = new KubernetesDatastore({ kubeconfig: h.kc, convert: convertObject, log: silentLogger });
    extra.push(async () => {
      await freshDs.stop();
      await fresh.stop();
    });
    await freshDs.start(fresh.router);
    const felix = stack.caches.get('felix')!;
    const freshFelix = fresh.caches.get('felix')!;
    await waitFor(
      () => felix.status === 'in-sync' && freshFelix.status === 'in-sync',
      10_000,
      'both in sync',
    );
    for (const syncer of ['felix', 'bgp'] as const) {
      stack.caches.get(syncer)!.flush();
      fresh.caches.get(syncer)!.flush();
      expect(stack.caches.get(syncer)!.stateHash, syncer).toBe(fresh.caches.get(syncer)!.stateHash);
    }
    await waitFor(
      () => clients.every((c) => c.status === 'in-sync' && c.generation === felix.headGeneration),
      10_000,
      'agents at head',
    );
    for (const c of clients) expect(c.state.hashHex()).toBe(freshFelix.stateHash);
    expect(seen).toContain('resync');
    expect(seen.at(-1)).toBe('in-sync');
  });
});
