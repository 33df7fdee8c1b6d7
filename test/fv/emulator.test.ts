// The API emulator driven through @kubernetes/client-node 1.4 as Tabby's datastore drives a
// real cluster: KubeConfig from the written file, KubernetesObjectApi (discovery + CRUD),
// CoreV1Api paging, and Watch — including what client-node surfaces on 410 and dropped streams.

import {
  CoreV1Api,
  KubernetesObjectApi,
  makeInformer,
  PatchStrategy,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import {
  type EmulatorHarness,
  k8s,
  pod,
  recordWatch,
  rejection,
  startEmulator,
  statusOf,
} from '../harness/emulator.js';
import { waitFor } from '../harness/stack.js';

let h: EmulatorHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function setup(opts: Parameters<typeof startEmulator>[0] = {}) {
  h = await startEmulator(opts);
  return h;
}

const ippool = (name: string): KubeObject => ({
  apiVersion: 'crd.projectcalico.org/v1',
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr: '10.244.0.0/16', ipipMode: 'Always', natOutgoing: true },
});

describe('KubernetesObjectApi against the emulator', () => {
  it('creates, reads, merge-patches and deletes a Pod', async () => {
    const { kc, emu } = await setup();
    const api = KubernetesObjectApi.makeApiClient(kc);
    const created = await api.create(k8s(pod('web-1', 'default', { app: 'web' })));
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.resourceVersion).toBe(emu.resourceVersion);
    expect((created.metadata as { generation?: number }).generation).toBe(1);

    const read = await api.read({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-1', namespace: 'default' },
    });
    expect(read.metadata?.labels).toEqual({ app: 'web' });

    const patched = (await api.patch(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web-1', namespace: 'default', labels: { tier: 'fe' } },
      },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    )) as KubeObject;
    expect(patched.metadata?.labels).toEqual({ app: 'web', tier: 'fe' });
    expect(Number(patched.metadata?.resourceVersion)).toBeGreaterThan(
      Number(created.metadata?.resourceVersion),
    );
    // Only metadata changed: generation stays.
    expect(patched.metadata.generation).toBe(1);

    await api.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'default' } });
    const err = await rejection(
      api.read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'default' } }),
    );
    expect(statusOf(err)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "web-1" not found',
      reason: 'NotFound',
      details: { name: 'web-1', kind: 'pods' },
      code: 404,
    });
  });

  it('creates, reads, merge-patches and deletes a Calico IPPool in the CRD group', async () => {
    const { kc, emu } = await setup();
    const api = KubernetesObjectApi.makeApiClient(kc);
    await api.create(k8s(ippool('default-ipv4-ippool')));
    const ref = {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPPool',
      metadata: { name: 'default-ipv4-ippool' },
    };
    const read = (await api.read(ref)) as KubeObject;
    // Unknown CRD fields survive the round trip.
    expect(read.spec).toEqual({ cidr: '10.244.0.0/16', ipipMode: 'Always', natOutgoing: true });

    const merged = (await api.patch(
      { ...ref, spec: { ipipMode: 'Never', vxlanMode: 'Always' } },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    )) as KubeObject;
    expect(merged.spec).toEqual({
      cidr: '10.244.0.0/16',
      ipipMode: 'Never',
      natOutgoing: true,
      vxlanMode: 'Always',
    });
    expect(merged.metadata.generation).toBe(2);

    // (A JSON patch cannot go through KubernetesObjectApi.patch, which builds the URL from the
    // body; emulator-semantics.test.ts sends one over HTTP.)
    await api.delete(ref);
    expect(emu.get(ref)).toBeUndefined();
    const err = statusOf(await rejection(api.read(ref)));
    expect(err.details).toEqual({
      name: 'default-ipv4-ippool',
      group: 'crd.projectcalico.org',
      kind: 'ippools',
    });
    expect(err.message).toBe('ippools.crd.projectcalico.org "default-ipv4-ippool" not found');
  });

  it('answers a duplicate create with 409 AlreadyExists and a stale replace with 409 Conflict', async () => {
    const { kc } = await setup();
    const api = KubernetesObjectApi.makeApiClient(kc);
    const first = await api.create(k8s(pod('a')));
    expect(statusOf(await rejection(api.create(k8s(pod('a')))))).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "a" already exists',
      reason: 'AlreadyExists',
      details: { name: 'a', kind: 'pods' },
      code: 409,
    });
    await api.replace({ ...first, metadata: { ...first.metadata, labels: { v: '2' } } });
    const stale = statusOf(
      await rejection(api.replace({ ...first, metadata: { ...first.metadata, labels: { v: '3' } } })),
    );
    expect(stale).toMatchObject({
      reason: 'Conflict',
      code: 409,
      message:
        'Operation cannot be fulfilled on pods "a": the object has been modified; please apply your changes to the latest version and try again',
    });
    const invalid = statusOf(
      await rejection(api.create({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default' } })),
    );
    expect(invalid).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message: 'Pod "" is invalid: metadata.name: Required value: name or generateName is required',
      details: { kind: 'Pod', causes: [{ reason: 'FieldValueRequired', field: 'metadata.name' }] },
    });
  });
});

