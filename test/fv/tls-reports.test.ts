// REPORTs over mutual TLS against the Kubernetes datastore: a report is recorded only for the
// node the certificate proves — named directly (`system:node:{node}`) or through the agent pod
// it names (`…/pod/{pod}`, resolved to the node the API server bound that pod to). A pod's
// certificate cannot speak for another node, nor for any node once the pod is gone.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { PodPlacementIndex } from '../../src/datastore/kube/pod-placement.js';
import { RESOURCE_TYPES } from '../../src/datastore/kube/resources.js';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.js';
import { WIREGUARD_KEY_ANNOTATION } from '../../src/datastore/kubernetes/node-key-writer.js';
import { silentLogger } from '../../src/model/logger.js';
import { DEFAULT_SERVER_OPTIONS, SyncServer } from '../../src/server/server.js';
import { TlsMaterial } from '../../src/server/tls.js';
import { SnapshotCache } from '../../src/snapcache/cache.js';
import { SyncerRouter } from '../../src/snapcache/router.js';
import { type EmulatorHarness, startEmulator } from '../harness/emulator.js';
import { type Ca, issue, makeCa, writePems } from '../harness/pki.js';
import { TEST_CACHE_OPTIONS, waitFor } from '../harness/stack.js';

const KIND = 'wireguard-public-key';
const NS = 'tabby-system';
const newKey = (): string => randomBytes(32).toString('base64');
const nodeObj = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec: {},
  status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] },
});
const agentPod = (name: string, nodeName: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: NS,
    labels: { app: 'tabby-agent' },
    ownerReferences: [
      { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'tabby-agent', uid: 'u1', controller: true },
    ],
  },
  spec: { nodeName, hostNetwork: true, containers: [{ name: 'agent', image: 'tabby' }] },
  status: { phase: 'Running', podIP: '10.0.0.1' },
});

let h: EmulatorHarness | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await h?.stop();
  h = undefined;
});

async function start(ca: Ca) {
  h = await startEmulator({ bookmarkIntervalMs: 200 });
  for (const n of ['node-a', 'node-b']) h.emu.create(nodeObj(n));
  h.emu.create(agentPod('tabby-agent-aaaaa', 'node-a'));
  h.emu.create(agentPod('tabby-agent-bbbbb', 'node-b'));
  // Neither a pod in another namespace nor one in the namespace that no DaemonSet controls.
  h.emu.create({ ...agentPod('impostor', 'node-b'), metadata: { name: 'impostor', namespace: 'default' } });
  h.emu.create({ ...agentPod('debug', 'node-b'), metadata: { name: 'debug', namespace: NS } });
  const placement = new PodPlacementIndex(NS);
  const ds = new KubernetesDatastore({
    kubeconfig: h.kc,
    convert: convertObject,
    log: silentLogger,
    resources: RESOURCE_TYPES.filter((r) => r.group === '' && (r.kind === 'Node' || r.kind === 'Pod')),
    watcher: { backoff: { initialMs: 50, maxMs: 400, multiplier: 2, jitter: 0.2 } },
    podPlacement: placement,
  });
  const srv = await issue(ca, { cn: 'tabby', dns: ['tabby.test'] });
  const files = writePems({ 'tls.crt': srv.cert, 'tls.key': srv.key, 'ca.crt': ca.cert });
  cleanups.push(() => rm(files.dir, { recursive: true, force: true }));
  const tls = new TlsMaterial({
    certFile: files['tls.crt']!,
    keyFile: files['tls.key']!,
    clientCaFile: files['ca.crt']!,
    allowedClientCns: ['system:node:{node}', 'tabby-agent'],
    allowedClientUriSans: [`spiffe://test/ns/${NS}/pod/{pod}`],
    reloadIntervalMs: 60_000,
  });
  const caches = (['felix', 'bgp'] as const).map(
    (syncer) => new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer }),
  );
  const server = new SyncServer(
    caches,
    { ...DEFAULT_SERVER_OPTIONS, serverId: 'test', tickMs: 100 },
    silentLogger,
    {
      sink: ds,
      policy: { insecureAcceptUnauthenticated: false, nodeOfPod: (p) => placement.nodeOfPod(p) },
    },
  );
  const { port } = await server.listen('127.0.0.1', 0, tls);
  await ds.start(new SyncerRouter(caches));
  cleanups.push(async () => {
    await ds.stop();
    await server.destroy();
    for (const c of caches) c.close();
  });
  const client = async (hostname: string, identity: { cn: string; uris?: string[] }) => {
    const pem = await issue(ca, identity);
    const f = writePems({ 'a.crt': pem.cert, 'a.key': pem.key, 'ca.crt': ca.cert });
    cleanups.push(() => rm(f.dir, { recursive: true, force: true }));
    const c = new SyncClient({
      addresses: [`127.0.0.1:${port}`],
      syncer: 'felix',
      hostname,
      log: silentLogger,
      backoff: { initialMs: 20, maxMs: 200, multiplier: 2, jitter: 0.2 },
      tls: { certFile: f['a.crt']!, keyFile: f['a.key']!, caFile: f['ca.crt']!, serverName: 'tabby.test' },
    });
    c.start();
    cleanups.push(() => c.stop());
    await waitFor(() => c.status === 'in-sync', 10_000, `${hostname} in sync`);
    return c;
  };
  const annotation = (name: string) =>
    h!.emu.get(nodeObj(name))?.metadata.annotations?.[WIREGUARD_KEY_ANNOTATION];
  const counted = (result: string) => server.stats.reports.get(`${KIND}:${result}`);
  return { h, client, annotation, counted, placement };
}

