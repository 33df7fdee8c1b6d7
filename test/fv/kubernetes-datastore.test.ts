// The Kubernetes datastore against the API emulator, through @kubernetes/client-node: the
// watch semantics of the issue (initial sync, churn, dropped watches, 410 relist diff, API
// down) checked at the datastore's output. A test converter keeps this independent of the
// real conversion rules (they have their own tests).
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { objectId } from '../../src/datastore/kube/object.js';
import { apiVersionOf, RESOURCE_TYPES } from '../../src/datastore/kube/resources.js';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.js';
import type { DatastoreSink } from '../../src/datastore/source.js';
import { silentLogger } from '../../src/model/logger.js';
import type { KV, SyncStatus } from '../../src/model/types.js';
import { type EmulatorHarness, pod, startEmulator } from '../harness/emulator.js';
import { waitFor } from '../harness/stack.js';

class RecordingSink implements DatastoreSink {
  readonly state = new Map<string, unknown>();
  readonly batches: KV[][] = [];
  readonly statuses: SyncStatus[] = [];
  onUpdates(kvs: readonly KV[]): void {
    this.batches.push([...kvs]);
    for (const kv of kvs) {
      if (kv.value === null) this.state.delete(kv.key);
      else this.state.set(kv.key, kv.value);
    }
  }
  onStatus(s: SyncStatus): void {
    this.statuses.push(s);
  }
  get status(): SyncStatus | undefined {
    return this.statuses.at(-1);
  }
}

/** One key per object; pods also yield a second key while labelled `extra`, to exercise stale-key deletion. */
const testConvert = (obj: KubeObject): KV[] => {
  if (obj.metadata.labels?.['bad'] === 'true') throw new Error('bad label says reject me');
  const kvs: KV[] = [{ key: `/t/${objectId(obj)}`, value: { labels: obj.metadata.labels ?? {} } }];
  if (obj.metadata.labels?.['extra']) kvs.push({ key: `/t/${objectId(obj)}/extra`, value: 1 });
  return kvs;
};
const podKey = (name: string, ns = 'default') => `/t//Pod/${ns}/${name}`;

let h: EmulatorHarness | undefined;
let ds: KubernetesDatastore | undefined;
afterEach(async () => {
  await ds?.stop();
  ds = undefined;
  await h?.stop();
  h = undefined;
});

const ipPool = (name: string, cidr: string): KubeObject => ({
  apiVersion: 'crd.projectcalico.org/v1',
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr },
});

/** The liveness probe of the tests: a silent API is noticed within 200 + 500 ms (plus load). */
const TEST_PROBE = { intervalMs: 200, timeoutMs: 500 };
/**
 * For tests that count watches: a probe that times out restarts every watch on its answer, and
 * on a loaded machine a 500 ms probe can time out with the API perfectly live.
 */
const LAX_PROBE = { intervalMs: 200, timeoutMs: 30_000 };

async function start(
  podCount: number,
  seed: (emu: EmulatorHarness['emu']) => void = () => {},
  probe = TEST_PROBE,
) {
  h = await startEmulator({ bookmarkIntervalMs: 200 });
  for (let i = 0; i < podCount; i++) h.emu.create(pod(`p${i}`, `ns${i % 3}`, { app: `a${i % 5}` }));
  if (podCount > 0) h.emu.create(ipPool('default-pool', '10.244.0.0/16'));
  seed(h.emu);
  const sink = new RecordingSink();
  ds = new KubernetesDatastore({
    kubeconfig: h.kc,
    convert: testConvert,
    log: silentLogger,
    watcher: {
      pageSize: 100,
      minWatchTimeoutSeconds: 60,
      backoff: { initialMs: 50, maxMs: 400, multiplier: 2, jitter: 0.2 },
    },
    probe,
  });
  await ds.start(sink);
  await waitFor(() => sink.status === 'in-sync', 10_000, 'in-sync');
  return { emu: h.emu, sink };
}