describe('paged lists through CoreV1Api', () => {
  it('returns 250 pods exactly once at one resourceVersion while pods are created between pages', async () => {
    const { kc, emu } = await setup();
    for (let i = 0; i < 250; i++) emu.create(pod(`p-${String(i).padStart(3, '0')}`, `ns-${i % 7}`));
    const core = kc.makeApiClient(CoreV1Api);
    const seen: string[] = [];
    const rvs = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await core.listPodForAllNamespaces({ limit: 40, _continue: token });
      pages++;
      for (const p of page.items) seen.push(`${p.metadata?.namespace}/${p.metadata?.name}`);
      rvs.add(page.metadata?.resourceVersion ?? '');
      token = page.metadata?._continue || undefined;
      if (token) expect(page.metadata?.remainingItemCount).toBe(250 - seen.length);
      // Churn between pages: new pods sort everywhere in the key space, one is deleted.
      emu.create(pod(`new-${pages}`, `ns-${pages % 7}`));
      emu.create(pod(`aaa-${pages}`, 'ns-0'));
      if (pages === 2) emu.delete(pod('p-249', 'ns-4'));
    } while (token);
    expect(pages).toBe(7);
    expect(rvs.size).toBe(1);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(seen).toContain('ns-4/p-249'); // deleted after the snapshot: still in it
    const now = await core.listPodForAllNamespaces();
    expect(now.items).toHaveLength(250 + 2 * 7 - 1);
    expect(Number(now.metadata?.resourceVersion)).toBeGreaterThan(Number([...rvs][0]));
  });

  it('answers an expired continue token with 410 Expired and an inconsistent-continue token', async () => {
    const { kc, emu } = await setup();
    for (let i = 0; i < 30; i++) emu.create(pod(`p-${String(i).padStart(2, '0')}`));
    const core = kc.makeApiClient(CoreV1Api);
    const first = await core.listNamespacedPod({ namespace: 'default', limit: 10 });
    emu.create(pod('p-99'));
    emu.compact();
    const status = statusOf(
      await rejection(
        core.listNamespacedPod({ namespace: 'default', limit: 10, _continue: first.metadata?._continue }),
      ),
    );
    expect(status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
    expect(status.message).toMatch(
      /^The provided continue parameter is too old to display a consistent list result/,
    );
    // The token in the Status continues at the latest state (inconsistently: p-99 shows up).
    const rest = await core.listNamespacedPod({
      namespace: 'default',
      limit: 100,
      _continue: status.metadata.continue,
    });
    expect(rest.items.map((p) => p.metadata?.name)).toEqual([
      ...Array.from({ length: 20 }, (_, i) => `p-${String(i + 10).padStart(2, '0')}`),
      'p-99',
    ]);
  });
});

