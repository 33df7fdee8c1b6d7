// The whole agent path with real packets, once per dataplane (iptables, then nftables): manifests
// in a directory → FileDatastore → caches → SyncServer (loopback) → one SyncClient + PolicyAgent
// per lab node (in this process) → PolicyCalculator → the dataplane's real driver inside each node
// namespace. Each run builds its own Lab (own namespaces, own server); what is dataplane-specific
// (building the driver, reading back what it programmed) sits behind harness/agent-dataplanes.ts.
// The lab carries the seed lab's identities (as iptables-lab.test.ts), each pod's host-side veth
// renamed to the cali+hash name the converter gives its workload endpoint. Real TCP verdicts must
// equal explain() over an agent's calculator; then a label change and a policy change are written
// to the manifest files and the time until real traffic flips is measured.

import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { explain } from '../../src/agent/dataplane/maps/index.js';
import { PolicyAgent } from '../../src/agent/runtime/policy-agent.js';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject, interfaceName } from '../../src/datastore/convert/index.js';
import { FileDatastore } from '../../src/datastore/file/file-datastore.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import { type Stack, startStack } from '../harness/stack.js';
import { AGENT_DATAPLANES, type AgentDataplaneKind, type NodeDataplane } from './harness/agent-dataplanes.js';
import { addMetadataServer, METADATA, renameHostIface } from './harness/agent-lab.js';
import { Cleanup } from './harness/cleanup.js';
import { describeE2E, preflight } from './harness/preflight.js';
import { IDENTITIES, labObjects, podObject } from './harness/seed-lab.js';
import { Lab } from './harness/topology.js';

/** Propagation must reach real traffic within this long. */
const PROPAGATION_BUDGET_MS = 5000;

const SECURITY = Keys.policy('GlobalNetworkPolicy', '', 'security.block-metadata');
const rule = (tier: string, policy: string, ruleIndex: number, action: 'allow' | 'deny') => ({
  kind: 'rule',
  tier,
  policy,
  ruleIndex,
  action,
});

type Proto = 'tcp' | 'udp';

/** Where Tabby enters the kernel's paths, as `table/HOOK`. */
const HOOKS = [
  'filter/FORWARD',
  'filter/INPUT',
  'filter/OUTPUT',
  'mangle/PREROUTING',
  'raw/OUTPUT',
  'raw/PREROUTING',
];

/** Every namespace a dataplane run used: the next run must not reuse any. */
const namespacesUsed = new Set<string>();

/** Propagation times per dataplane (what → ms), printed side by side once both runs are done. */
const timings = new Map<string, Map<string, number>>();
function record(dataplane: string, what: string, ms: number): void {
  if (!timings.has(dataplane)) timings.set(dataplane, new Map());
  timings.get(dataplane)!.set(what, ms);
  console.log(`[agent-lab ${dataplane}] ${what} after ${ms.toFixed(0)} ms`);
}

afterAll(() => {
  const names = [...timings.keys()];
  const whats = [...new Set([...timings.values()].flatMap((m) => [...m.keys()]))];
  if (whats.length === 0) return;
  const cell = (d: string, w: string) => timings.get(d)?.get(w)?.toFixed(0).padStart(6) ?? '     -';
  console.log(
    [
      `[agent-lab] propagation (ms): ${names.join(' / ')}`,
      ...whats.map((w) => `  ${names.map((d) => cell(d, w)).join(' ')}  ${w}`),
    ].join('\n'),
  );
});

const reasons = await Promise.all(AGENT_DATAPLANES.map((d) => preflight(d.tools)));
for (const [i, kind] of AGENT_DATAPLANES.entries())
  describeE2E(
    `e2e agent: manifests → server → per-node agents → ${kind.name}, with real packets`,
    reasons[i],
    () => agentLabSuite(kind),
  );

