// The fleet view end to end on loopback: real agents (the client library, which ACKs with its
// state hash) and a hand-driven one that ACKs a wrong hash, a replica's health port serving
// /fleet and the live WebSocket, and `tabby status` reading it.

import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { askReplica } from '../../src/cli/status.js';
import { SyncClient } from '../../src/client/sync-client.js';
import type { AgentRow, FleetReport } from '../../src/observability/fleet.js';
import { FleetLive } from '../../src/observability/fleet-live.js';
import { run } from '../harness/cli.js';
import { divergentAgent, startFleetReplica } from '../harness/fleet.js';
import { perTestStack, waitFor } from '../harness/stack.js';

const t = perTestStack();
const clients: SyncClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

async function replica() {
  const r = await startFleetReplica('tabby-fv');
  t.cleanup.push(() => r.stop());
  return r;
}

function agent(address: string, hostname: string, syncer: 'felix' | 'bgp' = 'felix'): SyncClient {
  const c = new SyncClient({ addresses: [address], syncer, hostname, compressions: [], ackIntervalMs: 10 });
  clients.push(c);
  c.start();
  return c;
}

async function fleetJson(address: string, agents = false): Promise<FleetReport> {
  const r = await askReplica(address, agents, 5_000);
  if (!r.ok) throw new Error(r.error);
  return r.report;
}

describe('fleet view', () => {
  it('counts current and divergent agents per syncer, names the worst, and tabby status prints it', async () => {
    const { stack, healthAddress } = await replica();
    agent(stack.address, 'node-a');
    agent(stack.address, 'node-b');
    agent(stack.address, 'node-c', 'bgp');
    const evil = await divergentAgent(stack.address, 'node-evil');
    t.cleanup.push(() => evil.destroy());
    await waitFor(
      () => [...stack.server.connections()].filter((c) => c.ackedGeneration >= 0).length === 4,
      10_000,
      'four ACKs',
    );
    const report = await fleetJson(healthAddress);
    const felix = report.syncers.find((s) => s.syncer === 'felix')!;
    expect(felix).toMatchObject({
      agents: 3,
      current: 2,
      divergent: 1,
      behind: 0,
      unacked: 0,
      hashUnknown: 0,
    });
    expect(felix.worst.map((w) => [w.hostname, w.state])).toEqual([['node-evil', 'divergent']]);
    expect(report.syncers.find((s) => s.syncer === 'bgp')).toMatchObject({ agents: 1, current: 1 });
    expect(report.datastore).toMatchObject({ inSync: true, dataAgeMs: 0 });
    expect(report.agents).toBeUndefined();
    const rows = (await fleetJson(healthAddress, true)).agents!;
    expect(rows.map((a) => a.hostname).sort()).toEqual(['node-a', 'node-b', 'node-c', 'node-evil']);
    expect(rows.find((a) => a.hostname === 'node-a')).toMatchObject({ hash: 'match', state: 'current' });
    expect(rows.every((a) => a.bytesSent > 0 && a.address.startsWith('127.0.0.1:'))).toBe(true);

    // The gauge alerts read.
    const metrics = await fetch(`http://${healthAddress}/metrics`).then((r) => r.text());
    expect(metrics).toContain('tabby_agents{syncer="felix",state="divergent"} 1');
    expect(metrics).toContain('tabby_agents{syncer="felix",state="current"} 2');

    // The CLI, with one replica that does not answer: exit 1, both shown.
    const out = await run(['status', '--server', `${healthAddress},127.0.0.1:9`]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^tabby-fv \(127\.0\.0\.1:\d+\): datastore in sync$/m);
    expect(out.stdout).toMatch(/^ {2}felix +in-sync +\d+ +\S+ s ago +3 +2 +0 +1 +0 +0 /m);
    expect(out.stdout).toContain('worst: felix node-evil divergent');
    expect(out.stdout).toMatch(/^127\.0\.0\.1:9: UNREACHABLE: .*ECONNREFUSED/m);
    expect(out.stdout).toContain('2 replicas (1 unreachable): 4 agents, 3 current, 0 behind, 1 divergent');
    const json = JSON.parse((await run(['status', '--server', healthAddress, '--json'])).stdout);
    expect(json.totals).toMatchObject({ replicas: 1, agents: 4, divergent: 1, healthy: false });
  });

  it('says so when pointed at the sync port instead of the health port', async () => {
    const { stack } = await replica();
    const r = await askReplica(stack.address, false, 5_000);
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/sync port.*health\/metrics port/) });
  });

  it('streams agents appearing and leaving over the WebSocket; refuses a page of another origin', async () => {
    const { stack, healthAddress } = await replica();
    agent(stack.address, 'node-a');
    await waitFor(() => stack.server.connectionCount === 1, 5_000, 'node-a');
    const ws = new WebSocket(`ws://${healthAddress}/fleet/ws`);
    t.cleanup.push(() => ws.terminate());
    const seen = new Map<number, AgentRow>();
    const messages: Array<{ full: boolean }> = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { full: boolean; upsert: AgentRow[]; remove: number[] };
      messages.push(m);
      if (m.full) seen.clear();
      for (const a of m.upsert) seen.set(a.id, a);
      for (const id of m.remove) seen.delete(id);
    });
    const names = () => [...seen.values()].map((a) => a.hostname).sort();
    await waitFor(() => names().join() === 'node-a', 5_000, 'node-a in the first message');
    expect(messages[0]!.full).toBe(true);
    const b = agent(stack.address, 'node-b');
    await waitFor(() => names().join() === 'node-a,node-b', 5_000, 'node-b appears');
    await b.stop();
    await waitFor(() => names().join() === 'node-a', 5_000, 'node-b leaves');
    expect(messages.slice(1).every((m) => !m.full)).toBe(true); // diffs after the first

    const foreign = new WebSocket(`ws://${healthAddress}/fleet/ws`, { origin: 'http://evil.example' });
    const status = await new Promise<number>((resolve) => {
      foreign.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      foreign.on('open', () => resolve(101));
      foreign.on('error', () => {});
    });
    foreign.terminate();
    expect(status).toBe(403);
  });

  it('caps the live viewers and takes upgrades only on /fleet/ws', async () => {
    const { fleet } = await replica();
    const http = createServer((_req, res) => res.writeHead(404).end());
    const live = new FleetLive(fleet, { maxViewers: 1 });
    live.attach(http);
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    t.cleanup.push(() => new Promise((r) => http.close(r)));
    const base = `ws://127.0.0.1:${(http.address() as { port: number }).port}`;
    const open = (path: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${base}${path}`);
        t.cleanup.push(() => ws.terminate());
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      });
    expect(await open('/fleet/ws')).toBe(101);
    expect(live.viewerCount).toBe(1);
    expect(await open('/fleet/ws')).toBe(503);
    expect(await open('/elsewhere')).toBe(404);
  });
});
