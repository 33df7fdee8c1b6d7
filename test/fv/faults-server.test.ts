// Server-side faults with real replica processes (`tabby serve --datastore kubernetes` on the
// API emulator), issue 14: a replica SIGKILLed in the middle of a snapshot storm (its agents
// fail over to the other and converge on the API's state), and every replica down for a
// while (a real `tabby agent --dry-run` keeps its dataplane untouched and its /livez at 200 —
// calico#6167: a control-plane outage must not restart agents — and converges once a replica
// is back). Outages are compressed to seconds; deadlines are generous, nothing is timed.
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, type Replica, SOURCE_ENTRY, startReplicas } from '../../loadtest/replicas.js';
import type { PolicyCalculator } from '../../src/agent/calc/index.js';
import type { PolicyDataplane } from '../../src/agent/runtime/parts.js';
import { PolicyAgent } from '../../src/agent/runtime/policy-agent.js';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.js';
import { silentLogger } from '../../src/model/logger.js';
import { SnapshotCache } from '../../src/snapcache/cache.js';
import { SyncerRouter } from '../../src/snapcache/router.js';
import { generateObjects } from '../../src/testing/sim/index.js';
import { tabby } from '../harness/cli.js';
import { type EmulatorHarness, pod, startEmulator } from '../harness/emulator.js';
import { TEST_CACHE_OPTIONS, waitFor } from '../harness/stack.js';

const SETTLE_MS = 120_000;
const BACKOFF = { initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0.3 };

let h: EmulatorHarness | undefined;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
  await h?.stop();
  h = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function replicasOn(sim: Parameters<typeof generateObjects>[0], n: number): Promise<Replica[]> {
  h = await startEmulator();
  h.emu.loadObjects(generateObjects(sim));
  const args = ['--datastore', 'kubernetes', '--kubeconfig', h.kubeconfigPath, '--log-level', 'warn'];
  const rs = await startReplicas(n, args, SOURCE_ENTRY, SETTLE_MS);
  cleanups.push(() => Promise.all(rs.map((r) => r.stop(5_000))));
  return rs;
}

async function sigkill(r: Replica): Promise<void> {
  const gone = once(r.proc!, 'exit');
  r.killNow();
  await gone;
}

/** The felix hash a fresh in-process datastore builds from the API now: the referee. */
async function apiHash(): Promise<string> {
  const caches = (['felix', 'bgp'] as const).map(
    (syncer) => new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer }),
  );
  const ds = new KubernetesDatastore({ kubeconfig: h!.kc, convert: convertObject, log: silentLogger });
  await ds.start(new SyncerRouter(caches));
  try {
    await waitFor(() => caches[0]!.status === 'in-sync', SETTLE_MS, 'referee in sync');
    caches[0]!.flush();
    return caches[0]!.stateHash;
  } finally {
    await ds.stop();
    for (const c of caches) c.close();
  }
}

/** Counts what each apply leaves programmed: an apply that leaves nothing after something is a flush. */
class CountingDataplane implements PolicyDataplane {
  readonly name = 'counting';
  readonly endpoints: number[] = [];
  async sync(calc: PolicyCalculator): Promise<void> {
    this.endpoints.push(calc.plans().size);
  }
}