/** What the datastore should hold for the emulator's current objects: every type, converted. */
function expectedState(emu: EmulatorHarness['emu']): Map<string, unknown> {
  const want = new Map<string, unknown>();
  for (const r of RESOURCE_TYPES)
    for (const obj of emu.list(apiVersionOf(r), r.kind))
      for (const kv of testConvert(obj)) want.set(kv.key, kv.value);
  return want;
}

const sorted = (m: Map<string, unknown>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('Kubernetes datastore over the emulator', () => {
  it('initial sync: one paged list and one watch per resource type, then in-sync', async () => {
    const { emu, sink } = await start(250, undefined, LAX_PROBE);
    expect(sink.statuses).toEqual(['wait-for-datastore', 'resync', 'in-sync']);
    expect(sink.state.size).toBe(251);
    expect(sink.state.get(podKey('p7', 'ns1'))).toEqual({ labels: { app: 'a2' } });
    const stats = emu.stats();
    expect(stats.byResource['pods']!.lists).toBe(3); // 250 pods in pages of 100
    await waitFor(() => emu.stats().total.watchesOpen === RESOURCE_TYPES.length, 5_000, 'one watch per type');
    expect(emu.stats().total.watchesStarted).toBe(RESOURCE_TYPES.length);
  });

  it('follows churn, deletes keys an object no longer produces, and survives objects that fail conversion', async () => {
    const { emu, sink } = await start(10);
    emu.create(pod('new', 'ns9', { app: 'x', extra: 'yes' }));
    emu.patch(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'ns1' } },
      { metadata: { labels: { app: 'changed' } } },
    );
    emu.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p2', namespace: 'ns2' } });
    await waitFor(
      () => sink.state.has(`${podKey('new', 'ns9')}/extra`) && !sink.state.has(podKey('p2', 'ns2')),
      5_000,
      'churn',
    );
    expect(sink.state.get(podKey('p1', 'ns1'))).toEqual({ labels: { app: 'changed' } });

    emu.patch(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'new', namespace: 'ns9' } },
      { metadata: { labels: { extra: null } } },
    );
    await waitFor(() => !sink.state.has(`${podKey('new', 'ns9')}/extra`), 5_000, 'stale key deleted');
    expect(sink.state.has(podKey('new', 'ns9'))).toBe(true);

    emu.patch(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p3', namespace: 'ns0' } },
      { metadata: { labels: { bad: 'true' } } },
    );
    emu.create(pod('after-bad', 'ns0'));
    await waitFor(
      () => sink.state.has(podKey('after-bad', 'ns0')),
      5_000,
      'sync continues after a bad object',
    );
    expect(sink.state.has(podKey('p3', 'ns0'))).toBe(false); // its old key is gone, as Calico's validation filter does
    expect(ds!.health().conversionErrors.get('Pod')).toBe(1);
  });

  it('a dropped watch resumes from its resourceVersion: nothing missed, no relist', async () => {
    const { emu, sink } = await start(20);
    const podLists = () => emu.stats().byResource['pods']!.lists;
    const podListsBefore = podLists();
    await waitFor(() => emu.stats().total.watchesOpen === RESOURCE_TYPES.length, 5_000, 'watches open');
    expect(emu.dropWatches()).toBe(RESOURCE_TYPES.length);
    emu.create(pod('during-gap', 'ns1'));
    await waitFor(() => sink.state.has(podKey('during-gap', 'ns1')), 5_000, 'event from the gap');
    await waitFor(() => sink.status === 'in-sync', 5_000, 'in-sync again');
    // The API answered the probe with a revision at or beyond ours: the same store, so no type relists.
    expect(podLists()).toBe(podListsBefore);
    for (const r of ds!.health().resources ?? []) expect(r.stats['lists'], r.resource).toBe(1);
    expect(emu.stats().total.watchesStarted).toBe(2 * RESOURCE_TYPES.length);
  });

  it('410 Gone: relist, and the diff emits only the keys that changed', async () => {
    const { emu, sink } = await start(300);
    const batchesBefore = sink.batches.length;
    emu.patch(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p10', namespace: 'ns1' } },
      { metadata: { labels: { app: 'moved' } } },
    );
    emu.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p11', namespace: 'ns2' } });
    // Drop the watches before they deliver, and forget the history: re-watching gets 410.
    emu.compact();
    emu.dropWatches();
    await waitFor(
      () => (ds!.health().resources ?? []).some((r) => (r.stats['relistsAfterExpiry'] ?? 0) > 0),
      5_000,
      'relist',
    );
    await waitFor(() => !sink.state.has(podKey('p11', 'ns2')), 5_000, 'relist applied');
    const after = sink.batches.slice(batchesBefore).flat();
    // Events may have arrived before the drop; either way only the two changed objects show up.
    expect(new Set(after.map((kv) => kv.key))).toEqual(new Set([podKey('p10', 'ns1'), podKey('p11', 'ns2')]));
    expect(sink.state.get(podKey('p10', 'ns1'))).toEqual({ labels: { app: 'moved' } });
    expect(sink.state.size).toBe(300);
  });

  it('API down: the last state is kept, status says resync, and it returns to in-sync', async () => {
    const { emu, sink } = await start(30);
    await emu.stop();
    await waitFor(() => sink.status === 'resync', 5_000, 'resync while down');
    expect(sink.state.size).toBe(31); // nothing deleted while the API is unreachable
    emu.create(pod('while-down', 'ns1'));
    await new Promise((r) => setTimeout(r, 300));
    await emu.start({ host: '127.0.0.1', port: emu.port });
    await waitFor(
      () => sink.status === 'in-sync' && sink.state.has(podKey('while-down', 'ns1')),
      10_000,
      'back',
    );
    expect(sink.state.size).toBe(32);
    const failures = (ds!.health().resources ?? []).reduce((n, r) => n + (r.stats['failures'] ?? 0), 0);
    expect(failures).toBeGreaterThan(0);
  });

  it('bookmarks advance the resourceVersion, so a re-watch after compaction needs no relist', async () => {
    const { emu, sink } = await start(5);
    // Writes to one type advance the global resourceVersion; the other types only see it via bookmarks.
    for (let i = 0; i < 20; i++) emu.create(pod(`more-${i}`, 'ns5'));
    const head = Number(emu.resourceVersion);
    const states = () => ds!.health().resources ?? [];
    await waitFor(
      () => states().every((r) => (r.stats['bookmarks'] ?? 0) > 0),
      5_000,
      'a bookmark on every watch',
    );
    await waitFor(() => emu.stats().total.watchesOpen === RESOURCE_TYPES.length, 5_000, 'watches open');
    emu.compact();
    emu.dropWatches();
    emu.create(pod('after-compact', 'ns1'));
    await waitFor(() => sink.state.has(podKey('after-compact', 'ns1')), 5_000, 'event after re-watch');
    expect(Number(emu.resourceVersion)).toBeGreaterThan(head);
    for (const r of states()) expect(r.stats['relistsAfterExpiry'], r.resource).toBe(0);
  });

  // Issue 9 item 3: an API whose store was replaced (an etcd restore: resourceVersions go back)
  // must be noticed and relisted, so the datastore holds exactly the new API's objects.
  it.each([
    // The watches end cleanly and re-watch from versions the new store has not reached, where
    // they wait silently: only the periodic probe can tell.
    ['replaced under running watches', false, TEST_PROBE],
    // Connections cut, then back: the probe before resuming tells (the periodic one is off for a minute).
    ['restarted with a replaced store', true, { intervalMs: 60_000, timeoutMs: 500 }],
  ])(
    'replaced API, %s: relisted, diffed, exactly the new state, through resync',
    async (_what, restart, probe) => {
      const { emu, sink } = await start(
        0,
        (e) => {
          e.create(pod('keep', 'ns1', { app: 'same' })); // rv 2
          e.create(pod('changed', 'ns1', { app: 'old' })); // rv 3
          e.create(pod('gone', 'ns1')); // rv 4
          e.create(ipPool('default-pool', '10.244.0.0/16')); // rv 5
          e.create(pod('churn', 'ns2')); // rv 6
        },
        probe,
      );
      for (let i = 0; i < 30; i++)
        emu.patch(
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'churn', namespace: 'ns2' } },
          { metadata: { labels: { n: String(i) } } },
        );
      await waitFor(
        () =>
          (sink.state.get(podKey('churn', 'ns2')) as { labels: { n?: string } } | undefined)?.labels.n ===
          '29',
        5_000,
        'churn applied',
      );
      const statusesBefore = sink.statuses.length;

      // The new store: `changed` comes back at the very resourceVersion it had, with other labels.
      const newObjects = [
        pod('keep', 'ns1', { app: 'same' }), // rv 2
        pod('changed', 'ns1', { app: 'new' }), // rv 3
        pod('fresh', 'ns1'), // rv 4
        ipPool('default-pool', '10.244.0.0/16'), // rv 5
      ];
      if (restart) {
        await emu.stop();
        emu.replaceStore(newObjects);
        await emu.start({ host: '127.0.0.1', port: emu.port });
      } else {
        emu.replaceStore(newObjects);
      }
      expect(emu.get(pod('changed', 'ns1'))!.metadata.resourceVersion).toBe('3');

      const want = expectedState(emu);
      await waitFor(
        () => sink.status === 'in-sync' && sorted(sink.state).join() === sorted(want).join(),
        10_000,
        'the new API state',
      );
      expect(sorted(sink.state)).toEqual(sorted(want));
      expect(sink.state.get(podKey('changed', 'ns1'))).toEqual({ labels: { app: 'new' } });
      expect(sink.state.has(podKey('gone', 'ns1'))).toBe(false);
      expect(sink.state.has(podKey('churn', 'ns2'))).toBe(false);
      expect(sink.statuses.slice(statusesBefore)).toContain('resync');
      expect(sink.status).toBe('in-sync');
      expect(ds!.health().api?.replacements).toBe(1);

      // And the watches now follow the new store.
      emu.create(pod('after', 'ns1'));
      await waitFor(() => sink.state.has(podKey('after', 'ns1')), 5_000, 'an event of the new store');
    },
  );

  it('replaced by another store whose revisions caught up with ours: told by the uid of kube-system', async () => {
    const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    const { emu, sink } = await start(0, (e) => {
      e.create(ns('kube-system'));
      for (let i = 0; i < 5; i++) e.create(pod(`old-${i}`, 'ns1'));
    });
    await waitFor(() => sink.state.size === 6, 5_000, 'the old state');
    await waitFor(() => ds!.health().api?.lastAnswerAt !== undefined, 5_000, 'a probe has seen kube-system');
    const held = Number(emu.resourceVersion);
    // Another cluster at the same address, with more writes behind it than ours.
    emu.replaceStore([ns('kube-system'), ...Array.from({ length: 10 }, (_, i) => pod(`new-${i}`, 'ns1'))]);
    expect(Number(emu.resourceVersion)).toBeGreaterThan(held);
    const want = expectedState(emu);
    await waitFor(
      () => sink.status === 'in-sync' && sorted(sink.state).join() === sorted(want).join(),
      10_000,
      'the new API state',
    );
    expect(ds!.health().api?.replacements).toBe(1);
  });

  it('silent API (frozen, connections open): noticed within the probe bound, reported, the last state kept, recovers', async () => {
    const { emu, sink } = await start(30);
    const size = sink.state.size;
    expect(ds!.health().api).toMatchObject({ live: true });
    emu.freeze();
    emu.create(pod('while-frozen', 'ns1'));
    // The bound is intervalMs + timeoutMs = 700 ms; the wait allows for a loaded machine.
    await waitFor(() => sink.status === 'resync', 10_000, 'resync while frozen');
    expect(ds!.health().api).toMatchObject({ live: false });
    expect(ds!.health().api?.reason).toMatch(/did not answer within 500 ms/);
    expect(sink.state.size).toBe(size); // the last state keeps being served

    emu.resume();
    await waitFor(
      () => sink.status === 'in-sync' && sink.state.has(podKey('while-frozen', 'ns1')),
      10_000,
      'in-sync again',
    );
    expect(ds!.health().api).toMatchObject({ live: true });
    expect(sink.statuses.slice(-2)).toEqual(['resync', 'in-sync']);
  });
});
