// The agent path under the bpf dataplane: manifests in a directory → FileDatastore → server →
// one SyncClient + PolicyAgent per lab node → BpfDataplane (maps compiled, one batch per apply,
// tc programs on the cali+hash veths). Real TCP must equal explain() over an agent's calculator;
// a label change written to the manifest files must reach real traffic.

import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { BpfDriver } from '../../src/agent/dataplane/bpf/index.js';
import { BpfDataplane } from '../../src/agent/dataplane/bpf/manager.js';
import { explain } from '../../src/agent/dataplane/maps/index.js';
import { PolicyAgent } from '../../src/agent/runtime/policy-agent.js';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject, interfaceName } from '../../src/datastore/convert/index.js';
import { FileDatastore } from '../../src/datastore/file/file-datastore.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { silentLogger } from '../../src/model/logger.js';
import { type Stack, startStack } from '../harness/stack.js';
import { renameHostIface } from './harness/agent-lab.js';
import { bpfDriver, describeBpf } from './harness/bpf-node.js';
import { IDENTITIES, labObjects, podObject } from './harness/seed-lab.js';
import { Lab } from './harness/topology.js';

await describeBpf('e2e bpf agent: manifests → server → per-node agents → tc programs, real packets', () => {
  let lab: Lab;
  let stack: Stack | undefined;
  let files: FileDatastore | undefined;
  let dir = '';
  const agents = new Map<string, PolicyAgent>();
  const drivers = new Map<string, BpfDriver>();
  const pod = (name: string) => lab.pods.find((p) => IDENTITIES[p.name]!.name === name)!;
  const write = async (file: string, objs: readonly KubeObject[]) => {
    const tmp = join(dir, `.${file}.tmp`);
    await writeFile(tmp, objs.map((o) => stringify(o)).join('---\n'));
    await rename(tmp, join(dir, file));
  };
  const verdict = (src: string, dst: string, port: number) =>
    explain(agents.get('node0')!.calc, {
      srcIp: pod(src).ip,
      dstIp: pod(dst).ip,
      protocol: 'tcp',
      dstPort: port,
    }).verdict;
  async function check(src: string, dst: string, port: number): Promise<'allow' | 'deny'> {
    const v = verdict(src, dst, port);
    const got = await pod(src).connect(pod(dst).ip, port, { timeoutMs: v === 'allow' ? 3000 : 400 });
    expect(got, `${src} -> ${dst}:${port}`).toBe(v === 'allow' ? 'connected' : 'timeout');
    return v;
  }
  /** Polls until src -> dst:port gives `want`; ms since t0. */
  async function until(t0: number, src: string, dst: string, port: number, want: 'connected' | 'timeout') {
    for (;;) {
      if (performance.now() - t0 > 7000) throw new Error(`${src} -> ${dst}:${port} never ${want}`);
      const got = await pod(src).connect(pod(dst).ip, port, { timeoutMs: 200 });
      if (got === want) return performance.now() - t0;
    }
  }

  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, podsPerNode: 3 });
    for (const p of lab.pods) {
      const id = IDENTITIES[p.name]!;
      await renameHostIface(p, interfaceName(id.ns, id.name));
    }
    await Promise.all(lab.pods.map((p) => p.listen(80)));
    const open = await Promise.all(
      lab.pods.flatMap((a) => lab.pods.filter((b) => b !== a).map((b) => a.connect(b.ip, 80))),
    );
    expect(new Set(open)).toEqual(new Set(['connected']));
    dir = await mkdtemp(join(tmpdir(), 'tabby-bpf-agent-'));
    await write('lab.yaml', labObjects());
    for (const p of lab.pods) await write(`pod-${IDENTITIES[p.name]!.name}.yaml`, [podObject(p)]);
    stack = await startStack();
    files = new FileDatastore({ path: dir, convert: convertObject, log: silentLogger, debounceMs: 50 });
    await files.start(stack.router);
    for (const node of lab.nodes) {
      const driver = bpfDriver(lab, node);
      drivers.set(node.name, driver);
      const client = new SyncClient({ addresses: [stack.address], syncer: 'felix', hostname: node.name });
      const agent = new PolicyAgent(
        node.name,
        client,
        new BpfDataplane(silentLogger, driver),
        silentLogger,
        20,
      );
      agents.set(node.name, agent);
      agent.start();
    }
    await Promise.all([...agents.values()].map((a) => a.settled()));
    for (const [name, a] of agents) expect(a.stats.failures, `${name}: ${a.stats.lastError}`).toBe(0);
  }, 60_000);

  afterAll(async () => {
    for (const a of agents.values()) await a.stop().catch(() => undefined);
    for (const d of drivers.values()) await d.cleanup().catch(() => undefined);
    await files?.stop();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    await lab?.destroy();
  });

  it('the lab criteria through the agents equal explain()', async () => {
    expect(await check('frontend', 'api', 80)).toBe('allow');
    expect(await check('frontend', 'api-2', 80)).toBe('allow');
    expect(await check('frontend', 'db', 80)).toBe('deny');
    expect(await check('api-2', 'db', 80)).toBe('allow');
    expect(await check('api', 'frontend', 80)).toBe('deny');
  });

  it('a label change in the manifests reaches real traffic, and back', async () => {
    const t0 = performance.now();
    await write('pod-api-2.yaml', [podObject(lab.pod('node1-pod2'), { app: 'other', tier: 'backend' })]);
    const denied = await until(t0, 'api-2', 'db', 80, 'timeout');
    console.log(`[bpf-agent] label change: api-2 -> db:80 denied after ${denied.toFixed(0)} ms`);
    await write('pod-api-2.yaml', [podObject(lab.pod('node1-pod2'))]);
    await until(performance.now(), 'api-2', 'db', 80, 'connected');
    for (const a of agents.values()) expect(a.stats.failures).toBe(0);
  });
});
