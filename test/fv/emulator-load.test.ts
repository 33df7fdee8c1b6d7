// Seeding the emulator (objects, manifest directories with calicoctl v3 files and bad
// documents), the kubeconfig it writes, and the apiserver-emulator command.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError } from '../../src/config/errors.js';
import { silentLogger } from '../../src/model/logger.js';
import {
  apiserverEmulatorCommand,
  type EmulatorCliOptions,
  runApiserverEmulator,
} from '../../src/testing/emulator/cli.js';
import { ApiEmulator } from '../../src/testing/emulator/emulator.js';
import { pod } from '../harness/emulator.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tabby-emulator-load-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('loading objects', () => {
  it('loads a directory of multi-document YAML and JSON; bad documents are named, the rest load', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'calico'));
    await writeFile(
      join(dir, '00-core.yaml'),
      [
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n',
        'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n  resourceVersion: "999"\nspec:\n  nodeName: n1\n',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nope\n',
        '',
        'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: n1\n- apiVersion: v1\n  kind: Pod\n  metadata: {}\n',
      ].join('---\n'),
    );
    await writeFile(
      join(dir, 'calico', 'pools.yml'),
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool-a\nspec:\n  cidr: 10.1.0.0/16\n---\nkey: [unclosed\n',
    );
    await writeFile(
      join(dir, 'policy.json'),
      JSON.stringify({
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'deny' },
        spec: { selector: 'all()' },
      }),
    );
    await writeFile(join(dir, 'README.md'), '# not a manifest');
    const emu = new ApiEmulator();
    const result = await emu.loadDirectory(dir);
    expect(result.loaded).toBe(5);
    expect(result.errors).toEqual([
      {
        source: '00-core.yaml',
        document: 2,
        message: 'apps/v1 Deployment is not a resource type the emulator serves',
      },
      {
        source: '00-core.yaml',
        document: 4,
        message: 'Pod "" is invalid: metadata.name: Required value: name or generateName is required',
      },
      { source: join('calico', 'pools.yml'), document: 1, message: expect.stringMatching(/./) },
    ]);
    const pool = emu.get({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPPool',
      metadata: { name: 'pool-a' },
    });
    expect(pool).toMatchObject({ apiVersion: 'crd.projectcalico.org/v1', spec: { cidr: '10.1.0.0/16' } });
    // The v3 name works for lookups too, and server-set fields from files do not carry over.
    expect(emu.list('projectcalico.org/v3', 'GlobalNetworkPolicy').map((o) => o.metadata.name)).toEqual([
      'deny',
    ]);
    expect(emu.get(pod('web', 'shop'))!.metadata.resourceVersion).not.toBe('999');
  });

  it('loadObjects replaces objects that exist and reports those it cannot store', () => {
    const emu = new ApiEmulator();
    emu.create(pod('a'));
    const r = emu.loadObjects([
      { ...pod('a'), spec: { nodeName: 'n2' } },
      pod('b', 'x'),
      { kind: 'Pod' },
      'text',
    ]);
    expect(r.loaded).toBe(2);
    expect(r.errors.map((e) => [e.document, e.message])).toEqual([
      [2, 'missing apiVersion or kind'],
      [3, 'not an object'],
    ]);
    expect(emu.get(pod('a'))!.spec).toEqual({ nodeName: 'n2' });
    expect(emu.get(pod('a'))!.metadata.generation).toBe(2);
  });
});

describe('kubeconfig and command', () => {
  it('writes a kubeconfig that client-node 1.4 accepts for a plain-HTTP server', async () => {
    const dir = await tempDir();
    const emu = new ApiEmulator();
    await emu.start();
    cleanup.push(() => emu.stop());
    const path = join(dir, 'sub', 'kubeconfig');
    await emu.writeKubeconfig(path);
    const doc = parse(await readFile(path, 'utf8'));
    expect(doc.clusters[0].cluster).toEqual({ server: emu.url, 'insecure-skip-tls-verify': true });
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const api = KubernetesObjectApi.makeApiClient(kc);
    const list = await api.list('v1', 'Namespace');
    expect(list.items).toEqual([]);
  });

  it('runApiserverEmulator listens, loads, seeds and writes the kubeconfig', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: loaded\n');
    const opts: EmulatorCliOptions = {
      listen: '127.0.0.1:0',
      writeKubeconfig: join(dir, 'kc.yaml'),
      load: [dir],
      seed: 'sim',
      bookmarkIntervalMs: 1000,
      historyMaxEvents: 100,
      historyMaxAgeMs: 0,
      minRequestTimeoutS: 60,
      logLevel: 'silent',
    };
    const emu = await runApiserverEmulator(opts, { seedObjects: () => [pod('seeded')] }, silentLogger);
    cleanup.push(() => emu.stop());
    expect(emu.list('v1', 'Namespace').map((n) => n.metadata.name)).toEqual(['loaded']);
    expect(emu.get(pod('seeded'))).toBeDefined();
    const kc = new KubeConfig();
    kc.loadFromFile(join(dir, 'kc.yaml'));
    expect(kc.getCurrentCluster()?.server).toBe(emu.url);
  });

  it('apiserver-emulator --seed sim without a generator fails with a ConfigError', async () => {
    const cmd = apiserverEmulatorCommand({ createLogger: () => silentLogger }).exitOverride();
    expect(cmd.name()).toBe('apiserver-emulator');
    await expect(cmd.parseAsync(['--seed', 'sim'], { from: 'user' })).rejects.toBeInstanceOf(ConfigError);
    const bad = apiserverEmulatorCommand({ createLogger: () => silentLogger }).exitOverride();
    await expect(bad.parseAsync(['--listen', 'nonsense'], { from: 'user' })).rejects.toThrow(/--listen/);
  });
});