describe('Watch against the emulator', () => {
  it('from a resourceVersion delivers exactly the later events, in order, then live ones', async () => {
    const { kc, emu } = await setup();
    emu.create(pod('before'));
    const from = emu.resourceVersion;
    emu.create(pod('a'));
    emu.patch(pod('a'), { metadata: { labels: { x: '1' } } });
    emu.delete(pod('before'));
    const w = await recordWatch(kc, '/api/v1/namespaces/default/pods', { resourceVersion: from });
    await waitFor(() => w.events.length === 3, 5_000, 'replayed events');
    emu.create(pod('b'));
    await waitFor(() => w.events.length === 4, 5_000, 'live event');
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED a',
      'MODIFIED a',
      'DELETED before',
      'ADDED b',
    ]);
    const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((x, y) => x - y));
    expect(rvs[0]).toBe(Number(from) + 1);
    expect(w.events[0]!.object).toMatchObject({ apiVersion: 'v1', kind: 'Pod' });
    w.abort();
    // Aborting our own watch: client-node calls done with node-fetch's AbortError.
    expect(((await w.done) as Error).name).toBe('AbortError');
  });

  it('without a resourceVersion starts with the current state as ADDED events', async () => {
    const { kc, emu } = await setup();
    emu.create(pod('x'));
    emu.create(pod('y', 'other'));
    const w = await recordWatch(kc, '/api/v1/pods', {});
    await waitFor(() => w.events.length === 2, 5_000, 'initial events');
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`)).toEqual(
      ['ADDED default/x', 'ADDED other/y'],
    );
    w.abort();
  });

  it('sends bookmarks with allowWatchBookmarks: the same kind with only metadata.resourceVersion', async () => {
    const { kc, emu } = await setup({ bookmarkIntervalMs: 100 });
    const w = await recordWatch(kc, '/apis/crd.projectcalico.org/v1/ippools', {
      resourceVersion: emu.resourceVersion,
      allowWatchBookmarks: true,
    });
    await waitFor(() => w.events.length >= 2, 5_000, 'bookmarks');
    expect(w.events[0]).toEqual({
      type: 'BOOKMARK',
      object: {
        kind: 'IPPool',
        apiVersion: 'crd.projectcalico.org/v1',
        metadata: { resourceVersion: emu.resourceVersion },
      },
    });
    // Writes to another type move the global resourceVersion; bookmarks follow it.
    emu.create(pod('elsewhere'));
    const rv = emu.resourceVersion;
    await waitFor(
      () => w.events.some((e) => e.object.metadata.resourceVersion === rv),
      5_000,
      'newer bookmark',
    );
    expect(w.events.every((e) => e.type === 'BOOKMARK')).toBe(true);
    w.abort();
  });

  it('ends the watch after timeoutSeconds: done(null)', async () => {
    const { kc, emu } = await setup();
    const t0 = Date.now();
    const w = await recordWatch(kc, '/api/v1/nodes', {
      resourceVersion: emu.resourceVersion,
      timeoutSeconds: 1,
    });
    expect(await w.done).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(emu.stats().byResource['nodes']?.watchesOpen).toBe(0);
  });

  it('from a compacted resourceVersion: one ERROR event with a 410 Expired Status, then done(null)', async () => {
    const { kc, emu } = await setup();
    emu.create(pod('a'));
    const old = emu.resourceVersion;
    emu.create(pod('b'));
    emu.compact();
    const w = await recordWatch(kc, '/api/v1/pods', { resourceVersion: old, allowWatchBookmarks: true });
    expect(await w.done).toBeNull();
    expect(w.events).toEqual([
      {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${old} (${emu.resourceVersion})`,
          reason: 'Expired',
          code: 410,
        },
      },
    ]);
  });

  it('dropWatches() cuts the stream: done gets an Error (ERR_STREAM_PREMATURE_CLOSE)', async () => {
    const { kc, emu } = await setup();
    const w = await recordWatch(kc, '/api/v1/pods', { resourceVersion: emu.resourceVersion });
    await waitFor(() => emu.stats().total.watchesOpen === 1, 5_000, 'watch open');
    expect(emu.dropWatches()).toBe(1);
    const err = (await w.done) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('Premature close');
    expect(err.code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect(emu.stats().total).toMatchObject({ watchesDropped: 1, watchesOpen: 0 });
  });

  it('stop() then start() on the same port: watches are cut, requests are refused, then served again', async () => {
    const { kc, emu } = await setup();
    emu.create(pod('kept'));
    const port = emu.port;
    const w = await recordWatch(kc, '/api/v1/pods', { resourceVersion: emu.resourceVersion });
    await emu.stop();
    expect(((await w.done) as Error).message).toBe('Premature close');
    const core = kc.makeApiClient(CoreV1Api);
    const down = (await rejection(core.listNamespacedPod({ namespace: 'default' }))) as Error;
    expect(down.message).toMatch(/ECONNREFUSED/);
    const refused = await recordWatch(kc, '/api/v1/pods', {});
    expect(((await refused.done) as { code?: string }).code).toBe('ECONNREFUSED');
    await emu.start();
    expect(emu.port).toBe(port);
    const list = await core.listNamespacedPod({ namespace: 'default' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['kept']);
    // A graceful stop ends watches cleanly instead.
    const clean = await recordWatch(kc, '/api/v1/pods', { resourceVersion: emu.resourceVersion });
    await waitFor(() => emu.stats().total.watchesOpen === 1, 5_000, 'watch open');
    await emu.stop({ graceful: true });
    expect(await clean.done).toBeNull();
  });
});