describe('server-side faults', () => {
  it('SIGKILL of one of two replicas mid snapshot storm: its agents fail over and converge, no dataplane flushed', {
    timeout: 300_000,
  }, async () => {
    const sim = { nodes: 20, pods: 1_500, seed: 5 };
    const [a, b] = await replicasOn(sim, 2);
    const addresses = [a!, b!].map((r) => `127.0.0.1:${r.port}`);
    const clients = Array.from(
      { length: 60 },
      (_, i) =>
        new SyncClient({
          addresses,
          syncer: 'felix',
          hostname: `node-${i}`,
          backoff: BACKOFF,
          driftIntervalMs: 0,
        }),
    );
    const nodes = generateObjects(sim)
      .filter((o) => o.kind === 'Node')
      .map((o) => o.metadata.name);
    const dataplanes = nodes.slice(0, 4).map(() => new CountingDataplane());
    const agents = dataplanes.map((dp, i) => new PolicyAgent(nodes[i]!, clients[i]!, dp, silentLogger));
    cleanups.push(() => Promise.all([...agents.map((x) => x.stop()), ...clients.map((c) => c.stop())]));
    const killed = `127.0.0.1:${a!.port}`;
    const onKilled = new Set<SyncClient>();
    for (const c of clients) c.on('connected', (info) => info.address === killed && onKilled.add(c));

    // The storm: every agent at once; the replica dies once some of its agents are connected.
    for (const x of agents) x.start();
    for (const c of clients.slice(agents.length)) c.start();
    await waitFor(() => onKilled.size >= 5, SETTLE_MS, 'agents on the doomed replica');
    const midSnapshot = [...onKilled].filter((c) => c.status !== 'in-sync').length;
    await sigkill(a!);
    console.log(
      `SIGKILL with ${onKilled.size} agents on it, ${midSnapshot} of them still taking their snapshot`,
    );
    h!.emu.create(pod('after-kill', 'faults'));

    const want = await apiHash();
    // A client keeps its state (and says in-sync) while it waits to redial, so being at the
    // API's hash is not enough: the killed replica's agents must also be on the survivor.
    const survivor = `replica-${b!.index}`;
    await waitFor(
      () =>
        clients.every((c) => c.status === 'in-sync' && c.state.hashHex() === want) &&
        [...onKilled].every((c) => c.serverId === survivor),
      SETTLE_MS,
      "every agent at the API state, the killed replica's on the survivor",
    );
    for (const dp of dataplanes) {
      expect(dp.endpoints.length).toBeGreaterThan(0);
      const first = dp.endpoints.findIndex((n) => n > 0);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(dp.endpoints.slice(first)).not.toContain(0);
    }
  });

  it('all replicas down for 30 s: the agent stays live, its dataplane untouched, not ready after the grace; it converges when one returns', {
    timeout: 300_000,
  }, async () => {
    const sim = { nodes: 4, pods: 60, seed: 9 };
    const [a, b] = await replicasOn(sim, 2);
    const objects = generateObjects(sim);
    const node = objects.find((o) => o.kind === 'Node')!.metadata.name;
    // A workload of this node, deleted during the outage: its endpoint must go once a replica is back.
    const victim = objects.find(
      (o) =>
        o.kind === 'Pod' &&
        (o.spec as { nodeName?: string })?.nodeName === node &&
        (o.status as { podIP?: string })?.podIP,
    )!;
    const dir = await mkdtemp(join(tmpdir(), 'tabby-faults-agent-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const healthPort = await freePort();
    const agent = tabby([
      'agent',
      ...['--server', [a!, b!].map((r) => `127.0.0.1:${r.port}`).join(',')],
      ...['--node', node, '--dry-run', dir, '--dataplane', 'iptables'],
      ...['--health-listen', `127.0.0.1:${healthPort}`, '--log-level', 'warn'],
      // Cut off longer than this, the agent says so on /readyz (the default is a minute).
      ...['--ready-disconnected-ms', '10000'],
    ]);
    let agentLog = '';
    agent.stderr!.on('data', (d) => (agentLog = (agentLog + d).slice(-4_000)));
    cleanups.push(async () => {
      if (agent.exitCode === null) {
        const gone = once(agent, 'exit');
        agent.kill('SIGTERM');
        await gone;
      }
    });
    const health = async (path: string) => {
      try {
        const res = await fetch(`http://127.0.0.1:${healthPort}${path}`, {
          signal: AbortSignal.timeout(3_000),
        });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    };
    /** The dry-run output, without the temporary files an apply renames into place. */
    const snapshot = async (): Promise<string[][]> => {
      const files = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
      try {
        return await Promise.all(files.map(async (f) => [f, await readFile(join(dir, f), 'utf8')]));
      } catch {
        return snapshot(); // replaced while read: read again
      }
    };
    await waitUntil(async () => (await health('/readyz')) === 200, 'agent ready');
    const before = await snapshot();
    expect(before.length).toBeGreaterThan(0);

    await Promise.all([sigkill(a!), sigkill(b!)]);
    h!.emu.delete(victim);
    const readyzAtStart = await health('/readyz');
    const livez: number[] = [];
    const outageEnd = Date.now() + 30_000;
    while (Date.now() < outageEnd) {
      livez.push(await health('/livez'));
      await sleep(500);
    }
    expect(agent.exitCode, agentLog).toBeNull();
    expect(livez.every((s) => s === 200)).toBe(true);
    // Within the grace a lost server is a restart, not an outage; 30 s in, the probe says cut off.
    expect(readyzAtStart).toBe(200);
    expect(await health('/readyz')).toBe(503);
    expect(await snapshot()).toEqual(before); // nothing flushed, nothing removed, nothing rewritten

    await b!.start(SETTLE_MS);
    await waitUntil(async () => (await health('/readyz')) === 200, 'agent ready again');
    await waitUntil(
      async () => JSON.stringify(await snapshot()) !== JSON.stringify(before),
      'the outage’s change applied',
    );
    const plans = await readFile(join(dir, 'plans.json'), 'utf8');
    expect(plans).not.toContain(encodeURIComponent(`${victim.metadata.namespace}/${victim.metadata.name}`));
    expect(await health('/livez')).toBe(200);
  });
});

async function waitUntil(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
