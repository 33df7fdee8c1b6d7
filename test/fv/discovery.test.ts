// Replica discovery from EndpointSlices (through the API emulator), and the server's side of
// moving clients: refusing new clients while its data is not fresh, and draining them to
// other replicas where they resume by state.
import { afterEach, describe, expect, it } from 'vitest';
import { rankReplicas } from '../../src/client/placement.js';
import { SyncClient } from '../../src/client/sync-client.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { EndpointSliceWatch } from '../../src/datastore/kubernetes/endpoint-slices.js';
import { silentLogger } from '../../src/model/logger.js';
import { type EmulatorHarness, startEmulator } from '../harness/emulator.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const slice = (
  name: string,
  service: string,
  endpoints: Array<{ ip: string; ready?: boolean }>,
  port = 5473,
  portName = 'sync',
): KubeObject =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'tabby-system', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [
      { name: portName, port, protocol: 'TCP' },
      { name: 'metrics', port: 9098, protocol: 'TCP' },
    ],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    })),
  }) as unknown as KubeObject;

describe('discovery from EndpointSlices', () => {
  it("keeps the ready endpoints' sync port of the Service's slices, follows changes, ignores other Services", async () => {
    const h: EmulatorHarness = await startEmulator();
    cleanup.push(() => h.stop());
    h.emu.create(
      slice('tabby-a', 'tabby', [
        { ip: '10.0.0.1', ready: true },
        { ip: '10.0.0.2', ready: false },
      ]),
    );
    h.emu.create(slice('tabby-b', 'tabby', [{ ip: '10.0.0.3' }])); // unknown readiness counts as ready
    h.emu.create(slice('other', 'other', [{ ip: '10.0.0.9', ready: true }]));
    h.emu.create(slice('tabby-c', 'tabby', [{ ip: '10.0.0.8', ready: true }], 9999, 'not-sync'));
    const w = new EndpointSliceWatch({
      kubeconfig: h.kc,
      ref: { namespace: 'tabby-system', service: 'tabby' },
      log: silentLogger,
    });
    cleanup.push(() => w.stop());
    w.start();
    await waitFor(() => w.addresses.length > 0, 10_000, 'first list');
    expect(w.addresses).toEqual(['10.0.0.1:5473', '10.0.0.3:5473']);

    h.emu.update({
      ...slice('tabby-a', 'tabby', [
        { ip: '10.0.0.1', ready: false },
        { ip: '10.0.0.2', ready: true },
      ]),
      metadata: { ...h.emu.get(slice('tabby-a', 'tabby', []))!.metadata },
    } as KubeObject);
    await waitFor(() => w.addresses.join() === '10.0.0.2:5473,10.0.0.3:5473', 10_000, 'watched update');

    // None ready: agents keep dialling the last ready set (they answer not-ready with a retry hint).
    h.emu.delete(slice('tabby-a', 'tabby', []));
    await waitFor(() => w.addresses.join() === '10.0.0.3:5473', 10_000, 'watched delete');
    h.emu.delete(slice('tabby-b', 'tabby', []));
    await waitFor(() => w.addresses.length === 0, 10_000, 'watched delete');
    expect(w.dialable()).toEqual(['10.0.0.3:5473']);

    // A watch that breaks is followed by a fresh list: nothing missed stays missed.
    h.emu.dropWatches();
    h.emu.create(slice('tabby-d', 'tabby', [{ ip: '10.0.0.4', ready: true }]));
    await waitFor(() => w.addresses.join() === '10.0.0.4:5473', 15_000, 'after the watch broke');
  });
});

async function replica(): Promise<Stack> {
  const s = await startStack();
  cleanup.push(() => s.stop());
  s.router.onStatus('resync');
  s.router.onUpdates([{ key: '/calico/v1/config/LogSeverityScreen', value: 'Info' }]);
  s.router.onStatus('in-sync');
  return s;
}

describe('moving clients between replicas', () => {
  it('a replica whose data is not fresh refuses new clients with not-ready and a retry hint; they go to the next', async () => {
    const [a, b] = [await replica(), await replica()];
    const node = 'node-x';
    const [first] = rankReplicas(node, [a.address, b.address]);
    const [stale, fresh] = first === a.address ? [a, b] : [b, a];
    stale.server.setReplicaView({ fresh: () => false });
    const c = new SyncClient({ addresses: [a.address, b.address], syncer: 'felix', hostname: node });
    cleanup.push(() => c.stop());
    const byes: Array<{ code?: string; address: string }> = [];
    c.on('disconnected', (d) => byes.push(d));
    c.start();
    await waitFor(() => c.status === 'in-sync', 10_000, 'synced');
    expect(byes[0]).toMatchObject({ code: 'not-ready', address: stale.address });
    expect([...fresh.server.connections()]).toHaveLength(1);
    expect(stale.server.stats.closes.get('none:not-ready')).toBe(1);
  });

  it('drain on SIGTERM moves clients to other replicas, which resume them by state', async () => {
    const [a, b] = [await replica(), await replica()];
    const clients = Array.from({ length: 20 }, (_, i) => {
      const c = new SyncClient({ addresses: [a.address, b.address], syncer: 'felix', hostname: `n-${i}` });
      cleanup.push(() => c.stop());
      c.start();
      return c;
    });
    await waitFor(() => clients.every((c) => c.status === 'in-sync'), 10_000, 'synced');
    const before = a.server.connectionCount;
    expect(before).toBeGreaterThan(0);
    const resumed: boolean[] = [];
    for (const c of clients) c.on('connected', (i) => resumed.push(i.resumed));
    await a.server.drain(500);
    await waitFor(() => resumed.length === before && clients.every((c) => c.connected), 10_000, 'moved');
    expect(resumed.every((r) => r)).toBe(true);
    expect(b.server.connectionCount).toBe(20);
    expect(b.server.stats.snapshotsSent.get('felix')).toBe(20 - before);
  });
});
