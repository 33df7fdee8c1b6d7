// `--datastore sim-api` (what `npm start` runs): a report goes through the Kubernetes
// datastore's Node patch into the in-process emulator, and the simulator's churn, which
// rewrites whole Node objects, keeps the reported annotation.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WIREGUARD_KEY_ANNOTATION } from '../../src/datastore/kubernetes/node-key-writer.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import type { KV, SyncStatus } from '../../src/model/types.js';
import { EmulatedSimDatastore } from '../../src/testing/sim-api.js';
import { waitFor } from '../harness/stack.js';

class Sink {
  readonly state = new Map<string, unknown>();
  status: SyncStatus | undefined;
  onUpdates(kvs: readonly KV[]) {
    for (const kv of kvs) kv.value === null ? this.state.delete(kv.key) : this.state.set(kv.key, kv.value);
  }
  onStatus(s: SyncStatus) {
    this.status = s;
  }
}

let ds: EmulatedSimDatastore | undefined;
afterEach(async () => {
  await ds?.stop();
  ds = undefined;
});

describe('sim-api datastore (npm start) under churn', () => {
  it('lists racing watch events are not taken for a replaced store', async () => {
    // Paged lists answer at their first page's revision while other types' watches deliver
    // newer events: before the fix every such list looked like an etcd restore, and npm start
    // relisted every type in a loop and never reached in-sync for long.
    ds = new EmulatedSimDatastore({ nodes: 20, pods: 800, churnPerSec: 400 }, 60, silentLogger);
    const sink = new Sink();
    await ds.start(sink);
    await waitFor(() => sink.status === 'in-sync', 20_000, 'in-sync');
    await new Promise((r) => setTimeout(r, 4_000));
    expect(ds.health().api?.replacements ?? 0).toBe(0);
    expect(sink.status).toBe('in-sync');
  });
});

describe('REPORT wireguard-public-key, sim-api datastore', () => {
  it('patches the emulated Node; churn of that Node keeps the key', async () => {
    ds = new EmulatedSimDatastore({ nodes: 4, pods: 8, churnPerSec: 400 }, 60, silentLogger);
    const sink = new Sink();
    const key = randomBytes(32).toString('base64');
    const signal = new AbortController().signal;
    // Reported before the datastore started: waits for it.
    const recorded = ds.recordWireguardPublicKey('placeholder', key, signal).catch((e: Error) => e);
    await ds.start(sink);
    expect(await recorded).toMatchObject({ code: 'TABBY_ERR_NODE_NOT_FOUND' });
    await waitFor(() => sink.status === 'in-sync', 10_000, 'in-sync');
    const nodes = ds.emulator.list('v1', 'Node').map((n) => n.metadata.name);
    for (const n of nodes) await ds.recordWireguardPublicKey(n, key, signal);
    for (const n of nodes)
      expect(
        ds.emulator.get({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } })?.metadata.annotations?.[
          WIREGUARD_KEY_ANNOTATION
        ],
      ).toBe(key);
    await waitFor(
      () =>
        nodes.every(
          (n) => (sink.state.get(Keys.wireguard(n)) as { publicKey?: string } | undefined)?.publicKey === key,
        ),
      10_000,
      'keys in the KVs',
    );
    // Let churn relabel nodes for a while (3 % of 400/s over 4 nodes).
    const rv = (n: string) =>
      ds!.emulator.get({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } })?.metadata.resourceVersion;
    const before = nodes.map(rv);
    await waitFor(() => nodes.every((n, i) => rv(n) !== before[i]), 20_000, 'every node churned');
    for (const n of nodes)
      expect((sink.state.get(Keys.wireguard(n)) as { publicKey?: string }).publicKey).toBe(key);
  });
});