describe('client-node ListWatch (makeInformer) against the emulator', () => {
  it('re-watches after the server ends a watch, relists after a 410, stops with an error on a dropped stream', async () => {
    // ListWatch passes no timeoutSeconds: the emulator's min-request-timeout ends its watches.
    const { kc, emu } = await setup({ minRequestTimeoutMs: 300 });
    emu.create(pod('a'));
    const core = kc.makeApiClient(CoreV1Api);
    let lists = 0;
    const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () => {
      lists++;
      return core.listNamespacedPod({ namespace: 'default' });
    });
    const adds: string[] = [];
    const deletes: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (p: V1Pod) => adds.push(p.metadata?.name ?? ''));
    informer.on('delete', (p: V1Pod) => deletes.push(p.metadata?.name ?? ''));
    informer.on('error', (err: unknown) => errors.push(err));
    await informer.start();
    await waitFor(() => adds.includes('a'), 5_000, 'initial add');
    emu.create(pod('b'));
    await waitFor(() => adds.includes('b'), 5_000, 'live add');
    // Let a watch end by timeout (the informer resumes from its resourceVersion, no relist).
    await waitFor(() => (emu.stats().byResource['pods']?.watchesStarted ?? 0) >= 2, 5_000, 're-watch');
    expect(lists).toBe(1);
    // History gone while the informer sits at an old resourceVersion (it asks for no bookmarks,
    // and a write in another namespace moves only the global RV): its next watch gets the
    // ERROR 410 event, and it relists.
    emu.create(pod('c', 'elsewhere'));
    emu.compact();
    await waitFor(() => lists === 2, 5_000, 'relist after 410');
    emu.delete(pod('a'));
    await waitFor(() => deletes.includes('a'), 5_000, 'delete seen');
    expect(informer.list('default').map((p) => p.metadata?.name)).toEqual(['b']);
    // A cut connection is reported as an error, and the informer does not restart itself.
    await waitFor(() => emu.stats().total.watchesOpen === 1, 5_000, 'watch open');
    emu.dropWatches();
    await waitFor(() => errors.length === 1, 5_000, 'error callback');
    expect((errors[0] as Error).message).toBe('Premature close');
    await new Promise((r) => setTimeout(r, 500));
    expect(emu.stats().total.watchesOpen).toBe(0);
    await informer.stop();
  });
});

describe('counters', () => {
  it('reflect lists, watches, events and requests by verb and code', async () => {
    const { kc, emu } = await setup();
    const api = KubernetesObjectApi.makeApiClient(kc);
    const core = kc.makeApiClient(CoreV1Api);
    await api.create(k8s(pod('a')));
    await rejection(api.create(k8s(pod('a'))));
    await core.listPodForAllNamespaces({ limit: 1 });
    await core.listPodForAllNamespaces();
    const w = await recordWatch(kc, '/api/v1/pods', {});
    await waitFor(() => w.events.length === 1, 5_000, 'initial event');
    await api.create(k8s(pod('b')));
    await waitFor(() => w.events.length === 2, 5_000, 'live event');
    const s = emu.stats();
    expect(s.byResource['pods']).toMatchObject({
      lists: 2,
      listItems: 2,
      writes: 2,
      watchesStarted: 1,
      watchesOpen: 1,
      eventsSent: 2,
    });
    expect(s.requests['create']).toEqual({ '201': 2, '409': 1 });
    expect(s.requests['list']).toEqual({ '200': 2 });
    expect(s.requests['watch']).toEqual({ '200': 1 });
    expect(s.requests['discovery']?.['200']).toBeGreaterThanOrEqual(1);
    expect(s.byResource['pods']!.bytesServed).toBeGreaterThan(0);
    expect(s.total.bytesServed).toBeGreaterThan(s.byResource['pods']!.bytesServed);
    expect(s.objects).toBe(2);
    w.abort();
    await waitFor(() => emu.stats().total.watchesOpen === 0, 5_000, 'watch closed');
  });
});
