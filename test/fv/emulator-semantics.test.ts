// The emulator's Kubernetes API semantics over plain HTTP: discovery, error Status shapes,
// list resourceVersion semantics, selectors, watch conversions, sendInitialEvents, patches,
// history windows, slow watchers, the /emulator/ hooks and the bearer token.

import { connect } from 'node:net';
import { type ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { ApiEmulator } from '../../src/testing/emulator/emulator.js';
import { kubeconfigYaml } from '../../src/testing/emulator/kubeconfig.js';
import type { EmulatorOptions } from '../../src/testing/emulator/options.js';
import { pod, recordWatch, rejection, startEmulator } from '../harness/emulator.js';
import { waitFor } from '../harness/stack.js';

const emus: ApiEmulator[] = [];
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
  for (const e of emus.splice(0)) await e.stop();
});

async function emulator(opts: Partial<EmulatorOptions> = {}): Promise<ApiEmulator> {
  const e = new ApiEmulator(opts);
  await e.start({ host: '127.0.0.1', port: 0 });
  emus.push(e);
  return e;
}

interface Reply {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON
  json: any;
}

async function call(
  e: ApiEmulator,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Reply> {
  const res = await fetch(e.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** Reads a watch stream for `ms` (or until `count` lines) and returns its events. */
async function watchLines(e: ApiEmulator, path: string, ms: number, count = Infinity) {
  const controller = new AbortController();
  const res = await fetch(e.url + path, { signal: controller.signal });
  const events: Array<{ type: string; object: KubeObject }> = [];
  const timer = setTimeout(() => controller.abort(), ms);
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += Buffer.from(chunk).toString('utf8');
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        events.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
      if (events.length >= count) break;
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { status: res.status, events, ended: !controller.signal.aborted || events.length >= count };
}

const names = (r: Reply) => (r.json.items as KubeObject[]).map((o) => o.metadata.name);

describe('discovery and errors', () => {
  it('serves the discovery documents client-node and kubectl read', async () => {
    const e = await emulator();
    const core = await call(e, 'GET', '/api/v1');
    expect(core.json.kind).toBe('APIResourceList');
    expect(core.json.resources).toContainEqual({
      name: 'pods',
      singularName: 'pod',
      namespaced: true,
      kind: 'Pod',
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: ['po'],
    });
    expect(core.json.resources.map((r: { name: string }) => r.name)).toContain('pods/status');
    expect((await call(e, 'GET', '/api')).json).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = (await call(e, 'GET', '/apis')).json;
    expect(groups.groups.map((g: { name: string }) => g.name).sort()).toEqual([
      'crd.projectcalico.org',
      'discovery.k8s.io',
      'networking.k8s.io',
    ]);
    expect((await call(e, 'GET', '/apis/networking.k8s.io')).json).toMatchObject({
      kind: 'APIGroup',
      name: 'networking.k8s.io',
      preferredVersion: { groupVersion: 'networking.k8s.io/v1', version: 'v1' },
    });
    const calico = (await call(e, 'GET', '/apis/crd.projectcalico.org/v1')).json;
    expect(calico.resources).toContainEqual(
      expect.objectContaining({ name: 'ippools', kind: 'IPPool', namespaced: false }),
    );
    expect((await call(e, 'GET', '/version')).json.major).toBe('1');
    expect((await call(e, 'GET', '/healthz')).text).toBe('ok');
    expect((await call(e, 'GET', '/apis/apps/v1')).status).toBe(404);
  });

  it('answers with metav1.Status bodies and the right codes', async () => {
    const e = await emulator();
    e.create(pod('a'));
    expect((await call(e, 'GET', '/api/v1/configmaps')).json).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'the server could not find the requested resource',
      reason: 'NotFound',
      details: {},
      code: 404,
    });
    // A namespaced type has no create at cluster scope; no deletecollection here.
    const post = await call(e, 'POST', '/api/v1/pods', pod('b'));
    expect(post.json).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'MethodNotAllowed',
      code: 405,
    });
    expect(post.status).toBe(405);
    expect((await call(e, 'DELETE', '/api/v1/namespaces/default/pods')).status).toBe(405);
    expect((await call(e, 'GET', '/api/v1/pods/a')).status).toBe(404); // namespaced item needs its namespace
    const badType = await call(e, 'PATCH', '/api/v1/namespaces/default/pods/a', { a: 1 }, 'text/plain');
    expect(badType.json).toMatchObject({ reason: 'UnsupportedMediaType', code: 415 });
    expect((await call(e, 'GET', '/api/v1/pods?labelSelector=a%20b')).json).toMatchObject({
      reason: 'BadRequest',
      code: 400,
    });
    expect((await call(e, 'GET', '/api/v1/pods?fieldSelector=spec.nope%3Dx')).json).toMatchObject({
      reason: 'BadRequest',
      message: 'field label not supported: spec.nope',
    });
    expect((await call(e, 'GET', '/api/v1/pods?resourceVersionMatch=Exact')).json).toMatchObject({
      reason: 'Invalid',
      code: 422,
      message:
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
    });
    expect((await call(e, 'GET', '/api/v1/pods?continue=bogus')).json).toMatchObject({ code: 400 });
    const mismatch = await call(e, 'POST', '/api/v1/namespaces/other/pods', pod('c', 'default'));
    expect((await call(e, 'POST', '/api/v1/namespaces/default/pods?dryRun=All', pod('d'))).status).toBe(400);
    expect(mismatch.json.message).toBe(
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  });
});

