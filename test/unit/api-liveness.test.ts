// The pieces that tell a replaced or silent Kubernetes API, without a network: the revision
// rule, the shared probe, the relist that converts everything again, and how /readyz and the
// console summary report a silent API.
import { describe, expect, it, vi } from 'vitest';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { ObjectSink } from '../../src/datastore/kube/object-sink.js';
import { RESOURCE_TYPES } from '../../src/datastore/kube/resources.js';
import { ApiProbe, type ProbeResult } from '../../src/datastore/kubernetes/api-probe.js';
import type { ListPage } from '../../src/datastore/kubernetes/kube-api.js';
import { RevisionWatermark, revisionOf } from '../../src/datastore/kubernetes/revision.js';
import type { DatastoreHealth } from '../../src/datastore/source.js';
import { silentLogger } from '../../src/model/logger.js';
import type { KV } from '../../src/model/types.js';
import { readiness } from '../../src/observability/health.js';

describe('revision rule', () => {
  it('compares decimal resourceVersions only', () => {
    expect(revisionOf('12345')).toBe(12345n);
    expect(revisionOf('18446744073709551615')).toBe(18446744073709551615n);
    for (const opaque of ['', 'abc', '-1', '1e3', '0012', ' 5', undefined])
      expect(revisionOf(opaque)).toBeUndefined();
  });

  it('a consistent read below the highest revision served is behind; anything not a revision never is', () => {
    const w = new RevisionWatermark();
    expect(w.isBehind('1', w.value)).toBe(false); // nothing held yet
    w.note('100');
    w.note('40'); // another type's watch lagging behind: not a regression
    w.note('opaque');
    expect(w.value).toBe('100');
    expect(w.isBehind('100', w.value)).toBe(false);
    expect(w.isBehind('250', w.value)).toBe(false);
    expect(w.isBehind('99', w.value)).toBe(true);
    expect(w.isBehind('opaque', w.value)).toBe(false);
    w.reset('7'); // the new store's revisions from now on
    expect(w.isBehind('7', w.value)).toBe(false);
    expect(w.isBehind('6', w.value)).toBe(true);
  });

  it('a read is held to what was served before it was sent, not to what arrived while it was in flight', () => {
    const w = new RevisionWatermark();
    w.note('90');
    const floor = w.value; // a (paged) list goes out here...
    w.note('120'); // ...another type's watch delivers newer events meanwhile...
    expect(w.isBehind('95', floor)).toBe(false); // ...and the list answers at its snapshot: fine
    expect(w.isBehind('85', floor)).toBe(true); // below what was served before it: replaced
  });
});

const TARGET = { resource: RESOURCE_TYPES[0]!, fieldSelector: 'metadata.name=kube-system' };

