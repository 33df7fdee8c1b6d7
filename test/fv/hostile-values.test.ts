// A hostile object in the cluster must not take a replica down (issue 9 item 2): the real
// `tabby serve` process watching an API emulator through the Kubernetes datastore, with
// objects nested thousands of levels deep — a BGPPeer, a pass-through BGPConfiguration spec,
// a FelixConfiguration field — present at start and created while serving. They are
// rejected by name and counted; every other object still reaches agents.
//
// The emulator runs as its own process with a larger stack, so that its recursive clones of
// stored objects hold up to kube-apiserver's own limit (10,000 levels).
// The server under test runs with node's default stack, as in production.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import { MAX_VALUE_DEPTH } from '../../src/model/value-bounds.js';
import { run, serve } from '../harness/cli.js';
import { waitFor } from '../harness/stack.js';

// 3,000 levels pass a recursive converter and the state hash but not MessagePack (the
// crash of the issue); 10,000 (kube-apiserver's own limit) pass nothing recursive.
const DEPTHS = [3_000, 4_000, 10_000] as const;
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const CRD = 'crd.projectcalico.org/v1';

/** JSON text of `levels` objects nested under key "a" — built as text, no recursion here. */
const deepJson = (levels: number): string => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const peerJson = (name: string, extra?: string) =>
  `{"apiVersion":"${CRD}","kind":"BGPPeer","metadata":{"name":"${name}"},"spec":{"peerIP":"192.0.2.1","asNumber":64512${extra ? `,"extra":${extra}` : ''}}}`;

