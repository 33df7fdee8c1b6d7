// REPORT end to end in Kubernetes mode: a real server whose report sink is the Kubernetes
// datastore, over the API emulator. An agent reports its WireGuard key → the Node gets
// Calico's annotation (merge patch) → the Node watch and converter turn it into the
// node's wireguard KV → another agent on the felix stream receives it.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { RESOURCE_TYPES } from '../../src/datastore/kube/resources.js';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.js';
import { WIREGUARD_KEY_ANNOTATION } from '../../src/datastore/kubernetes/node-key-writer.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import { ReportError } from '../../src/protocol/reports.js';
import { DEFAULT_SERVER_OPTIONS, SyncServer } from '../../src/server/server.js';
import { SnapshotCache } from '../../src/snapcache/cache.js';
import { SyncerRouter } from '../../src/snapcache/router.js';
import { type EmulatorHarness, startEmulator } from '../harness/emulator.js';
import { RawClient } from '../harness/raw-client.js';
import { TEST_CACHE_OPTIONS, waitFor } from '../harness/stack.js';

const KIND = 'wireguard-public-key';
const newKey = (): string => randomBytes(32).toString('base64');
const nodeObj = (name: string, annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, annotations },
  spec: {},
  status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] },
});

let h: EmulatorHarness | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await h?.stop();
  h = undefined;
});

async function start() {
  h = await startEmulator({ bookmarkIntervalMs: 200 });
  h.emu.create(nodeObj('node-a'));
  h.emu.create(nodeObj('node-b', { 'projectcalico.org/IPv4WireguardInterfaceAddr': '10.250.0.2' }));
  const ds = new KubernetesDatastore({
    kubeconfig: h.kc,
    convert: convertObject,
    log: silentLogger,
    resources: RESOURCE_TYPES.filter((r) => r.group === '' && r.kind === 'Node'),
    watcher: { backoff: { initialMs: 50, maxMs: 400, multiplier: 2, jitter: 0.2 } },
  });
  const caches = (['felix', 'bgp'] as const).map(
    (syncer) => new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer }),
  );
  const server = new SyncServer(
    caches,
    { ...DEFAULT_SERVER_OPTIONS, serverId: 'test', tickMs: 100 },
    silentLogger,
    // Plain TCP: these tests trust HELLO's hostname on purpose.
    { sink: ds, policy: { insecureAcceptUnauthenticated: true } },
  );
  const { port } = await server.listen('127.0.0.1', 0);
  await ds.start(new SyncerRouter(caches));
  cleanups.push(async () => {
    await ds.stop();
    await server.destroy();
    for (const c of caches) c.close();
  });
  const address = `127.0.0.1:${port}`;
  const client = (hostname: string) => {
    const c = new SyncClient({
      addresses: [address],
      syncer: 'felix',
      hostname,
      backoff: { initialMs: 20, maxMs: 200, multiplier: 2, jitter: 0.2 },
    });
    c.start();
    cleanups.push(() => c.stop());
    return c;
  };
  const annotation = (name: string) =>
    h!.emu.get(nodeObj(name))?.metadata.annotations?.[WIREGUARD_KEY_ANNOTATION];
  const counted = (result: string) => server.stats.reports.get(`${KIND}:${result}`);
  return { h, ds, server, address, client, annotation, counted };
}

