// The node agent's policy loop over a real server: applies only once in sync, coalesces,
// retries a failed apply, and never flushes because the server went away; and the runtime that
// wires both streams to every part (NodeAgent).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { PolicyCalculator } from '../../src/agent/calc/index.js';
import { DryRunDataplane } from '../../src/agent/dataplane/dry-run/manager.js';
import { dryRunIptables } from '../../src/agent/dataplane/iptables/manager.js';
import { dryRunNftables } from '../../src/agent/dataplane/nftables/manager.js';
import { PartsStopError } from '../../src/agent/runtime/errors.js';
import { agentReadiness } from '../../src/agent/runtime/health.js';
import { NodeAgent } from '../../src/agent/runtime/node-agent.js';
import type { PolicyDataplane, RoutingPart } from '../../src/agent/runtime/parts.js';
import { PolicyAgent } from '../../src/agent/runtime/policy-agent.js';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { silentLogger } from '../../src/model/logger.js';
import type { KV } from '../../src/model/types.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

const LAB = new URL('../fixtures/calc/lab.yaml', import.meta.url).pathname;
async function labKVs(): Promise<KV[]> {
  const docs = parseAllDocuments(await readFile(LAB, 'utf8'));
  return docs.flatMap((d) => convertObject(d.toJS() as KubeObject));
}

class RecordingDataplane implements PolicyDataplane {
  readonly name = 'recording';
  readonly seen: Array<{ endpoints: number; ipSets: number }> = [];
  failNext = 0;
  async sync(calc: PolicyCalculator): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('injected failure');
    }
    this.seen.push({ endpoints: calc.plans().size, ipSets: calc.ipSetIds().length });
  }
}

let stack: Stack | undefined;
const agents: PolicyAgent[] = [];
let dir = '';
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await stack?.stop();
  stack = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

const clientFor = (node: string, syncer: 'felix' | 'bgp' = 'felix') =>
  new SyncClient({
    addresses: [stack!.address],
    syncer,
    hostname: node,
    backoff: { initialMs: 20, maxMs: 100, multiplier: 2, jitter: 0 },
  });

/** A routing part that counts its syncs and stops, and can be made to fail its stop. */
class CountingPart implements RoutingPart {
  syncs = 0;
  stops = 0;
  constructor(
    readonly name: string,
    private readonly failStop = false,
  ) {}
  async sync(): Promise<void> {
    this.syncs++;
  }
  async stop(): Promise<void> {
    this.stops++;
    if (this.failStop) throw new Error(`${this.name} would not stop`);
  }
}

function agentFor(node: string, dp: PolicyDataplane) {
  const client = clientFor(node);
  const a = new PolicyAgent(node, client, dp, silentLogger, 10);
  agents.push(a);
  a.start();
  return a;
}

describe('policy agent', () => {
  it('programs nothing before in-sync, then its node only; survives a failed apply; never flushes on disconnect', async () => {
    stack = await startStack();
    stack.router.onStatus('resync');
    stack.router.onUpdates(await labKVs());
    const dp = new RecordingDataplane();
    dp.failNext = 1;
    const agent = agentFor('node-a', dp);
    await new Promise((r) => setTimeout(r, 200));
    expect(dp.seen).toEqual([]); // data arrived, but not in sync yet
    stack.router.onStatus('in-sync');
    await waitFor(() => dp.seen.length > 0, 5_000, 'first apply after the injected failure');
    expect(agent.stats.failures).toBe(1);
    expect(dp.seen.at(-1)!.endpoints).toBe(2); // node-a runs the frontend pod and coredns
    expect(dp.seen.at(-1)!.ipSets).toBeGreaterThan(0);

    const applies = agent.stats.applies;
    await stack.stop();
    stack = undefined;
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.stats.applies).toBe(applies); // the server went away: nothing re-applied, nothing flushed
    expect(agent.calc.plans().size).toBe(2);
  });

  it('--dry-run writes the plans, programs and IP sets of its node', async () => {
    stack = await startStack();
    stack.router.onUpdates(await labKVs());
    stack.router.onStatus('in-sync');
    dir = await mkdtemp(join(tmpdir(), 'tabby-agent-'));
    const agent = agentFor(
      'node-c',
      new DryRunDataplane(dir, (calc) => ({ ...dryRunIptables(calc), ...dryRunNftables(calc) })),
    );
    await waitFor(() => agent.stats.applies > 0, 5_000, 'dry-run written');
    const plans = JSON.parse(await readFile(join(dir, 'plans.json'), 'utf8')) as Array<{
      id: string;
      ingress: { tiers: Array<{ name: string }> };
    }>;
    expect(plans.map((p) => p.id)).toEqual([
      '/calico/v1/host/node-c/workload/k8s/database%2Fdb/endpoint/eth0',
    ]);
    expect(plans[0]!.ingress.tiers.map((t) => t.name)).toEqual(['application']);
    const programs = JSON.parse(await readFile(join(dir, 'programs.json'), 'utf8'));
    expect(Object.keys(programs.policies)).toContain(
      '/calico/v1/policy/NetworkPolicy/database/application.db-policy',
    );
  });
});