describe('list semantics', () => {
  it('reads latest, not-older-than, exact (also legacy limit+rv), 504 for the future, 410 when compacted', async () => {
    const e = await emulator({ tooLargeRvWaitMs: 50 });
    e.create(pod('a'));
    const rvA = e.resourceVersion;
    e.create(pod('b'));
    const latest = await call(e, 'GET', '/api/v1/namespaces/default/pods');
    expect(names(latest)).toEqual(['a', 'b']);
    expect(latest.json.metadata.resourceVersion).toBe(e.resourceVersion);
    const notOlder = await call(
      e,
      'GET',
      `/api/v1/pods?resourceVersion=${rvA}&resourceVersionMatch=NotOlderThan`,
    );
    expect(names(notOlder)).toEqual(['a', 'b']);
    const exact = await call(e, 'GET', `/api/v1/pods?resourceVersion=${rvA}&resourceVersionMatch=Exact`);
    expect(names(exact)).toEqual(['a']);
    expect(exact.json.metadata.resourceVersion).toBe(rvA);
    expect(names(await call(e, 'GET', `/api/v1/pods?resourceVersion=${rvA}&limit=10`))).toEqual(['a']);
    expect(names(await call(e, 'GET', '/api/v1/pods?resourceVersion=0'))).toEqual(['a', 'b']);
    const future = await call(e, 'GET', `/api/v1/pods?resourceVersion=${Number(e.resourceVersion) + 5}`);
    expect(future.json).toMatchObject({
      reason: 'Timeout',
      code: 504,
      details: { causes: [{ reason: 'ResourceVersionTooLarge' }] },
    });
    e.compact();
    const gone = await call(e, 'GET', `/api/v1/pods?resourceVersion=${rvA}&resourceVersionMatch=Exact`);
    expect(gone.status).toBe(410);
    expect(gone.json).toMatchObject({
      reason: 'Expired',
      message: 'The resourceVersion for the provided list is too old.',
    });
  });

  it('pages a namespace, and omits remainingItemCount when a selector is set', async () => {
    const e = await emulator();
    for (let i = 0; i < 5; i++) e.create(pod(`p${i}`, 'ns', { even: String(i % 2 === 0) }));
    e.create(pod('z', 'other'));
    const page = await call(e, 'GET', '/api/v1/namespaces/ns/pods?limit=2');
    expect(names(page)).toEqual(['p0', 'p1']);
    expect(page.json.metadata.remainingItemCount).toBe(3);
    const sel = await call(e, 'GET', '/api/v1/namespaces/ns/pods?limit=2&labelSelector=even%3Dtrue');
    expect(names(sel)).toEqual(['p0', 'p2']);
    expect(sel.json.metadata.continue).toBeTruthy();
    expect(sel.json.metadata.remainingItemCount).toBeUndefined();
    const rest = await call(
      e,
      'GET',
      `/api/v1/namespaces/ns/pods?limit=2&labelSelector=even%3Dtrue&continue=${sel.json.metadata.continue}`,
    );
    expect(names(rest)).toEqual(['p4']);
    expect(rest.json.metadata.continue).toBeUndefined();
    // Built-in list items omit apiVersion/kind (typed lists); custom resources keep them.
    expect(page.json.items[0].kind).toBeUndefined();
    e.create({ apiVersion: 'crd.projectcalico.org/v1', kind: 'Tier', metadata: { name: 't' }, spec: {} });
    const tiers = await call(e, 'GET', '/apis/crd.projectcalico.org/v1/tiers');
    expect(tiers.json).toMatchObject({ kind: 'TierList', apiVersion: 'crd.projectcalico.org/v1' });
    expect(tiers.json.items[0]).toMatchObject({ apiVersion: 'crd.projectcalico.org/v1', kind: 'Tier' });
  });

  it('supports equality- and set-based label selectors and field selectors', async () => {
    const e = await emulator();
    e.create({ ...pod('a', 'default', { app: 'web', tier: 'fe', n: '3' }), spec: { nodeName: 'n1' } });
    e.create({ ...pod('b', 'default', { app: 'db', n: '10' }), spec: { nodeName: 'n2' } });
    e.create({ ...pod('c', 'other', { app: 'web' }), spec: { nodeName: 'n1' } });
    const sel = async (q: string) => names(await call(e, 'GET', `/api/v1/pods?${q}`));
    const ls = (s: string) => sel(`labelSelector=${encodeURIComponent(s)}`);
    const fs = (s: string) => sel(`fieldSelector=${encodeURIComponent(s)}`);
    expect(await ls('app=web')).toEqual(['a', 'c']);
    expect(await ls('app==web,tier=fe')).toEqual(['a']);
    expect(await ls('app!=web')).toEqual(['b']);
    expect(await ls('tier!=fe')).toEqual(['b', 'c']); // != matches a missing label
    expect(await ls('app in (db, web)')).toEqual(['a', 'b', 'c']);
    expect(await ls('app notin (web)')).toEqual(['b']);
    expect(await ls('tier')).toEqual(['a']);
    expect(await ls('!tier')).toEqual(['b', 'c']);
    expect(await ls('n>5')).toEqual(['b']);
    expect(await ls('n<5')).toEqual(['a']);
    expect(await fs('metadata.name=b')).toEqual(['b']);
    expect(await fs('metadata.namespace!=default')).toEqual(['c']);
    expect(await fs('spec.nodeName=n1,metadata.namespace=default')).toEqual(['a']);
    expect(await sel('labelSelector=app%3Dweb&fieldSelector=metadata.namespace%3Dother')).toEqual(['c']);
  });
});