describe('REPORT wireguard-public-key, Kubernetes datastore', () => {
  it('records the key as the Node annotation; every felix agent receives it; null removes it', async () => {
    const { ds, client, annotation, counted } = await start();
    const observer = client('observer');
    const agent = client('node-a');
    await waitFor(() => observer.status === 'in-sync' && agent.connected, 10_000, 'clients in sync');
    const key = newKey();
    agent.setReport(KIND, { publicKey: key });
    await waitFor(() => annotation('node-a') === key, 10_000, 'annotation on node-a');
    await waitFor(
      () => (observer.state.get(Keys.wireguard('node-a')) as { publicKey?: string })?.publicKey === key,
      10_000,
      'observer receives the key',
    );
    expect(counted('recorded')).toBe(1);
    expect(ds.nodeKeys.stats.patches).toBe(1);

    // The same value again (as after a reconnect): the watch says the Node has it, no patch.
    agent.setReport(KIND, { publicKey: key });
    await waitFor(() => counted('recorded') === 2, 5_000, 'second report handled');
    expect(ds.nodeKeys.stats.patches).toBe(1);
    expect(ds.nodeKeys.stats.skipped).toBe(1);

    // A key merges with the node's other WireGuard fields.
    const b = client('node-b');
    const keyB = newKey();
    b.setReport(KIND, { publicKey: keyB });
    await waitFor(
      () =>
        observer.state.get(Keys.wireguard('node-b')) !== undefined &&
        (observer.state.get(Keys.wireguard('node-b')) as { publicKey?: string }).publicKey === keyB,
      10_000,
      'node-b key',
    );
    expect(observer.state.get(Keys.wireguard('node-b'))).toEqual({
      interfaceIPv4Address: '10.250.0.2',
      publicKey: keyB,
    });

    agent.setReport(KIND, { publicKey: null });
    await waitFor(() => annotation('node-a') === undefined, 10_000, 'annotation removed');
    await waitFor(() => observer.state.get(Keys.wireguard('node-a')) === undefined, 10_000, 'KV removed');
  });

  it('re-sends after a reconnect, so a key removed behind its back comes back', async () => {
    const { h, client, annotation } = await start();
    const observer = client('observer');
    const agent = client('node-a');
    const key = newKey();
    agent.setReport(KIND, { publicKey: key }); // before connecting: sent after SERVER_HELLO
    await waitFor(() => annotation('node-a') === key, 10_000, 'annotation');
    h.emu.patch(nodeObj('node-a'), { metadata: { annotations: { [WIREGUARD_KEY_ANNOTATION]: null } } });
    await waitFor(() => observer.state.get(Keys.wireguard('node-a')) === undefined, 10_000, 'key gone');
    agent.dropConnection();
    await waitFor(() => annotation('node-a') === key, 10_000, 'annotation restored after reconnect');
    await waitFor(
      () => (observer.state.get(Keys.wireguard('node-a')) as { publicKey?: string })?.publicKey === key,
      10_000,
      'observer has the key again',
    );
  });

  it('refuses reports about another node, malformed keys and unknown nodes, and keeps the connection', async () => {
    const { address, annotation, counted, server } = await start();
    const raw = await RawClient.open(address);
    cleanups.push(() => raw.destroy());
    raw.hello({ hostname: 'node-a' });
    await waitFor(() => raw.messages.some((m) => m.type === MsgType.ServerHello), 5_000, 'SERVER_HELLO');
    const sh = raw.messages.find((m) => m.type === MsgType.ServerHello);
    expect(sh?.type === MsgType.ServerHello && sh.body.reports).toEqual([KIND]);
    const report = (node: string | undefined, data: unknown) =>
      raw.socket.write(
        encodeMessage({
          type: MsgType.Report,
          body: { kind: KIND, ...(node ? { node } : {}), data: data as never },
        }),
      );
    report('node-b', { publicKey: newKey() });
    report('node-a', { publicKey: 'not-a-key' });
    report('node-a', { publicKey: `${newKey().slice(0, 42)}B=` }); // non-canonical padding bits
    report(undefined, { key: newKey() });
    await waitFor(
      () => counted('wrong-node') === 1 && counted('invalid-data') === 3,
      5_000,
      'refusals counted',
    );
    expect(annotation('node-b')).toBeUndefined();
    expect(annotation('node-a')).toBeUndefined();

    // Still connected and usable: a good report (node field absent = HELLO's hostname) works.
    const key = newKey();
    report(undefined, { publicKey: key });
    await waitFor(() => annotation('node-a') === key, 10_000, 'good report after bad ones');
    expect(raw.closed).toBe(false);
    expect(raw.goodbye()).toBeUndefined();

    // A node the cluster does not have: the patch gets 404, counted as failed.
    const ghost = await RawClient.open(address);
    cleanups.push(() => ghost.destroy());
    ghost.hello({ hostname: 'no-such-node' });
    await waitFor(() => ghost.messages.length > 0, 5_000, 'SERVER_HELLO');
    ghost.socket.write(
      encodeMessage({ type: MsgType.Report, body: { kind: KIND, data: { publicKey: newKey() } } }),
    );
    await waitFor(() => counted('failed') === 1, 10_000, 'failure counted');
    expect(server.stats.protocolErrors.get('malformed-frame')).toBe(0);
  });

  it('the client refuses to store data a server would refuse', async () => {
    const c = new SyncClient({ addresses: ['127.0.0.1:1'], syncer: 'felix', hostname: 'node-a' });
    expect(() => c.setReport(KIND, { publicKey: 'short' })).toThrow(ReportError);
    expect(() => c.setReport(KIND, 'x')).toThrow(ReportError);
    c.setReport(KIND, { publicKey: null });
  });
});
