// BGPFilter with real BIRD 2 daemons (issue 15 item 9): two lab nodes peer by explicit
// BGPPeers (mesh off) through the production path (API emulator → KubernetesDatastore →
// SyncServer → per-node RoutingAgent on the bgp stream → BIRD in the node's namespace).
// node1 announces three blocks; its export filter rejects one (Equal), node0's import filter
// rejects another (In with a prefix length range), the third crosses. The verdicts come from
// BIRD's own table and the kernel: the rejected prefixes are absent, the accepted one present
// and carrying pod traffic. Deleting the export filter lets its prefix through (confd skips a
// filter name with no BGPFilter).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { birdCommand, replyText } from '../../src/agent/dataplane/bird/birdc.js';
import type { BirdProcess } from '../../src/agent/dataplane/bird/process.js';
import { parseProtocols, peerRows } from '../../src/agent/dataplane/bird/status.js';
import { RoutingAgent } from '../../src/agent/runtime/routing-agent.js';
import { SyncClient } from '../../src/client/sync-client.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.js';
import { silentLogger } from '../../src/model/logger.js';
import { type EmulatorHarness, startEmulator } from '../harness/emulator.js';
import { type Stack, startStack } from '../harness/stack.js';
import { birdNode } from './harness/bird-node.js';
import { exec } from './harness/exec.js';
import { describeE2E, preflight } from './harness/preflight.js';
import type { Listener } from './harness/probe.js';
import { crd, DEFAULT_ASN, routingLabObjects } from './harness/routing-lab.js';
import { Lab, type LabNode } from './harness/topology.js';

const reason = await preflight(['ip', 'bird']);
const BUDGET_MS = 30_000;
const PORT = 8080;
/** node1's extra blocks (inside the lab pool, outside every lab node's own block). */
const EXPORT_REJECTED = '10.251.101.0/26';
const IMPORT_REJECTED = '10.251.102.0/26';

interface NodeAgent {
  node: LabNode;
  agent: RoutingAgent;
  proc: BirdProcess;
  socket: string;
}