function agentLabSuite(kind: AgentDataplaneKind): void {
  let lab: Lab;
  let stack: Stack | undefined;
  let files: FileDatastore | undefined;
  let dir = '';
  const extra = new Cleanup();
  const agents = new Map<string, PolicyAgent>();
  const dataplanes = new Map<string, NodeDataplane>();
  const pod = (name: string) => lab.pods.find((p) => IDENTITIES[p.name]!.name === name)!;

  /** Writes a manifest file atomically (a dot-file, which the datastore skips, then a rename). */
  async function writeManifests(file: string, objs: readonly KubeObject[]): Promise<void> {
    const tmp = join(dir, `.${file}.tmp`);
    await writeFile(tmp, objs.map((o) => stringify(o)).join('---\n'));
    await rename(tmp, join(dir, file));
  }

  /** A lab pod's name (its identity) or a literal address. */
  const ipOf = (dst: string) => (/^\d/.test(dst) ? dst : pod(dst).ip);

  /** explain() over every agent's calculator; they must agree. Returns one of them. */
  const explainAll = (src: string, dst: string, port: number, protocol: Proto = 'tcp') => {
    const flow = { srcIp: pod(src).ip, dstIp: ipOf(dst), protocol, dstPort: port };
    const all = [...agents.values()].map((a) => explain(a.calc, flow));
    // Both nodes' calculators see the whole cluster: they must agree.
    expect(new Set(all.map((e) => e.verdict)).size, `${src} -> ${dst}:${port}: calculators disagree`).toBe(1);
    return all[0]!;
  };
  const expected = (src: string, dst: string, port: number, protocol: Proto = 'tcp') =>
    explainAll(src, dst, port, protocol).verdict;

  /** One real probe: TCP connect or UDP echo; an answer is 'open', silence (a DROP) 'closed'. */
  async function probe(src: string, dst: string, port: number, protocol: Proto, timeoutMs: number) {
    const got =
      protocol === 'tcp'
        ? await pod(src).connect(ipOf(dst), port, { timeoutMs })
        : await pod(src).udpPing(ipOf(dst), port, { timeoutMs });
    if (got === 'connected' || got === 'reply') return 'open';
    if (got === 'timeout') return 'closed';
    return got;
  }

  /** Real traffic vs explain() for a flow. */
  async function check(
    src: string,
    dst: string,
    port: number,
    protocol: Proto = 'tcp',
  ): Promise<'allow' | 'deny'> {
    const verdict = expected(src, dst, port, protocol);
    const got = await probe(src, dst, port, protocol, verdict === 'allow' ? 3000 : 400);
    expect(got, `${src} -> ${dst}:${port}/${protocol}`).toBe(verdict === 'allow' ? 'open' : 'closed');
    return verdict;
  }

  /**
   * Several flows at once: each verdict from explain() must be the one written down, and real
   * traffic must match it. The probes run concurrently (they are independent connections), which
   * keeps the 400 ms a DROP takes to show from adding up over both dataplane runs.
   */
  async function checkAll(
    flows: readonly (readonly [
      src: string,
      dst: string,
      port: number,
      want: 'allow' | 'deny',
      proto?: Proto,
    ])[],
  ): Promise<void> {
    for (const [src, dst, port, want, proto] of flows)
      expect(expected(src, dst, port, proto), `explain ${src} -> ${dst}:${port}/${proto ?? 'tcp'}`).toBe(
        want,
      );
    await Promise.all(flows.map(([src, dst, port, , proto]) => check(src, dst, port, proto)));
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
    want: 'open' | 'closed',
    protocol: Proto = 'tcp',
  ): Promise<number> {
    for (;;) {
      const start = performance.now();
      if (start - t0 > PROPAGATION_BUDGET_MS + 2000)
        throw new Error(`${src} -> ${dst}:${port}/${protocol} did not become ${want}`);
      const got = await probe(src, dst, port, protocol, 150);
      if (got !== want) continue;
      // A short timeout could be a slow answer rather than a DROP: confirm with a longer probe.
      if (want === 'closed' && (await probe(src, dst, port, protocol, 400)) !== want) continue;
      return start - t0;
    }
  }

  /** Removes a manifest file (the datastore deletes its objects). */
  const removeManifests = (file: string) => rm(join(dir, file));
  const settled = () => Promise.all([...agents.values()].map((a) => a.settled()));

  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, podsPerNode: 3 });
    for (const p of lab.pods) {
      const id = IDENTITIES[p.name]!;
      await renameHostIface(p, interfaceName(id.ns, id.name));
    }
    await Promise.all(lab.pods.flatMap((p) => [p.listen(80), p.listen(8080)]));
    await pod('coredns').listenUdp(53);
    const metaNs = await addMetadataServer(lab, lab.node('node0'), extra);
    // Each dataplane run has namespaces of its own (the Lab's run id is in every name).
    const mine = [...lab.namespaces, metaNs];
    expect(
      mine.filter((ns) => namespacesUsed.has(ns)),
      'namespaces shared between runs',
    ).toEqual([]);
    for (const ns of mine) namespacesUsed.add(ns);
    // Before any policy: every pair connects through the renamed veths (routes and proxy-ARP
    // survived the rename; this also warms the neighbour caches). Every pod reaches the metadata
    // server (same node and across) and CoreDNS answers UDP 53.
    const open = await Promise.all([
      ...lab.pods.flatMap((a) => lab.pods.filter((b) => b !== a).map((b) => a.connect(b.ip, 80))),
      ...lab.pods.map((a) => a.connect(METADATA, 80)),
    ]);
    expect(new Set(open)).toEqual(new Set(['connected']));
    const dns = await Promise.all(
      lab.pods.filter((a) => a !== pod('coredns')).map((a) => a.udpPing(pod('coredns').ip, 53)),
    );
    expect(new Set(dns)).toEqual(new Set(['reply']));

    dir = await mkdtemp(join(tmpdir(), 'tabby-agent-lab-'));
    await writeManifests('lab.yaml', labObjects());
    for (const p of lab.pods) await writeManifests(`pod-${IDENTITIES[p.name]!.name}.yaml`, [podObject(p)]);
    stack = await startStack();
    files = new FileDatastore({ path: dir, convert: convertObject, log: silentLogger, debounceMs: 50 });
    await files.start(stack.router);
    expect(files.lastErrors).toEqual([]);

    for (const node of lab.nodes) {
      const dp = kind.create(node.ns, silentLogger);
      dataplanes.set(node.name, dp);
      const client = new SyncClient({ addresses: [stack.address], syncer: 'felix', hostname: node.name });
      const agent = new PolicyAgent(node.name, client, dp.dataplane, silentLogger, 20);
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
      // Read back from the kernel (iptables-save / nft -j): the same hooks under both dataplanes
      // and a dispatch that sends exactly those interfaces to their own endpoint chains.
      const state = await kind.read(lab.node(name));
      expect(state.present).toBe(true);
      expect(state.hooks).toEqual(HOOKS);
      expect(state.toWorkload).toEqual(ifaces.map((i) => [i, `tabby-tw-${i}`]));
      expect(state.fromWorkload).toEqual(ifaces.map((i) => [i, `tabby-fw-${i}`]));
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop().catch(() => undefined)));
    await files?.stop().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
    for (const d of dataplanes.values()) await d.cleanup().catch(() => undefined);
    await extra.run().catch(() => undefined);
    await lab?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the lab criteria, with real TCP, equal explain() over the agents (same node and across)', async () => {
    await checkAll([
      ['frontend', 'api', 80, 'allow'], // same node
      ['frontend', 'api-2', 80, 'allow'], // across nodes
      ['frontend', 'db', 80, 'deny'],
      ['frontend-2', 'db', 80, 'deny'], // same node (node1)
      ['api', 'db', 80, 'allow'],
      ['api-2', 'db', 80, 'allow'],
      // Calico semantics: nothing governs db egress in the application tier, nor frontend ingress.
      ['db', 'frontend', 80, 'allow'],
      ['db', 'frontend-2', 80, 'allow'],
      ['frontend', 'api', 8080, 'deny'],
    ]);
  });

  it('a label change in a manifest reaches real traffic within 5 s', async () => {
    // api-2 becomes app=other: api-policy no longer selects it (so its egress is open: no
    // application-tier policy applies, the profile allows), but db-policy's ingress only allows
    // app=api from backend, so api-2 -> db:80 becomes deny. api -> db stays allow.
    const t0 = performance.now();
    await writeManifests('pod-api-2.yaml', [podObject(pod('api-2'), { app: 'other' })]);
    const ms = await timeUntil(t0, 'api-2', 'db', 80, 'closed');
    record(kind.name, 'label change (api-2 app=other): api-2 -> db:80 denied', ms);
    expect(ms).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await Promise.all([...agents.values()].map((a) => a.settled()));
    await checkAll([
      ['api-2', 'db', 80, 'deny'],
      ['api', 'db', 80, 'allow'],
      ['frontend', 'api-2', 80, 'deny'], // frontend-policy wants app=api
      ['api-2', 'frontend', 80, 'allow'], // no application policy on api-2 now
    ]);
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
    const ms = await timeUntil(t0, 'frontend', 'db', 80, 'open');
    record(kind.name, 'policy change (frontend <-> db allowed): frontend -> db:80 allowed', ms);
    expect(ms).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await Promise.all([...agents.values()].map((a) => a.settled()));
    await checkAll([
      ['frontend', 'db', 80, 'allow'],
      ['frontend-2', 'db', 80, 'allow'], // same node (node1)
      ['frontend', 'db', 8080, 'deny'],
      ['api', 'db', 80, 'allow'],
      ['api-2', 'db', 80, 'deny'], // still app=other
    ]);
    for (const [name, a] of agents) expect(a.stats.failures, `${name}: ${a.stats.lastError}`).toBe(0);
    console.log(
      `[agent-lab ${kind.name}] applies: ${[...agents].map(([n, a]) => `${n}=${a.stats.applies} (last ${a.stats.lastApplyMs.toFixed(0)} ms)`).join(', ')}`,
    );
  });

  it('the metadata address: a real server in the lab, denied by security.block-metadata', async () => {
    // beforeAll showed every pod connects to 169.254.169.254:80 without policy. Now: security
    // (order 100) is the first tier, block-metadata selects all() for egress and its rule 0
    // denies 169.254.169.254/32, so the flow is decided there, before platform or application.
    // The server is not an endpoint: there is no ingress side to consult.
    for (const src of ['frontend', 'db']) {
      const e = explainAll(src, METADATA, 80);
      expect(e.egress.decidedBy).toEqual(rule('security', SECURITY, 0, 'deny'));
      expect(e.ingress.decidedBy).toEqual({ kind: 'unmanaged' });
    }
    // The same pods still reach api:80: frontend by frontend-policy rule 0, db by its profile
    // (nothing governs db egress in the application tier; nothing selects api for ingress).
    await checkAll([
      ['frontend', METADATA, 80, 'deny'], // same node as the server
      ['db', METADATA, 80, 'deny'], // across
      ['frontend', 'api', 80, 'allow'],
      ['db', 'api', 80, 'allow'],
    ]);
  });

  it('a Kubernetes NetworkPolicy (default tier) closes frontend ingress to all but db, within 5 s', async () => {
    // Before: nothing selects frontend pods for ingress, so their ingress is decided by the
    // kns.frontend profile (allow). coredns -> frontend:80 is allowed: coredns egress passes
    // security and platform (not 53) and no application policy selects coredns, so its profile
    // allows. (api -> frontend:80 was never allowed: api-policy rule 1 denies it on egress.)
    const FRONTEND_KNP = Keys.policy('KubernetesNetworkPolicy', 'frontend', 'frontend-ingress');
    await checkAll([
      ['coredns', 'frontend', 80, 'allow'],
      ['coredns', 'frontend-2', 80, 'allow'],
      ['db', 'frontend', 80, 'allow'],
      ['api', 'frontend', 80, 'deny'],
    ]);
    const knp = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'frontend-ingress', namespace: 'frontend' },
      spec: {
        podSelector: { matchLabels: { app: 'frontend' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'database' } },
                podSelector: { matchLabels: { app: 'db' } },
              },
            ],
            ports: [{ protocol: 'TCP', port: 80 }],
          },
        ],
      },
    } as unknown as KubeObject;
    // After: the KNP (default tier) selects both frontend pods for ingress, so the default tier
    // applies to their ingress; the application tier still has no ingress policy for them.
    // db -> frontend:80 matches its one rule (allow); anything else reaches the end of the
    // default tier (deny): coredns -> frontend:80, db -> frontend:8080.
    const t0 = performance.now();
    await writeManifests('knp.yaml', [knp]);
    const ms = await timeUntil(t0, 'coredns', 'frontend', 80, 'closed');
    record(kind.name, 'KNP added: coredns -> frontend:80 denied', ms);
    expect(ms).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await settled();
    expect(explainAll('coredns', 'frontend', 80).ingress.decidedBy).toEqual({
      kind: 'tier-end',
      tier: 'default',
    });
    expect(explainAll('db', 'frontend', 80).ingress.decidedBy).toEqual(
      rule('default', FRONTEND_KNP, 0, 'allow'),
    );
    await checkAll([
      ['coredns', 'frontend', 80, 'deny'],
      ['coredns', 'frontend-2', 80, 'deny'], // frontend-2 is on node1
      ['db', 'frontend', 80, 'allow'],
      ['db', 'frontend-2', 80, 'allow'], // same node (node1)
      ['db', 'frontend', 8080, 'deny'],
      ['frontend', 'api', 80, 'allow'], // frontend's egress is untouched
    ]);

    // Removing the manifest removes the policy: frontend ingress is back to the profile.
    const t1 = performance.now();
    await removeManifests('knp.yaml');
    const back = await timeUntil(t1, 'coredns', 'frontend', 80, 'open');
    record(kind.name, 'KNP removed: coredns -> frontend:80 allowed', back);
    expect(back).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await settled();
    await checkAll([
      ['coredns', 'frontend', 80, 'allow'],
      ['db', 'frontend', 8080, 'allow'],
    ]);
  });

  it('a tier that allows without Pass drops all other egress, DNS included; defaultAction Pass fixes it', async () => {
    // A tier "gate" (order 150, between security and platform; no defaultAction, so Deny) with
    // one GlobalNetworkPolicy selecting all() for egress that only allows TCP 80. Calico: the
    // gate tier applies to every pod's egress; Allow is final, so TCP 80 egress is decided
    // there (later tiers never run for it); every other egress flow reaches the end of the gate
    // tier and is dropped — platform's DNS allow is never reached.
    const gateTier = (defaultAction?: 'Pass') => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'Tier',
      metadata: { name: 'gate' },
      spec: { order: 150, ...(defaultAction ? { defaultAction } : {}) },
    });
    const GATE = Keys.policy('GlobalNetworkPolicy', '', 'gate.http-only');
    const gatePolicy = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'gate.http-only' },
      spec: {
        tier: 'gate',
        order: 10,
        selector: 'all()',
        types: ['Egress'],
        egress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }],
      },
    };
    // Before: DNS is allowed by platform rule 0; db -> coredns:8080 by profiles (no application
    // policy on db egress nor on coredns ingress); frontend -> coredns:80 is denied by
    // frontend-policy rule 1 (it only allows app=api in backend, and the added db rule).
    await checkAll([
      ['frontend', 'coredns', 53, 'allow', 'udp'],
      ['db', 'coredns', 53, 'allow', 'udp'], // across nodes
      ['db', 'coredns', 8080, 'allow'],
      ['frontend', 'coredns', 80, 'deny'],
    ]);

    const t0 = performance.now();
    await writeManifests('gate.yaml', [gateTier(), gatePolicy] as unknown as KubeObject[]);
    const ms = await timeUntil(t0, 'frontend', 'coredns', 53, 'closed', 'udp');
    record(kind.name, 'gate tier (no Pass): frontend -> coredns:53/udp denied', ms);
    expect(ms).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await settled();
    const gateEnd = [
      ['frontend', 'coredns', 53, 'deny', 'udp'],
      ['db', 'coredns', 53, 'deny', 'udp'],
      ['db', 'coredns', 8080, 'deny'],
      ['frontend', 'api', 8080, 'deny'],
    ] as const;
    for (const [src, dst, port, , proto] of gateEnd)
      expect(explainAll(src, dst, port, proto).egress.decidedBy).toEqual({ kind: 'tier-end', tier: 'gate' });
    // TCP 80 egress is allowed by the gate tier itself, so the application tier's egress Deny is
    // skipped: frontend -> coredns:80 becomes allowed (coredns ingress: its profile).
    expect(explainAll('frontend', 'coredns', 80).egress.decidedBy).toEqual(rule('gate', GATE, 0, 'allow'));
    // The metadata address is still denied first, by security (order 100 < 150).
    expect(explainAll('frontend', METADATA, 80).egress.decidedBy).toEqual(
      rule('security', SECURITY, 0, 'deny'),
    );
    await checkAll([
      ...gateEnd,
      ['frontend', 'coredns', 80, 'allow'],
      ['frontend', 'api', 80, 'allow'],
      ['api', 'db', 80, 'allow'], // ingress still decided by db-policy
      ['frontend', METADATA, 80, 'deny'],
    ]);

    // The fix: defaultAction Pass. Unmatched flows go on to platform (DNS allowed by rule 0)
    // and on to the application tier / profiles; the gate's Allow still decides TCP 80.
    const t1 = performance.now();
    await writeManifests('gate.yaml', [gateTier('Pass'), gatePolicy] as unknown as KubeObject[]);
    const back = await timeUntil(t1, 'frontend', 'coredns', 53, 'open', 'udp');
    record(kind.name, 'gate tier Pass: frontend -> coredns:53/udp allowed', back);
    expect(back).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await settled();
    await checkAll([
      ['frontend', 'coredns', 53, 'allow', 'udp'],
      ['db', 'coredns', 53, 'allow', 'udp'],
      ['db', 'coredns', 8080, 'allow'],
      ['frontend', 'api', 8080, 'deny'], // frontend-policy rule 1 again
      ['frontend', 'coredns', 80, 'allow'], // still the gate's Allow
    ]);

    // Removing the tier restores the lab: frontend -> coredns:80 is denied by frontend-policy.
    // The file is emptied rather than deleted: Node 20's recursive fs.watch on Linux reports no
    // event when a file that was replaced by a rename is then unlinked, so FileDatastore would
    // not reload (knp.yaml above, written once, is deleted fine).
    const t2 = performance.now();
    await writeManifests('gate.yaml', []);
    const gone = await timeUntil(t2, 'frontend', 'coredns', 80, 'closed');
    record(kind.name, 'gate tier removed: frontend -> coredns:80 denied', gone);
    expect(gone).toBeLessThanOrEqual(PROPAGATION_BUDGET_MS);
    await settled();
    await checkAll([
      ['frontend', 'coredns', 80, 'deny'],
      ['frontend', 'coredns', 53, 'allow', 'udp'],
    ]);
    for (const [name, a] of agents) expect(a.stats.failures, `${name}: ${a.stats.lastError}`).toBe(0);
  });

  it(`stopping the agents and cleaning up removes all of Tabby's ${kind.name} state; traffic is open again`, async () => {
    // The agents never flush on their own (a server outage must not open the node), so the
    // cleanup is explicit: it must leave nothing of Tabby's (no chains or ipsets; no table).
    await Promise.all([...agents.values()].map((a) => a.stop()));
    for (const node of lab.nodes) {
      await dataplanes.get(node.name)!.cleanup();
      expect(await kind.read(node), node.name).toEqual({
        present: false,
        hooks: [],
        toWorkload: [],
        fromWorkload: [],
      });
    }
    // Flows the policies denied now connect: ingress and egress, same node and across.
    expect(await pod('frontend').connect(pod('db').ip, 8080)).toBe('connected');
    expect(await pod('api-2').connect(pod('db').ip, 80)).toBe('connected');
    expect(await pod('frontend').connect(METADATA, 80)).toBe('connected');
  });
}