describe('node agent runtime', () => {
  it('feeds each stream to its parts, connects each stream once, reports them for health, and stops every part even when one fails', async () => {
    stack = await startStack();
    stack.router.onUpdates(await labKVs());
    stack.router.onStatus('in-sync');
    const felix = clientFor('node-a', 'felix');
    const bgp = clientFor('node-a', 'bgp');
    const dp = new RecordingDataplane();
    const routes = new CountingPart('routes');
    const bird = new CountingPart('bird', true);
    const agent = new NodeAgent({
      node: 'node-a',
      felix,
      bgp,
      policy: dp,
      felixParts: [routes],
      bgpParts: [bird],
      log: silentLogger,
      coalesceMs: 10,
    });
    expect(agent.empty).toBe(false);
    agent.start();
    await agent.settled();
    expect(dp.seen.at(-1)!.endpoints).toBe(2);
    expect(routes.syncs).toBeGreaterThan(0);
    expect(bird.syncs).toBeGreaterThan(0);
    expect(agent.streams()).toEqual({ felix: 'in-sync', bgp: 'in-sync' });
    expect(Object.keys(agent.parts()).sort()).toEqual(['bird', 'policy/recording', 'routes']);
    // Policy and routes share the felix stream: one connection for it, one for bgp.
    expect(stack.server.connectionCount).toBe(2);

    const err = await agent.stop().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PartsStopError);
    expect((err as PartsStopError).message).toContain('bird: bird would not stop');
    expect(routes.stops).toBe(1); // the failing part did not keep the others running
    expect(bird.stops).toBe(1);
  });

  it('a stream without a server longer than the grace makes the agent not ready, and its reconnection ready again; nothing is re-applied meanwhile', async () => {
    stack = await startStack();
    stack.router.onUpdates(await labKVs());
    stack.router.onStatus('in-sync');
    const port = Number(stack.address.split(':')[1]);
    const dp = new RecordingDataplane();
    const agent = new NodeAgent({
      node: 'node-a',
      felix: clientFor('node-a'),
      policy: dp,
      log: silentLogger,
    });
    agents.push(agent.policy!);
    const ready = () => agentReadiness(agent, { disconnectedGraceMs: 200 });
    agent.start();
    await agent.settled();
    await waitFor(() => ready().ok, 5_000, 'ready');
    expect(agent.disconnected()).toEqual({});
    const applies = agent.policy!.stats.applies;

    await stack.stop();
    await waitFor(() => agent.disconnected()['felix'] !== undefined, 5_000, 'disconnection seen');
    expect(ready().ok).toBe(true); // within the grace: a replica restart is not an outage
    await waitFor(() => !ready().ok, 5_000, 'not ready after the grace');
    expect((ready().detail['disconnectedMs'] as Record<string, number>)['felix']).toBeGreaterThan(200);
    expect(agent.policy!.stats.applies).toBe(applies); // cut off, the dataplane keeps its last state

    stack = await startStack({ port });
    stack.router.onUpdates(await labKVs());
    stack.router.onStatus('in-sync');
    await waitFor(() => ready().ok, 10_000, 'ready again after reconnecting');
    expect(agent.disconnected()).toEqual({});
  });

  it('a bgp stream no part follows is neither connected nor reported', async () => {
    stack = await startStack();
    stack.router.onStatus('in-sync');
    const agent = new NodeAgent({
      node: 'node-a',
      felix: clientFor('node-a', 'felix'),
      bgp: clientFor('node-a', 'bgp'),
      policy: new RecordingDataplane(),
      log: silentLogger,
    });
    agents.push(agent.policy!);
    agent.start();
    await agent.settled();
    expect(agent.streams()).toEqual({ felix: 'in-sync' });
    expect(stack.server.connectionCount).toBe(1);
    await agent.stop();
  });
});
