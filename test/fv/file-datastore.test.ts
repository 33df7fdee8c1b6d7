import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { convertObject } from '../../src/datastore/convert/index.js';
import { FileDatastore } from '../../src/datastore/file/file-datastore.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { objectId } from '../../src/datastore/kube/object.js';
import type { DatastoreSink } from '../../src/datastore/source.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import type { KV, SyncStatus } from '../../src/model/types.js';
import { waitFor } from '../harness/stack.js';

class Sink implements DatastoreSink {
  readonly state = new Map<string, unknown>();
  readonly statuses: SyncStatus[] = [];
  onUpdates(kvs: readonly KV[]) {
    for (const kv of kvs) kv.value === null ? this.state.delete(kv.key) : this.state.set(kv.key, kv.value);
  }
  onStatus(s: SyncStatus) {
    this.statuses.push(s);
  }
}
const convert = (o: KubeObject): KV[] => [{ key: objectId(o), value: (o.spec ?? {}) as KV['value'] }];

const pool = (name: string, cidr: string) =>
  `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n`;

let dir = '';
let ds: FileDatastore | undefined;
afterEach(async () => {
  await ds?.stop();
  ds = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('file datastore', () => {
  it('loads multi-document manifests, follows edits, keeps the last good objects of a broken file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tabby-files-'));
    await writeFile(
      join(dir, 'pools.yaml'),
      `${pool('a', '10.1.0.0/16')}---\n${pool('b', '10.2.0.0/16')}---\n`,
    );
    await writeFile(
      join(dir, 'ns.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }],
      }),
    );
    await writeFile(join(dir, 'notes.txt'), 'not a manifest');
    const sink = new Sink();
    ds = new FileDatastore({ path: dir, convert, log: silentLogger, debounceMs: 20 });
    await ds.start(sink);
    expect(sink.statuses).toEqual(['wait-for-datastore', 'resync', 'in-sync']);
    expect(sink.state.get('crd.projectcalico.org/IPPool//b')).toEqual({ cidr: '10.2.0.0/16' });
    expect(sink.state.has('/Namespace//x')).toBe(true);
    expect(sink.state.size).toBe(3);

    await writeFile(join(dir, 'pools.yaml'), pool('a', '10.9.0.0/16'));
    await waitFor(() => !sink.state.has('crd.projectcalico.org/IPPool//b'), 5_000, 'reload after edit');
    expect(sink.state.get('crd.projectcalico.org/IPPool//a')).toEqual({ cidr: '10.9.0.0/16' });

    // A half-written file: an error, and nothing lost.
    await writeFile(
      join(dir, 'pools.yaml'),
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: [unclosed\n',
    );
    await waitFor(() => ds!.lastErrors.length > 0, 5_000, 'parse error noticed');
    expect(ds.lastErrors[0]!.source).toBe('pools.yaml');
    expect(sink.state.get('crd.projectcalico.org/IPPool//a')).toEqual({ cidr: '10.9.0.0/16' });
    expect(ds.health().manifestErrors).toBe(1);

    await unlink(join(dir, 'pools.yaml'));
    await waitFor(() => !sink.state.has('crd.projectcalico.org/IPPool//a'), 5_000, 'file removed');
    expect([...sink.state.keys()]).toEqual(['/Namespace//x']);
  });

  it('names the file and document of an object without a name', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tabby-files-'));
    await writeFile(
      join(dir, 'x.yaml'),
      `${pool('ok', '10.1.0.0/16')}---\napiVersion: v1\nkind: Namespace\nmetadata: {}\n`,
    );
    const sink = new Sink();
    ds = new FileDatastore({ path: dir, convert, log: silentLogger });
    await ds.start(sink);
    expect(ds.lastErrors).toEqual([
      { source: 'x.yaml', document: 1, message: 'Namespace: missing metadata.name' },
    ]);
    expect(sink.state.size).toBe(1);
  });

  it('notices the deletion of a file that replaced another by rename (missed by fs.watch on Linux)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tabby-files-'));
    await writeFile(join(dir, 'p.yaml'), pool('a', '10.1.0.0/16'));
    const sink = new Sink();
    ds = new FileDatastore({ path: dir, convert, log: silentLogger, debounceMs: 20, rescanMs: 100 });
    await ds.start(sink);
    // An editor's save: write a temporary file, rename it over the original.
    await writeFile(join(dir, '.p.yaml.tmp'), pool('a', '10.2.0.0/16'));
    await rename(join(dir, '.p.yaml.tmp'), join(dir, 'p.yaml'));
    await waitFor(
      () => (sink.state.get('crd.projectcalico.org/IPPool//a') as { cidr?: string })?.cidr === '10.2.0.0/16',
      5_000,
      'edit',
    );
    await unlink(join(dir, 'p.yaml'));
    await waitFor(() => sink.state.size === 0, 5_000, 'deletion noticed');
  });

  it('keeps an IPPool renamed with its CIDR unchanged across a reload (same key, new object)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tabby-files-'));
    await writeFile(join(dir, 'p.yaml'), pool('ippoolv4-1', '192.168.0.0/16'));
    const sink = new Sink();
    ds = new FileDatastore({ path: dir, convert: convertObject, log: silentLogger, debounceMs: 20 });
    await ds.start(sink);
    const key = Keys.ipPool('192.168.0.0/16');
    expect(sink.state.has(key)).toBe(true);
    const reloads = ds.reloads;
    await writeFile(join(dir, 'p.yaml'), pool('ippool-1', '192.168.0.0/16'));
    await ds.reload();
    expect(ds.reloads).toBeGreaterThan(reloads);
    expect(sink.state.has(key)).toBe(true);
  });
});
