// API-side faults end to end (issue 14): emulator → Kubernetes datastore → caches → server →
// verifying clients. For each fault: the agents keep their state (nothing the API still has is
// taken from them), the replica says resync while it cannot vouch for its state and in-sync
// after, and in the end the replica and every agent hold exactly what a fresh datastore
// reading the same API builds (an independent conversion, not the replica under test).
import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.js';
import { silentLogger } from '../../src/model/logger.js';
import type { SyncStatus } from '../../src/model/types.js';
import { SnapshotCache } from '../../src/snapcache/cache.js';
import { SyncerRouter } from '../../src/snapcache/router.js';
import type { ApiEmulator } from '../../src/testing/emulator/emulator.js';
import { generateObjects } from '../../src/testing/sim/index.js';
import { type EmulatorHarness, pod, startEmulator } from '../harness/emulator.js';
import { type Stack, startStack, TEST_CACHE_OPTIONS, waitFor } from '../harness/stack.js';

const SIM = { nodes: 4, pods: 40, seed: 11 };
/** A silent or slow API is noticed within 300 + 1,000 ms; generous enough for a loaded machine. */
const PROBE = { intervalMs: 300, timeoutMs: 1_000 };
const WATCHER = { backoff: { initialMs: 50, maxMs: 500, multiplier: 2, jitter: 0.2 } };
const SETTLE_MS = 60_000;

let h: EmulatorHarness | undefined;
let stack: Stack | undefined;
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await stack?.stop();
  await h?.stop();
  stack = undefined;
  h = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Agent {
  client: SyncClient;
  /** Key count after each applied generation once in sync: must never fall (only creations here). */
  sizes: number[];
}

async function startAll() {
  h = await startEmulator({ bookmarkIntervalMs: 500 });
  h.emu.loadObjects(generateObjects(SIM));
  stack = await startStack();
  const statuses: SyncStatus[] = [];
  const ds = new KubernetesDatastore({
    kubeconfig: h.kc,
    convert: convertObject,
    log: silentLogger,
    watcher: WATCHER,
    probe: PROBE,
  });
  const router = stack.router;
  await ds.start({
    onUpdates: (kvs) => router.onUpdates(kvs),
    onStatus: (s) => {
      statuses.push(s);
      router.onStatus(s);
    },
  });
  stops.push(() => ds.stop());
  const felix = stack.caches.get('felix')!;
  await waitFor(() => felix.status === 'in-sync', SETTLE_MS, 'replica in sync');
  const agents: Agent[] = [];
  for (let i = 0; i < 3; i++) {
    const client = new SyncClient({
      addresses: [stack.address],
      syncer: 'felix',
      hostname: `agent-${i}`,
      backoff: { initialMs: 50, maxMs: 500, multiplier: 2, jitter: 0.2 },
    });
    const a: Agent = { client, sizes: [] };
    client.on('generation', () => {
      if (client.status === 'in-sync' || a.sizes.length > 0) a.sizes.push(client.state.size);
    });
    client.start();
    stops.push(() => client.stop());
    agents.push(a);
  }
  await waitFor(() => agents.every((a) => a.client.status === 'in-sync'), SETTLE_MS, 'agents in sync');
  return { emu: h.emu, felix, statuses, agents };
}

/** The felix state hash a fresh datastore builds from the API as it is now. */
async function freshHash(): Promise<string> {
  const caches = (['felix', 'bgp'] as const).map(
    (syncer) => new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer }),
  );
  const ds = new KubernetesDatastore({ kubeconfig: h!.kc, convert: convertObject, log: silentLogger });
  await ds.start(new SyncerRouter(caches));
  const felix = caches[0]!;
  try {
    await waitFor(() => felix.status === 'in-sync', SETTLE_MS, 'fresh datastore in sync');
    felix.flush();
    return felix.stateHash;
  } finally {
    await ds.stop();
    for (const c of caches) c.close();
  }
}

const ref = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'faults' } });

type Fault = (emu: ApiEmulator) => Promise<void>;

/** Each fault with whether the replica must report resync meanwhile (a resumable watch cut need not). */
const FAULTS: Array<[string, boolean, Fault]> = [
  ['a watch cut mid-stream', false, async (emu) => void emu.dropWatches()],
  [
    '410 Gone (history compacted under cut watches)',
    false,
    async (emu) => {
      emu.compact();
      emu.dropWatches();
    },
  ],
  ['the API unreachable for 3 s', true, async (emu) => emu.pause(3_000)],
  [
    '500s on every request for 3 s',
    true,
    async (emu) => {
      emu.faults.set({ failEvery: 1 });
      emu.dropWatches();
      await sleep(3_000);
      emu.faults.clear();
    },
  ],
  [
    'slow responses (2 s each) for 4 s',
    true,
    async (emu) => {
      emu.faults.set({ delayMs: 2_000 });
      await sleep(4_000);
      emu.faults.clear();
    },
  ],
  [
    'lists failing half way through their body',
    true,
    async (emu) => {
      // 410 on re-watch forces relists, and the first lists are cut.
      emu.faults.set({ cutLists: 4 });
      emu.compact();
      emu.dropWatches();
      await waitFor(() => emu.faults.counts.cutLists >= 4, SETTLE_MS, 'lists cut');
    },
  ],
  [
    'the API frozen for 3 s, then resumed',
    true,
    async (emu) => {
      emu.freeze();
      await sleep(3_000);
      emu.resume();
    },
  ],
  [
    'the API replaced: resourceVersions went backwards',
    true,
    async (emu) => {
      await emu.stop();
      // The same cluster restored from a backup that predates the test's writes.
      emu.replaceStore(generateObjects(SIM));
      await emu.start({ host: '127.0.0.1', port: emu.port });
    },
  ],
];

describe('API-side faults: agents keep their state, the replica resyncs, the final state is the API’s', () => {
  it.each(FAULTS)('%s', async (_name, mustResync, fault) => {
    const { emu, felix, statuses, agents } = await startAll();
    const before = statuses.length;
    await fault(emu);
    emu.create(pod('after-fault', 'faults'));
    emu.patch(ref('after-fault'), { metadata: { labels: { touched: 'yes' } } });

    const want = await freshHash();
    await waitFor(
      () =>
        felix.status === 'in-sync' &&
        felix.stateHash === want &&
        agents.every((a) => a.client.status === 'in-sync' && a.client.state.hashHex() === want),
      SETTLE_MS,
      'replica and agents at the API state',
    );
    const seen = statuses.slice(before);
    if (mustResync) expect(seen).toContain('resync');
    expect(seen.at(-1) ?? 'in-sync').toBe('in-sync');
    for (const a of agents) {
      // Only creations: a count that fell means an agent was handed a partial state.
      for (let i = 1; i < a.sizes.length; i++) expect(a.sizes[i]).toBeGreaterThanOrEqual(a.sizes[i - 1]!);
      expect(a.client.state.size).toBe(felix.keyCount);
    }
  });
});