/** An API whose limit=1 lists the test answers one by one. */
function fakeApi() {
  type Opts = { limit: number; timeoutMs?: number; fieldSelector?: string };
  const calls: Array<{ resolve: (p: ListPage) => void; reject: (e: Error) => void; opts: Opts }> = [];
  const api = {
    listPage: (_r: unknown, opts: Opts) =>
      new Promise<ListPage>((resolve, reject) => calls.push({ resolve, reject, opts })),
  };
  const page = (rv: string, uid?: string): ListPage => ({
    items: uid ? [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', uid } }] : [],
    resourceVersion: rv,
    continueToken: undefined,
  });
  return { api, calls, page };
}

describe('API probe', () => {
  it('callers that failed before a probe started share it; a later failure gets a new one', async () => {
    let now = 1_000;
    const { api, calls, page } = fakeApi();
    const seen: ProbeResult[] = [];
    const probe = new ApiProbe(
      api,
      TARGET,
      { intervalMs: 10_000, timeoutMs: 2_500 },
      (r) => seen.push(r),
      () => now,
    );
    probe.start();
    const a = probe.probe(900);
    const b = probe.probe(1_000);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.opts).toEqual({
      limit: 1,
      timeoutMs: 2_500,
      fieldSelector: 'metadata.name=kube-system',
    });
    now = 1_050;
    const c = probe.probe(1_040); // failed after the running probe started: it cannot vouch for that
    expect(calls).toHaveLength(2);
    calls[0]!.resolve(page('10', 'uid-1'));
    expect(await a).toEqual({ ok: true, resourceVersion: '10', identity: 'uid-1', startedAt: 1_000 });
    expect(await b).toBe(await a);
    calls[1]!.reject(new Error('list namespaces: did not answer within 2500 ms'));
    expect(await c).toMatchObject({ ok: false, error: 'list namespaces: did not answer within 2500 ms' });
    expect(seen.map((r) => r.ok)).toEqual([true, false]);
    // The last result started after 1_040: reused, no new request.
    expect(await probe.probe(1_040)).toBe(await c);
    expect(calls).toHaveLength(2);
    probe.stop();
  });

  it('the datastore hears a result before the callers awaiting it, and nothing after stop', async () => {
    const { api, calls, page } = fakeApi();
    const order: string[] = [];
    const probe = new ApiProbe(api, TARGET, { intervalMs: 10_000, timeoutMs: 1_000 }, () =>
      order.push('datastore'),
    );
    probe.start();
    const p = probe.probe(0).then(() => order.push('caller')); // shares the probe start() began
    calls[0]!.resolve(page('5'));
    await p;
    expect(order).toEqual(['datastore', 'caller']);
    probe.stop();
    const q = probe.probe(Number.MAX_SAFE_INTEGER);
    calls[1]!.resolve(page('6'));
    await q;
    expect(order).toEqual(['datastore', 'caller']);
  });

  it('probes at start, then every interval; after a failed probe within a second, so an API back is seen at once', async () => {
    vi.useFakeTimers();
    try {
      const { api, calls, page } = fakeApi();
      const probe = new ApiProbe(api, TARGET, { intervalMs: 10_000, timeoutMs: 1_000 }, () => {});
      probe.start();
      expect(calls).toHaveLength(1);
      calls[0]!.resolve(page('1', 'u'));
      await vi.advanceTimersByTimeAsync(9_999);
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toHaveLength(2);
      calls[1]!.reject(new Error('connect ECONNREFUSED'));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(calls).toHaveLength(3);
      calls[2]!.resolve(page('2', 'u'));
      await vi.advanceTimersByTimeAsync(9_999);
      expect(calls).toHaveLength(3);
      probe.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects a probe without a positive interval or timeout', () => {
    const { api } = fakeApi();
    expect(() => new ApiProbe(api, TARGET, { intervalMs: 0, timeoutMs: 1 }, () => {})).toThrow(RangeError);
    expect(() => new ApiProbe(api, TARGET, { intervalMs: 1, timeoutMs: Number.NaN }, () => {})).toThrow(
      RangeError,
    );
  });
});

describe('relist after a replaced store', () => {
  const pod = (rv: string, app: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', resourceVersion: rv, labels: { app } },
  });

  it('converts every object again: the new store may give another content the same resourceVersion', () => {
    const out: KV[] = [];
    const sink = new ObjectSink(
      { onUpdates: (kvs) => out.push(...kvs), onStatus: () => {} },
      (o) => [{ key: `/t/${o.metadata.name}`, value: { app: o.metadata.labels!['app']! } }],
      silentLogger,
    );
    const all = () => true;
    sink.replaceAll([pod('3', 'old')], all);
    out.length = 0;
    sink.replaceAll([pod('3', 'new')], all); // same store: same resourceVersion, same object
    expect(out).toEqual([]);
    sink.replaceAll([pod('3', 'new')], all, { reconvert: true });
    expect(out).toEqual([{ key: '/t/p', value: { app: 'new' } }]);
  });
});

describe('readiness and summary of a silent API', () => {
  const caches = [
    { syncer: 'felix', status: 'in-sync' as const },
    { syncer: 'bgp', status: 'in-sync' as const },
  ];
  const source = (api: DatastoreHealth['api']) => ({
    health: (): DatastoreHealth => ({ conversionErrors: new Map(), api }),
  });

  it('/readyz is unchanged while the API answers (and for datastores without an API)', () => {
    expect(readiness(caches)).toEqual({ ok: true, detail: { felix: 'in-sync', bgp: 'in-sync' } });
    expect(readiness(caches, source({ live: true, replacements: 0 }))).toEqual({
      ok: true,
      detail: { felix: 'in-sync', bgp: 'in-sync' },
    });
  });

  it('/readyz says the datastore is not live, why and since when', () => {
    const r = readiness(
      caches.map((c) => ({ ...c, status: 'resync' as const })),
      source({
        live: false,
        reason: 'the API did not answer its probe: list namespaces: did not answer within 10000 ms',
        notLiveSince: '2025-01-01T00:00:00.000Z',
        replacements: 0,
      }),
    );
    expect(r).toEqual({
      ok: false,
      detail: {
        felix: 'resync',
        bgp: 'resync',
        datastore: {
          live: false,
          reason: 'the API did not answer its probe: list namespaces: did not answer within 10000 ms',
          since: '2025-01-01T00:00:00.000Z',
        },
      },
    });
  });
});