describe('watch semantics', () => {
  it('turns changes that move an object into or out of a selector into ADDED and DELETED', async () => {
    const e = await emulator();
    e.create(pod('a', 'default', { app: 'web' }));
    const from = e.resourceVersion;
    e.patch(pod('a'), { metadata: { labels: { app: 'db' } } }); // leaves the selector
    e.patch(pod('a'), { metadata: { labels: { app: 'web' } } }); // enters it again
    e.patch(pod('a'), { spec: { nodeName: 'n9' } }); // stays in it
    e.create(pod('other', 'default', { app: 'db' })); // never in it
    const w = await watchLines(
      e,
      `/api/v1/pods?watch=1&resourceVersion=${from}&labelSelector=app%3Dweb`,
      1000,
      3,
    );
    expect(w.events.map((x) => x.type)).toEqual(['DELETED', 'ADDED', 'MODIFIED']);
    // The DELETED carries the last state that matched, at the change's resourceVersion.
    expect(w.events[0]!.object.metadata.labels).toEqual({ app: 'web' });
    expect(w.events[0]!.object.metadata.resourceVersion).toBe(String(Number(from) + 1));
  });

  it('watches one object by its item path, and from a future resourceVersion', async () => {
    const e = await emulator();
    e.create(pod('a'));
    e.create(pod('b'));
    const item = await watchLines(e, '/api/v1/namespaces/default/pods/b?watch=true', 500, 1);
    expect(item.events.map((x) => `${x.type} ${x.object.metadata.name}`)).toEqual(['ADDED b']);
    const legacy = await watchLines(e, '/api/v1/watch/namespaces/default/pods', 500, 2);
    expect(legacy.events.map((x) => x.object.metadata.name)).toEqual(['a', 'b']);
    const future = Number(e.resourceVersion) + 2;
    const pending = watchLines(e, `/api/v1/pods?watch=1&resourceVersion=${future}`, 1500, 1);
    await new Promise((r) => setTimeout(r, 100));
    e.create(pod('c')); // future - 1
    e.create(pod('d')); // future: not after it
    e.create(pod('e'));
    expect((await pending).events.map((x) => x.object.metadata.name)).toEqual(['e']);
  });

  it('sendInitialEvents: the state as ADDED, then a bookmark annotated initial-events-end', async () => {
    const e = await emulator();
    e.create(pod('a'));
    e.create(pod('b'));
    const w = await watchLines(
      e,
      '/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
      1000,
      3,
    );
    expect(w.events.map((x) => x.type)).toEqual(['ADDED', 'ADDED', 'BOOKMARK']);
    expect(w.events[2]!.object.metadata).toEqual({
      resourceVersion: e.resourceVersion,
      annotations: { 'k8s.io/initial-events-end': 'true' },
    });
    const invalid = await call(e, 'GET', '/api/v1/pods?watch=1&sendInitialEvents=true');
    expect(invalid.json).toMatchObject({ code: 422, reason: 'Invalid' });
  });

  it('forgets history beyond the count window: older watches get the 410 ERROR event', async () => {
    const e = await emulator({ historyMaxEvents: 3 });
    const start = e.resourceVersion;
    for (let i = 0; i < 5; i++) e.create(pod(`p${i}`));
    const w = await watchLines(e, `/api/v1/pods?watch=1&resourceVersion=${start}`, 1000);
    expect(w.events).toHaveLength(1);
    expect(w.events[0]!.type).toBe('ERROR');
    expect(w.events[0]!.object).toMatchObject({
      code: 410,
      reason: 'Expired',
      message: `too old resource version: ${start} (${Number(start) + 2})`,
    });
    // From the window's floor, the retained three are replayed.
    const ok = await watchLines(e, `/api/v1/pods?watch=1&resourceVersion=${Number(start) + 2}`, 300, 3);
    expect(ok.events.map((x) => x.object.metadata.name)).toEqual(['p2', 'p3', 'p4']);
  });

  it('forgets history beyond the age window', async () => {
    const e = await emulator({ historyMaxAgeMs: 100 });
    const start = e.resourceVersion;
    e.create(pod('a'));
    await new Promise((r) => setTimeout(r, 200));
    const w = await watchLines(e, `/api/v1/pods?watch=1&resourceVersion=${start}`, 1000);
    expect(w.events[0]).toMatchObject({ type: 'ERROR', object: { code: 410 } });
  });

  it('terminates a watcher that stops reading, counts and survives it', async () => {
    const e = await emulator({ watchMaxQueuedEvents: 50 });
    const socket = connect(e.port, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET /api/v1/pods?watch=1&resourceVersion=${e.resourceVersion} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor(() => e.stats().total.watchesOpen === 1, 5_000, 'watch open');
    socket.pause(); // reads nothing more: kernel buffers, then the emulator's queue, fill up
    const big = 'x'.repeat(16 << 10);
    for (let i = 0; i < 2_000 && e.stats().total.watchesTerminated === 0; i++) {
      e.create({ ...pod(`p${i}`), metadata: { name: `p${i}`, namespace: 'default', annotations: { big } } });
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    expect(e.stats().total).toMatchObject({ watchesTerminated: 1, watchesOpen: 0 });
    // Others are served as before.
    expect((await call(e, 'GET', '/api/v1/pods?limit=1')).status).toBe(200);
  });
});

describe('writes', () => {
  it('applies JSON patches, strategic merge as merge, resourceVersion preconditions and no-op updates', async () => {
    const e = await emulator();
    const a = e.create({ ...pod('a'), spec: { containers: [{ name: 'c1' }, { name: 'c2' }] } });
    const path = '/api/v1/namespaces/default/pods/a';
    const jp = await call(
      e,
      'PATCH',
      path,
      [{ op: 'add', path: '/metadata/labels/x', value: 'y' }],
      'application/json-patch+json',
    );
    expect(jp.json.metadata.labels).toEqual({ x: 'y' });
    const failed = await call(
      e,
      'PATCH',
      path,
      [{ op: 'test', path: '/spec/nodeName', value: 'no' }],
      'application/json-patch+json',
    );
    expect(failed.json).toMatchObject({ code: 422, reason: 'Invalid' });
    // Strategic merge patch is applied as a merge patch: the list is replaced, not merged by name.
    const smp = await call(
      e,
      'PATCH',
      path,
      { spec: { containers: [{ name: 'c3' }] } },
      'application/strategic-merge-patch+json',
    );
    expect(smp.json.spec.containers).toEqual([{ name: 'c3' }]);
    expect(smp.json.metadata.generation).toBe(2);
    const stale = await call(
      e,
      'PATCH',
      path,
      { metadata: { resourceVersion: a.metadata.resourceVersion, labels: { z: '1' } } },
      'application/merge-patch+json',
    );
    expect(stale.json).toMatchObject({ code: 409, reason: 'Conflict' });
    const rv = e.resourceVersion;
    const noop = await call(e, 'PUT', path, e.get(pod('a')));
    expect(noop.status).toBe(200);
    expect(e.resourceVersion).toBe(rv);
  });

  it('updates only status through /status, honours delete preconditions, returns Status for node deletes', async () => {
    const e = await emulator();
    e.create({ ...pod('a'), status: { phase: 'Pending' } });
    const path = '/api/v1/namespaces/default/pods/a';
    const st = await call(e, 'PUT', `${path}/status`, {
      ...e.get(pod('a')),
      metadata: { name: 'a', labels: { ignored: 'yes' } },
      status: { phase: 'Running' },
    });
    expect(st.json.status).toEqual({ phase: 'Running' });
    expect(st.json.metadata.labels).toEqual({});
    const pre = await call(e, 'DELETE', path, {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      preconditions: { uid: 'nope' },
    });
    expect(pre.json).toMatchObject({ code: 409, reason: 'Conflict' });
    const del = await call(e, 'DELETE', path);
    expect(del.json).toMatchObject({ kind: 'Pod', metadata: { name: 'a' } });
    e.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    const node = await call(e, 'DELETE', '/api/v1/nodes/n1');
    expect(node.json).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: 'n1', kind: 'nodes' },
    });
  });
});