describeE2E('e2e BGPFilter: import and export filters applied by real BIRD 2 sessions', reason, () => {
  let lab: Lab;
  let h: EmulatorHarness;
  let ds: KubernetesDatastore;
  let stack: Stack;
  let dir = '';
  const agents: NodeAgent[] = [];
  const listeners: Listener[] = [];

  const sessionEstablished = async (a: NodeAgent, ip: string): Promise<boolean> => {
    const reply = await birdCommand({ socketPath: a.socket }, 'show protocols all').catch(() => undefined);
    const rows = reply ? peerRows(parseProtocols(reply)) : [];
    return rows.some((r) => r.peerAddress === ip && r.info.startsWith('Established'));
  };
  /** The prefixes in a BIRD's table that came from its session with `peer` (Node_<ip>). */
  const bgpPrefixes = async (a: NodeAgent, peer: LabNode): Promise<string[]> => {
    const protocol = `Node_${peer.ip.replace(/\./g, '_')}`;
    const reply = await birdCommand({ socketPath: a.socket }, `show route protocol ${protocol}`)
      .then(replyText)
      .catch(() => '');
    return [...reply.matchAll(/^(?:\d{4}-)?(\d+\.\d+\.\d+\.\d+\/\d+)\s/gm)].map((m) => m[1]!).sort();
  };
  const kernelRoutes = async (n: LabNode): Promise<string[]> => {
    const r = await exec('ip', ['-n', n.ns, '-j', 'route', 'show', 'proto', 'bird']);
    return (JSON.parse(r.stdout || '[]') as { dst: string }[]).map((x) => x.dst).sort();
  };
  const until = async (what: string, check: () => Promise<boolean>, explain: () => Promise<string>) => {
    const deadline = Date.now() + BUDGET_MS;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${await explain()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, podsPerNode: 1, staticRoutes: false, sweep: false });
    dir = await mkdtemp(join(tmpdir(), 'tabby-bgpfilter-e2e-'));
    h = await startEmulator({ bookmarkIntervalMs: 500 });
    const [n0, n1] = lab.nodes as [LabNode, LabNode];
    const affinity = (n: LabNode, cidr: string) =>
      crd('BlockAffinity', `${n.name}-${cidr.replace(/[./]/g, '-')}`, {
        node: n.name,
        cidr,
        state: 'confirmed',
        deleted: 'false',
      });
    const loaded = h.emu.loadObjects([
      ...routingLabObjects(lab, { mesh: false }),
      affinity(n1, EXPORT_REJECTED),
      affinity(n1, IMPORT_REJECTED),
      crd('BGPFilter', 'n1-export', {
        exportV4: [{ action: 'Reject', matchOperator: 'Equal', cidr: EXPORT_REJECTED }],
      }),
      crd('BGPFilter', 'n0-import', {
        importV4: [
          {
            action: 'Reject',
            matchOperator: 'In',
            cidr: '10.251.102.0/24',
            prefixLength: { min: 26, max: 26 },
          },
        ],
      }),
      crd('BGPPeer', 'n0-to-n1', {
        node: n0.name,
        peerIP: n1.ip,
        asNumber: DEFAULT_ASN,
        reversePeering: 'Manual',
        filters: ['n0-import'],
      }),
      crd('BGPPeer', 'n1-to-n0', {
        node: n1.name,
        peerIP: n0.ip,
        asNumber: DEFAULT_ASN,
        reversePeering: 'Manual',
        filters: ['n1-export'],
      }),
    ]);
    expect(loaded.errors).toEqual([]);
    ds = new KubernetesDatastore({ kubeconfig: h.kc, convert: convertObject, log: silentLogger });
    stack = await startStack();
    await ds.start(stack.router);
    for (const node of lab.nodes) {
      const { bird, proc, socket } = await birdNode(node, dir);
      const bgp = new SyncClient({
        addresses: [stack.address],
        syncer: 'bgp',
        hostname: node.name,
        log: silentLogger,
      });
      const agent = new RoutingAgent({
        node: node.name,
        bgp: { client: bgp, parts: [bird] },
        log: silentLogger,
      });
      agents.push({ node, agent, proc, socket });
      listeners.push(await node.pods[0]!.listen(PORT));
    }
    for (const a of agents) a.agent.start();
  }, 60_000);

  afterAll(async () => {
    for (const l of listeners) await l.close().catch(() => undefined);
    for (const a of agents) {
      await a.agent.stop().catch(() => undefined);
      await a.proc.stop().catch(() => undefined);
    }
    await ds?.stop();
    await stack?.stop();
    await h?.stop();
    await lab?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('sessions with filters reach Established; rejected prefixes are absent, the accepted one present', async () => {
    const [a0, a1] = agents as [NodeAgent, NodeAgent];
    const [n0, n1] = lab.nodes as [LabNode, LabNode];
    expect(n1.ip).not.toBe(n0.ip);
    const state = async () =>
      `n0 BGP routes: ${(await bgpPrefixes(a0, lab.nodes[1]!)).join(', ')}\nn0 kernel: ${(await kernelRoutes(n0)).join(', ')}`;
    await until(
      'both sessions Established and node1’s block on node0',
      async () =>
        (await sessionEstablished(a0, n1.ip)) &&
        (await sessionEstablished(a1, n0.ip)) &&
        (await bgpPrefixes(a0, lab.nodes[1]!)).includes(n1.podCidr),
      state,
    );
    // Give a filtered-out prefix every chance to arrive had it been allowed (fast timers: < 1 s).
    await new Promise((r) => setTimeout(r, 2_000));
    const table = await bgpPrefixes(a0, lab.nodes[1]!);
    expect(table, await state()).toContain(n1.podCidr);
    expect(table).not.toContain(EXPORT_REJECTED);
    expect(table).not.toContain(IMPORT_REJECTED);
    const kernel = await kernelRoutes(n0);
    expect(kernel).toContain(n1.podCidr);
    expect(kernel).not.toContain(EXPORT_REJECTED);
    expect(kernel).not.toContain(IMPORT_REJECTED);
    // The accepted prefix carries traffic: no static routes in this lab, only BGP's.
    await until(
      'node0’s block on node1 (no filter in that direction)',
      async () => (await kernelRoutes(n1)).includes(n0.podCidr),
      async () => `n1 kernel: ${(await kernelRoutes(n1)).join(', ')}`,
    );
    expect(await n0.pods[0]!.connect(n1.pods[0]!.ip, PORT, { timeoutMs: 2000 })).toBe('connected');
  });

  it('deleting a filter lets its prefix through (a missing filter is skipped, as confd does)', async () => {
    const [a0] = agents as [NodeAgent, NodeAgent];
    h.emu.delete({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BGPFilter',
      metadata: { name: 'n1-export' },
    });
    await until(
      `${EXPORT_REJECTED} on node0`,
      async () => (await bgpPrefixes(a0, lab.nodes[1]!)).includes(EXPORT_REJECTED),
      async () => `n0 BGP routes: ${(await bgpPrefixes(a0, lab.nodes[1]!)).join(', ')}`,
    );
    expect(await bgpPrefixes(a0, lab.nodes[1]!)).not.toContain(IMPORT_REJECTED);
    // And the import filter was what held the other one back.
    h.emu.delete({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BGPFilter',
      metadata: { name: 'n0-import' },
    });
    await until(
      `${IMPORT_REJECTED} on node0`,
      async () => (await bgpPrefixes(a0, lab.nodes[1]!)).includes(IMPORT_REJECTED),
      async () => `n0 BGP routes: ${(await bgpPrefixes(a0, lab.nodes[1]!)).join(', ')}`,
    );
  });
});
