// REPORT end to end with the file datastore: the reported key lives in the in-memory overlay
// and is merged into what the datastore emits, surviving edits of the Node's file and going
// away with the Node.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { FileDatastore } from '../../src/datastore/file/file-datastore.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import { DEFAULT_SERVER_OPTIONS, SyncServer } from '../../src/server/server.js';
import { SnapshotCache } from '../../src/snapcache/cache.js';
import { SyncerRouter } from '../../src/snapcache/router.js';
import { TEST_CACHE_OPTIONS, waitFor } from '../harness/stack.js';

const KIND = 'wireguard-public-key';
const newKey = (): string => randomBytes(32).toString('base64');
const nodeYaml = (name: string, labels: Record<string, string>, annotations: Record<string, string> = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels, annotations } });

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Wg = { publicKey?: string; interfaceIPv4Address?: string } | undefined;
type NodeValue = { status?: { wireguardPublicKey?: string }; metadata: { labels?: Record<string, string> } };

describe('REPORT wireguard-public-key, file datastore overlay', () => {
  it('merges the key into the node’s KVs, keeps it over file edits, drops it with the node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tabby-report-files-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const fileKey = newKey();
    await writeFile(join(dir, 'a.json'), nodeYaml('node-a', { v: '1' }));
    await writeFile(
      join(dir, 'b.json'),
      nodeYaml('node-b', {}, { 'projectcalico.org/WireguardPublicKey': fileKey }),
    );
    const ds = new FileDatastore({ path: dir, convert: convertObject, log: silentLogger, debounceMs: 20 });
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
    const client = (hostname: string) => {
      const c = new SyncClient({ addresses: [`127.0.0.1:${port}`], syncer: 'felix', hostname });
      c.start();
      cleanups.push(() => c.stop());
      return c;
    };
    const observer = client('observer');
    const wg = (node: string) => observer.state.get(Keys.wireguard(node)) as Wg;
    const nodeValue = (node: string) => observer.state.get(Keys.node(node)) as NodeValue | undefined;

    const a = client('node-a');
    const key = newKey();
    a.setReport(KIND, { publicKey: key });
    await waitFor(() => wg('node-a')?.publicKey === key, 10_000, 'node-a key');
    expect(wg('node-a')).toEqual({ publicKey: key }); // created: the file's node had no WireGuard KV
    expect(nodeValue('node-a')?.status?.wireguardPublicKey).toBe(key);
    expect(server.stats.reports.get(`${KIND}:recorded`)).toBe(1);

    // An edit of the node's file: the key stays.
    await writeFile(join(dir, 'a.json'), nodeYaml('node-a', { v: '2' }));
    await waitFor(() => nodeValue('node-a')?.metadata.labels?.['v'] === '2', 10_000, 'relabel');
    expect(wg('node-a')).toEqual({ publicKey: key });
    expect(nodeValue('node-a')?.status?.wireguardPublicKey).toBe(key);

    // A report overrides the key the file carries; null then hides it.
    expect(wg('node-b')).toEqual({ publicKey: fileKey });
    const b = client('node-b');
    const keyB = newKey();
    b.setReport(KIND, { publicKey: keyB });
    await waitFor(() => wg('node-b')?.publicKey === keyB, 10_000, 'node-b key');
    b.setReport(KIND, { publicKey: null });
    await waitFor(() => wg('node-b') === undefined, 10_000, 'node-b key removed');
    expect(nodeValue('node-b')?.status?.wireguardPublicKey).toBeUndefined();

    // The node goes: so do its KV and the overlay; it comes back without a key.
    await rm(join(dir, 'a.json'));
    await waitFor(() => nodeValue('node-a') === undefined, 10_000, 'node-a deleted');
    expect(wg('node-a')).toBeUndefined();
    expect(ds.reported.size).toBe(1);
    await writeFile(join(dir, 'a.json'), nodeYaml('node-a', { v: '3' }));
    await waitFor(() => nodeValue('node-a') !== undefined, 10_000, 'node-a back');
    expect(wg('node-a')).toBeUndefined();

    // After a reconnect the agent re-sends its key.
    a.dropConnection();
    await waitFor(() => wg('node-a')?.publicKey === key, 10_000, 'node-a key re-sent');
  });
});