const podUri = (pod: string) => `spiffe://test/ns/${NS}/pod/${pod}`;

describe('REPORTs over mutual TLS', () => {
  it('records a key only for the node the certificate proves, directly or through its pod', async () => {
    const ca = await makeCa();
    const { h, client, annotation, counted, placement } = await start(ca);
    await waitFor(() => placement.size === 2, 10_000, 'agent pods indexed');
    expect(placement.nodeOfPod('impostor')).toBeUndefined();
    expect(placement.nodeOfPod('debug')).toBeUndefined();

    // The pod on node-a reports for node-a: recorded.
    const a = await client('node-a', { cn: 'agent', uris: [podUri('tabby-agent-aaaaa')] });
    const keyA = newKey();
    a.setReport(KIND, { publicKey: keyA });
    await waitFor(() => annotation('node-a') === keyA, 10_000, 'node-a annotated');

    // The same pod's certificate claiming node-b is not offered reports (§15.1), and node-b is
    // untouched (a REPORT sent anyway is refused wrong-node: test/unit/report-validation).
    const liar = await client('node-b', { cn: 'agent', uris: [podUri('tabby-agent-aaaaa')] });
    liar.setReport(KIND, { publicKey: newKey() });
    await new Promise((r) => setTimeout(r, 300));
    expect(annotation('node-b')).toBeUndefined();

    // A shared identity (CN tabby-agent, no placeholder) names no node: not offered reports at all.
    const shared = await client('node-b', { cn: 'tabby-agent' });
    shared.setReport(KIND, { publicKey: newKey() });
    // A node certificate reports for its node.
    const b = await client('node-b', { cn: 'system:node:node-b' });
    const keyB = newKey();
    b.setReport(KIND, { publicKey: keyB });
    await waitFor(() => annotation('node-b') === keyB, 10_000, 'node-b annotated');

    // Once its pod is deleted, a pod certificate speaks for no node.
    h.emu.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'tabby-agent-aaaaa', namespace: NS } });
    await waitFor(
      () => placement.nodeOfPod('tabby-agent-aaaaa') === undefined,
      10_000,
      'pod gone from the index',
    );
    a.setReport(KIND, { publicKey: newKey() });
    await waitFor(() => counted('unauthenticated') === 1, 10_000, 'refused after the pod is gone');
    expect(annotation('node-a')).toBe(keyA);
    expect(counted('recorded')).toBe(2);
  });
});