describe('hooks and auth', () => {
  it('serves /emulator/stats, compact, drop-watches and pause over HTTP', async () => {
    const e = await emulator();
    e.create(pod('a'));
    const old = e.resourceVersion;
    e.create(pod('b'));
    expect((await call(e, 'GET', '/emulator/stats')).json).toMatchObject({
      objects: 2,
      resourceVersion: e.resourceVersion,
    });
    expect((await call(e, 'POST', '/emulator/compact')).json).toEqual({
      compacted: true,
      resourceVersion: e.resourceVersion,
    });
    const w = await watchLines(e, `/api/v1/pods?watch=1&resourceVersion=${old}`, 500);
    expect(w.events[0]!.type).toBe('ERROR');
    const pending = watchLines(e, '/api/v1/pods?watch=1', 3000);
    await waitFor(() => e.stats().total.watchesOpen === 1, 5_000, 'watch open');
    expect((await call(e, 'POST', '/emulator/drop-watches')).json).toEqual({ dropped: 1 });
    await expect(pending).rejects.toThrow();
    expect((await call(e, 'POST', '/emulator/pause?ms=300')).status).toBe(202);
    await waitFor(() => !e.listening, 2_000, 'paused');
    await expect(fetch(`${e.url}/healthz`)).rejects.toThrow();
    await waitFor(() => e.listening, 2_000, 'resumed');
    expect((await call(e, 'GET', '/healthz')).status).toBe(200);
    expect((await call(e, 'GET', '/emulator/nope')).status).toBe(404);
  });

  it('freeze: connections stay open and silent (no answer, no event, no bookmark) until resume', async () => {
    const e = await emulator({ bookmarkIntervalMs: 50 });
    const h = await startEmulator({ bookmarkIntervalMs: 50 });
    cleanup.push(() => h.stop());
    h.emu.create(pod('a'));
    const w = await recordWatch(h.kc, '/api/v1/pods', { allowWatchBookmarks: true });
    cleanup.push(() => w.abort());
    await waitFor(() => w.events.some((ev) => ev.type === 'BOOKMARK'), 5_000, 'a bookmark');
    h.emu.freeze();
    const seen = w.events.length;
    h.emu.create(pod('b'));
    let answered = false;
    const list = call(h.emu, 'GET', '/api/v1/pods').finally(() => {
      answered = true;
    });
    // Ten bookmark intervals: a live emulator would have sent bookmarks and the event by now.
    await new Promise((r) => setTimeout(r, 500));
    expect(answered).toBe(false);
    expect(w.events.length).toBe(seen);
    expect(w.ended()).toBe(false);
    h.emu.resume();
    expect(names(await list)).toEqual(['a', 'b']);
    await waitFor(
      () => w.events.some((ev) => ev.type === 'ADDED' && ev.object.metadata.name === 'b'),
      5_000,
      'b',
    );
    expect(w.ended()).toBe(false);

    // The same over HTTP, for a running `tabby emulator`: it answers, then freezes for ms.
    expect((await call(e, 'POST', '/emulator/freeze?ms=300')).status).toBe(202);
    await waitFor(() => e.isFrozen, 2_000, 'frozen');
    await waitFor(() => !e.isFrozen, 5_000, 'resumed');
    expect((await call(e, 'GET', '/healthz')).status).toBe(200);
  });

  it('replaceStore: a fresh store whose resourceVersions start again, open watches ended', async () => {
    const e = await emulator();
    for (const n of ['a', 'b', 'c']) e.create(pod(n));
    const h = await startEmulator();
    cleanup.push(() => h.stop());
    h.emu.create(pod('a'));
    const w = await recordWatch(h.kc, '/api/v1/pods', {});
    await waitFor(() => h.emu.stats().total.watchesOpen === 1, 5_000, 'watch open');
    h.emu.replaceStore([]);
    expect(await w.done).toBeNull(); // ended cleanly, as the cacher ends its watchers

    const loaded = e.replaceStore([pod('x'), pod('a', 'default', { restored: 'yes' })]);
    expect(loaded).toEqual({ loaded: 2, errors: [] });
    expect(e.resourceVersion).toBe('3');
    const list = await call(e, 'GET', '/api/v1/pods');
    expect(list.json.metadata.resourceVersion).toBe('3');
    expect(names(list)).toEqual(['a', 'x']);
    expect(list.json.items[0].metadata).toMatchObject({ resourceVersion: '3', labels: { restored: 'yes' } });
  });

  it('requires the bearer token when one is set; the written kubeconfig carries it', async () => {
    const h = await startEmulator({ token: 'sekret' });
    cleanup.push(() => h.stop());
    const res = await fetch(`${h.emu.url}/api/v1/pods`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    const core = h.kc.makeApiClient(CoreV1Api);
    expect((await core.listPodForAllNamespaces()).items).toEqual([]);
    const w = await recordWatch(h.kc, '/api/v1/pods', { timeoutSeconds: 1 });
    expect(await w.done).toBeNull();
    const wrong = new KubeConfig();
    wrong.loadFromString(kubeconfigYaml(h.emu.url, 'wrong'));
    const denied = await rejection(wrong.makeApiClient(CoreV1Api).listPodForAllNamespaces());
    expect((denied as ApiException<unknown>).code).toBe(401);
    // (CoreV1Api's generated code drops the body of a 401: the Status is checked above over fetch.)
  });
});