const procs: ChildProcess[] = [];
const clients: SyncClient[] = [];
let dir: string | undefined;
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** `tabby apiserver-emulator` with a 4 MB stack; resolves with its kubeconfig and URL. */
async function startEmulator(): Promise<{ kubeconfig: string; url: string }> {
  dir = await mkdtemp(join(tmpdir(), 'tabby-hostile-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const emu = spawn(
    process.execPath,
    ['--stack-size=3900', '--import', 'tsx', MAIN, 'apiserver-emulator', '--write-kubeconfig', kubeconfig],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  procs.push(emu);
  const lines = createInterface({ input: emu.stdout! });
  for await (const line of lines) if (line.includes('kubeconfig written')) break;
  lines.on('line', () => {});
  const url = /server: (\S+)/.exec(await readFile(kubeconfig, 'utf8'))![1]!;
  return { kubeconfig, url };
}

async function create(url: string, plural: string, body: string): Promise<void> {
  const res = await fetch(`${url}/apis/crd.projectcalico.org/v1/${plural}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  expect(res.status, await res.text()).toBe(201);
}

function counter(metrics: string, kind: string): number {
  const m = new RegExp(`^tabby_datastore_conversion_errors_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(
    metrics,
  );
  return m ? Number(m[1]) : 0;
}

describe('hostile values from the datastore', () => {
  it(`objects nested ${DEPTHS.join(', ')} deep are rejected by name and counted; the replica keeps serving`, async () => {
    const { kubeconfig, url } = await startEmulator();
    await create(url, 'bgppeers', peerJson('good-1'));
    await create(url, 'bgppeers', peerJson('deep-1', deepJson(DEPTHS[0])));
    await create(
      url,
      'bgpconfigurations',
      `{"apiVersion":"${CRD}","kind":"BGPConfiguration","metadata":{"name":"default"},"spec":${deepJson(DEPTHS[1])}}`,
    );
    await create(
      url,
      'felixconfigurations',
      `{"apiVersion":"${CRD}","kind":"FelixConfiguration","metadata":{"name":"default"},"spec":{"failsafeInboundHostPorts":[${deepJson(DEPTHS[2])}]}}`,
    );
    const served = await serve(['--datastore', 'kubernetes', '--kubeconfig', kubeconfig]);
    const proc = served.proc;
    procs.push(proc);
    let stderr = '';
    let logs = '';
    proc.stderr!.on('data', (d) => {
      stderr += d;
    });
    proc.stdout!.on('data', (d) => {
      logs += d;
    });
    const alive = () => proc.exitCode === null && proc.signalCode === null;

    const bgp = new SyncClient({ addresses: [served.sync], syncer: 'bgp', hostname: 'agent-0' });
    clients.push(bgp);
    bgp.start();
    await waitFor(() => bgp.status === 'in-sync' || !alive(), 60_000, 'bgp in-sync');
    expect(alive(), stderr).toBe(true);
    expect(bgp.state.get(Keys.bgpPeer('good-1')) !== undefined).toBe(true);
    expect(bgp.state.get(Keys.bgpPeer('deep-1')) !== undefined).toBe(false);
    expect(bgp.state.get(Keys.bgpConfiguration('default')) !== undefined).toBe(false);

    // While serving: one more hostile object, and a good one after it still arrives.
    await create(url, 'bgppeers', peerJson('deep-2', deepJson(DEPTHS[0])));
    await create(url, 'bgppeers', peerJson('good-2'));
    await waitFor(() => bgp.state.get(Keys.bgpPeer('good-2')) !== undefined || !alive(), 60_000, 'good-2');
    expect(alive(), stderr).toBe(true);
    expect(bgp.state.get(Keys.bgpPeer('deep-2')) !== undefined).toBe(false);

    const metrics = await (await fetch(`http://${served.health}/metrics`)).text();
    expect(counter(metrics, 'BGPPeer')).toBe(2);
    expect(counter(metrics, 'BGPConfiguration')).toBe(1);
    expect(counter(metrics, 'FelixConfiguration')).toBe(1);
    // Each is logged by name with the reason.
    for (const id of ['BGPPeer//deep-1', 'BGPPeer//deep-2', 'BGPConfiguration//default']) {
      const line = logs.split('\n').find((l) => l.includes(`"object":"crd.projectcalico.org/${id}"`));
      expect(line, id).toContain(`nested more than ${MAX_VALUE_DEPTH} levels deep`);
    }
    // A fresh agent gets a snapshot without them.
    const late = new SyncClient({ addresses: [served.sync], syncer: 'bgp', hostname: 'agent-1' });
    clients.push(late);
    late.start();
    await waitFor(() => late.status === 'in-sync', 60_000, 'late agent in-sync');
    expect(late.state.get(Keys.bgpPeer('good-2')) !== undefined).toBe(true);
    expect(late.state.get(Keys.bgpPeer('deep-2')) !== undefined).toBe(false);
  });

  it('manifests nested 2,000 deep: a named error per file, and file-datastore serve and lint survive', async () => {
    // The YAML composer recursed into them until a second one aborted the process (exit 134).
    dir = await mkdtemp(join(tmpdir(), 'tabby-hostile-'));
    await writeFile(join(dir, 'deep-1.json'), peerJson('deep-1', deepJson(2_000)));
    await writeFile(join(dir, 'deep-2.json'), peerJson('deep-2', deepJson(2_000)));
    await writeFile(join(dir, 'deep-3.yaml'), `items:\n${'- '.repeat(2_000)}x\n`);
    await writeFile(join(dir, 'good.json'), peerJson('good'));

    const lint = await run(['lint', '-f', dir]);
    expect(lint.code, lint.stderr).toBe(1);
    for (const f of ['deep-1.json', 'deep-2.json', 'deep-3.yaml'])
      expect(lint.stdout).toMatch(new RegExp(`${f} does not load: nested more than \\d+ levels deep`));

    const served = await serve(['--datastore', 'file', '--path', dir]);
    procs.push(served.proc);
    const bgp = new SyncClient({ addresses: [served.sync], syncer: 'bgp', hostname: 'agent-0' });
    clients.push(bgp);
    bgp.start();
    const alive = () => served.proc.exitCode === null && served.proc.signalCode === null;
    await waitFor(() => bgp.status === 'in-sync' || !alive(), 60_000, 'bgp in-sync');
    expect(alive()).toBe(true);
    expect(bgp.state.get(Keys.bgpPeer('good'))).toBeDefined();
    const metrics = await (await fetch(`http://${served.health}/metrics`)).text();
    expect(metrics).toMatch(/^tabby_datastore_manifest_errors 3$/m);
  });
});
