// The whole agent path with real packets: manifests in a directory → FileDatastore → caches →
// SyncServer (loopback) → one SyncClient + PolicyAgent per lab node (in this process) →
// PolicyCalculator → IptablesDataplane → the real driver inside each node namespace. The lab
// carries the seed lab's identities (as iptables-lab.test.ts), each pod's host-side veth renamed
// to the cali+hash name the converter gives its workload endpoint. Real TCP verdicts must equal
// explain() over an agent's calculator; then a label change and a policy change are written to
// the manifest files and the time until real traffic flips is measured.

import { readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { PolicyAgent } from '../../src/agent/agent.js';
import { explain } from '../../src/agent/calc/index.js';
import { execShim, IptablesDriver } from '../../src/agent/dataplane/iptables/index.js';
import { IptablesDataplane } from '../../src/agent/iptables-dataplane.js';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject, interfaceName } from '../../src/datastore/convert/index.js';
import { FileDatastore } from '../../src/datastore/file/file-datastore.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { silentLogger } from '../../src/model/logger.js';
import { type Stack, startStack } from '../harness/stack.js';
import { exec } from './harness/exec.js';
import { describeE2E, preflight } from './harness/preflight.js';
import { Lab, type LabPod } from './harness/topology.js';

const reason = await preflight(['ip', 'iptables', 'iptables-restore', 'iptables-save', 'ipset']);

/** Lab pod -> the seed lab identity it takes (namespace, name, labels, service account). */
const IDENTITIES: Record<string, { ns: string; name: string; labels: Record<string, string>; sa: string }> = {
  'node0-pod0': { ns: 'frontend', name: 'frontend', labels: { app: 'frontend', tier: 'web' }, sa: 'default' },
  'node0-pod1': { ns: 'backend', name: 'api', labels: { app: 'api', tier: 'backend' }, sa: 'default' },
  'node0-pod2': { ns: 'kube-system', name: 'coredns', labels: { 'k8s-app': 'kube-dns' }, sa: 'coredns' },
  'node1-pod0': { ns: 'database', name: 'db', labels: { app: 'db', tier: 'data' }, sa: 'default' },
  'node1-pod1': {
    ns: 'frontend',
    name: 'frontend-2',
    labels: { app: 'frontend', tier: 'web' },
    sa: 'default',
  },
  'node1-pod2': { ns: 'backend', name: 'api-2', labels: { app: 'api', tier: 'backend' }, sa: 'default' },
};

/** Propagation must reach real traffic within this long. */
const PROPAGATION_BUDGET_MS = 5000;

function labObjects(): KubeObject[] {
  const text = readFileSync(new URL('../fixtures/calc/lab.yaml', import.meta.url), 'utf8');
  return parseAllDocuments(text, { uniqueKeys: false })
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o.kind !== 'Pod');
}

function podObject(pod: LabPod, labels?: Record<string, string>): KubeObject {
  const id = IDENTITIES[pod.name]!;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: id.name, namespace: id.ns, labels: labels ?? id.labels },
    spec: {
      nodeName: pod.node.name,
      serviceAccountName: id.sa,
      containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }] }],
    },
    status: { podIP: pod.ip },
  } as unknown as KubeObject;
}

/** Renames a pod's node-side veth to `name`, keeping its /32 route (a link going down drops it). */
async function renameHostIface(pod: LabPod, name: string): Promise<void> {
  await exec('ip', ['-n', pod.node.ns, '-batch', '-'], {
    input: `${[
      `link set ${pod.hostIface} down`,
      `link set ${pod.hostIface} name ${name}`,
      `link set ${name} up`,
      `route replace ${pod.ip}/32 dev ${name} scope link`,
    ].join('\n')}\n`,
  });
}

describeE2E('e2e agent: manifests → server → per-node agents → iptables, with real packets', reason, () => {
  let lab: Lab;
  let stack: Stack | undefined;
  let files: FileDatastore | undefined;
  let dir = '';
  const agents = new Map<string, PolicyAgent>();
  const drivers = new Map<string, IptablesDriver>();
  const pod = (name: string) => lab.pods.find((p) => IDENTITIES[p.name]!.name === name)!;

  /** Writes a manifest file atomically (a dot-file, which the datastore skips, then a rename). */
  async function writeManifests(file: string, objs: readonly KubeObject[]): Promise<void> {
    const tmp = join(dir, `.${file}.tmp`);
    await writeFile(tmp, objs.map((o) => stringify(o)).join('---\n'));
    await rename(tmp, join(dir, file));
  }

  const expected = (src: string, dst: string, port: number) => {
    const flow = { srcIp: pod(src).ip, dstIp: pod(dst).ip, protocol: 'tcp' as const, dstPort: port };
    const verdicts = [...agents.values()].map((a) => explain(a.calc, flow).verdict);
    // Both nodes' calculators see the whole cluster: they must agree.
    expect(new Set(verdicts).size, `${src} -> ${dst}:${port}: calculators disagree`).toBe(1);
    return verdicts[0]!;
  };

  /** Real connect vs explain() for a TCP flow. */
  async function check(src: string, dst: string, port: number): Promise<'allow' | 'deny'> {
    const verdict = expected(src, dst, port);
    const got = await pod(src).connect(pod(dst).ip, port, { timeoutMs: verdict === 'allow' ? 3000 : 400 });
    expect(got, `${src} -> ${dst}:${port}`).toBe(verdict === 'allow' ? 'connected' : 'timeout');
    return verdict;
  }

  /**
   * Polls real connects (short timeouts) until `src → dst:port` reaches `want`; returns ms from
   * `t0` to the start of the first probe that showed it (each probe is a fresh connection).
   */
  async function timeUntil(
    t0: number,
    src: string,
    dst: string,
    port: number,
    want: 'connected' | 'timeout',
  ): Promise<number> {
    for (;;) {
      const start = performance.now();
      if (start - t0 > PROPAGATION_BUDGET_MS + 2000)
        throw new Error(`${src} -> ${dst}:${port} did not become ${want}`);
      const got = await pod(src).connect(pod(dst).ip, port, { timeoutMs: 150 });
      if (got !== want) continue;
      // A short timeout could be a slow connect rather than a DROP: confirm with a longer probe.
      if (want === 'timeout' && (await pod(src).connect(pod(dst).ip, port, { timeoutMs: 400 })) !== want)
        continue;
      return start - t0;
    }
  }

  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, podsPerNode: 3 });
    for (const p of lab.pods) {
      const id = IDENTITIES[p.name]!;
      await renameHostIface(p, interfaceName(id.ns, id.name));
    }
    await Promise.all(lab.pods.flatMap((p) => [p.listen(80), p.listen(8080)]));
    // Before any policy: every pair connects through the renamed veths (routes and proxy-ARP
    // survived the rename; this also warms the neighbour caches).
    const open = await Promise.all(
      lab.pods.flatMap((a) => lab.pods.filter((b) => b !== a).map((b) => a.connect(b.ip, 80))),
    );
    expect(new Set(open)).toEqual(new Set(['connected']));

    dir = await mkdtemp(join(tmpdir(), 'tabby-agent-lab-'));
    await writeManifests('lab.yaml', labObjects());
    for (const p of lab.pods) await writeManifests(`pod-${IDENTITIES[p.name]!.name}.yaml`, [podObject(p)]);
    stack = await startStack();
    files = new FileDatastore({ path: dir, convert: convertObject, log: silentLogger, debounceMs: 50 });
    await files.start(stack.router);
    expect(files.lastErrors).toEqual([]);

    for (const node of lab.nodes) {
      const driver = new IptablesDriver(execShim({ netns: node.ns }));
      drivers.set(node.name, driver);
      const client = new SyncClient({ addresses: [stack.address], syncer: 'felix', hostname: node.name });
      const agent = new PolicyAgent(
        node.name,
        client,
        new IptablesDataplane(silentLogger, driver),
        silentLogger,
        20,
      );
      agents.set(node.name, agent);
      agent.start();
    }
    await Promise.all([...agents.values()].map((a) => a.settled()));
    for (const [name, a] of agents) {
      expect(a.stats.failures, `${name}: ${a.stats.lastError}`).toBe(0);
      expect(a.stats.applies).toBeGreaterThan(0);
      // Each agent programs exactly its own node's three pods.
      expect(a.calc.plans().size).toBe(3);
      const ifaces = [...a.calc.plans().values()].map((plan) => plan.interfaceName).sort();
      const own = lab
        .node(name)
        .pods.map((p) => interfaceName(IDENTITIES[p.name]!.ns, IDENTITIES[p.name]!.name));
      expect(ifaces).toEqual(own.sort());
      // ... and those interfaces exist on the node (the renamed veths).
      for (const i of ifaces) await lab.node(name).exec('ip', ['link', 'show', 'dev', i]);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop().catch(() => undefined)));
    await files?.stop().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
    for (const d of drivers.values()) await d.cleanup().catch(() => undefined);
    await lab?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the lab criteria, with real TCP, equal explain() over the agents (same node and across)', async () => {
    expect(await check('frontend', 'api', 80)).toBe('allow'); // same node
    expect(await check('frontend', 'api-2', 80)).toBe('allow'); // across nodes
    expect(await check('frontend', 'db', 80)).toBe('deny');
    expect(await check('frontend-2', 'db', 80)).toBe('deny'); // same node (node1)
    expect(await check('api', 'db', 80)).toBe('allow');
    expect(await check('api-2', 'db', 80)).toBe('allow');
    // Calico semantics: nothing governs db egress in the application tier, nor frontend ingress.
    expect(await check('db', 'frontend', 80)).toBe('allow');
    expect(await check('db', 'frontend-2', 80)).toBe('allow');
    expect(await check('frontend', 'api', 8080)).toBe('deny');
  });

  it('a label change in a manifest reaches real traffic within 5 s', async () => {
    // api-2 becomes app=other: api-policy no longer selects it (so its egress is open: no
    // application-tier policy applies, the profile allows), but db-policy's ingress only allows
    // app=api from backend, so api-2 -> db:80 becomes deny. api -> db stays allow.
    const t0 = performance.now();
    await writeManifests('pod-api-2.yaml', [podObject(pod('api-2'), { app: 'other' })]);
    const ms = await timeUntil(t0, 'api-2', 'db', 80, 'timeout');
    console.log(
      `[agent-lab] label change (api-2 app=other): api-2 -> db:80 denied after ${ms.toFixed(0)} ms`,
    );
    expect(ms).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await Promise.all([...agents.values()].map((a) => a.settled()));
    expect(await check('api-2', 'db', 80)).toBe('deny');
    expect(await check('api', 'db', 80)).toBe('allow');
    expect(await check('frontend', 'api-2', 80)).toBe('deny'); // frontend-policy wants app=api
    expect(await check('api-2', 'frontend', 80)).toBe('allow'); // no application policy on api-2 now
  });

  it('a policy change in a manifest reaches real traffic within 5 s', async () => {
    // frontend -> db:80 is denied twice over: frontend-policy's egress (Allow only to app=api, then
    // Deny) and db-policy's ingress (Allow only from app=api, then Deny). Adding an Allow for
    // frontend in both — egress to app=db in database on 80, ingress from app=frontend in
    // frontend on 80 — makes it allow in Calico semantics (both directions decided by an Allow
    // in the application tier). frontend -> db:8080 stays deny (no port match on either side).
    const objs = labObjects().map((o) => {
      const spec = (o as unknown as { spec?: Record<string, unknown[]> }).spec;
      if (o.metadata.name === 'application.frontend-policy')
        spec!['egress']!.unshift({
          action: 'Allow',
          protocol: 'TCP',
          destination: {
            selector: 'app == "db"',
            namespaceSelector: 'projectcalico.org/name == "database"',
            ports: [80],
          },
        });
      if (o.metadata.name === 'application.db-policy')
        spec!['ingress']!.unshift({
          action: 'Allow',
          protocol: 'TCP',
          source: {
            selector: 'app == "frontend"',
            namespaceSelector: 'projectcalico.org/name == "frontend"',
          },
          destination: { ports: [80] },
        });
      return o;
    });
    const t0 = performance.now();
    await writeManifests('lab.yaml', objs);
    const ms = await timeUntil(t0, 'frontend', 'db', 80, 'connected');
    console.log(
      `[agent-lab] policy change (frontend <-> db allowed): frontend -> db:80 allowed after ${ms.toFixed(0)} ms`,
    );
    expect(ms).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await Promise.all([...agents.values()].map((a) => a.settled()));
    expect(await check('frontend', 'db', 80)).toBe('allow');
    expect(await check('frontend-2', 'db', 80)).toBe('allow'); // same node (node1)
    expect(await check('frontend', 'db', 8080)).toBe('deny');
    expect(await check('api', 'db', 80)).toBe('allow');
    expect(await check('api-2', 'db', 80)).toBe('deny'); // still app=other
    for (const [name, a] of agents) expect(a.stats.failures, `${name}: ${a.stats.lastError}`).toBe(0);
    console.log(
      `[agent-lab] applies: ${[...agents].map(([n, a]) => `${n}=${a.stats.applies} (last ${a.stats.lastApplyMs.toFixed(0)} ms)`).join(', ')}`,
    );
  });
});
