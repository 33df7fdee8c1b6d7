// The soak's agents, in a process of their own: light agents (SyncClients that verify every
// state hash and ACK it, no dataplane), lean clients for load (loadtest/lean-client.ts: they
// skip snapshot bodies, so they hold no state to compare), and a few full agents (the policy
// agent over a dry-run dataplane on a node of the cluster). Answers the soak over IPC with
// every agent's position and acknowledged hash, and each full agent's dataplane history.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyCalculator } from '../src/agent/calc/index.js';
import { DryRunDataplane } from '../src/agent/dataplane/dry-run/manager.js';
import type { PolicyDataplane } from '../src/agent/runtime/parts.js';
import { PolicyAgent } from '../src/agent/runtime/policy-agent.js';
import { SyncClient } from '../src/client/sync-client.js';
import { silentLogger } from '../src/model/logger.js';
import { serveCommands } from './ipc.js';
import { type ClientSink, LeanClient } from './lean-client.js';

export interface SoakAgentsInit {
  ports: number[];
  light: number;
  lean: number;
  /** Node names of the cluster, one full agent each. */
  fullNodes: string[];
}

/** One SyncClient-based agent's position: the hash is the one it computed and ACKs (§13). */
export interface AgentPosition {
  id: string;
  status: string;
  connected: boolean;
  hash: string | undefined;
  keys: number;
  serverId: string;
  reconnects: number;
}

export interface DataplaneHistory {
  node: string;
  applies: number;
  /** Applies that left fewer endpoints than the largest seen: a flush or a removal. */
  shrinks: number;
  endpoints: number;
  maxEndpoints: number;
}

export interface SoakAgentsStatus {
  agents: AgentPosition[];
  lean: { total: number; synced: number; connected: number; reconnects: number };
  dataplanes: DataplaneHistory[];
}

/** The dry-run dataplane, counting what each apply leaves programmed. */
class WatchedDataplane implements PolicyDataplane {
  readonly name = 'dry-run';
  readonly h: DataplaneHistory;
  constructor(
    node: string,
    private readonly inner: DryRunDataplane,
  ) {
    this.h = { node, applies: 0, shrinks: 0, endpoints: 0, maxEndpoints: 0 };
  }
  async sync(calc: PolicyCalculator): Promise<void> {
    await this.inner.sync(calc);
    const n = calc.plans().size;
    this.h.applies++;
    if (n < this.h.maxEndpoints) this.h.shrinks++;
    this.h.endpoints = n;
    this.h.maxEndpoints = Math.max(this.h.maxEndpoints, n);
  }
}

const clients: Array<{ id: string; c: SyncClient; reconnects: number }> = [];
const fullAgents: PolicyAgent[] = [];
const dataplanes: WatchedDataplane[] = [];
let leans: LeanClient[] = [];
const leanConnected = new Set<LeanClient>();
let leanReconnects = 0;
let dir = '';
let ports: number[] = [];

/** A lean client on its share of the replicas; a new one holds no position, so it takes a snapshot. */
function startLean(id: number): LeanClient {
  const l = new LeanClient(id, leanSink, { reconnect: { ports, resume: true } });
  l.start(ports[id % ports.length]!, () => {});
  return l;
}

function syncClient(id: string, ports: number[]): SyncClient {
  const c = new SyncClient({
    addresses: ports.map((p) => `127.0.0.1:${p}`),
    syncer: 'felix',
    hostname: id,
    agent: 'tabby-soak/0.1.0',
    backoff: { initialMs: 200, maxMs: 3_000, multiplier: 2, jitter: 0.5 },
    // Agents that failed over stay where they landed: moving back is the fleet-move test's job.
    driftIntervalMs: 0,
  });
  const entry = { id, c, reconnects: 0 };
  c.on('disconnected', () => entry.reconnects++);
  clients.push(entry);
  return c;
}

const leanSink: ClientSink = {
  onSample() {},
  onDeltaFrame() {},
  onBytes() {},
  onGeneration(c) {
    c.ack();
  },
  onSnapshotEnd(c) {
    c.ack();
  },
  onGone(c) {
    leanConnected.delete(c);
  },
  onConnected(c) {
    leanConnected.add(c);
  },
  onDisconnected(c) {
    leanConnected.delete(c);
    leanReconnects++;
  },
};

serveCommands({
  async start(a: SoakAgentsInit) {
    dir = await mkdtemp(join(tmpdir(), 'tabby-soak-agents-'));
    for (let i = 0; i < a.light; i++) syncClient(`light-${i}`, a.ports).start();
    for (const node of a.fullNodes) {
      const c = syncClient(`full-${node}`, a.ports);
      const dp = new WatchedDataplane(node, new DryRunDataplane(join(dir, node)));
      dataplanes.push(dp);
      const agent = new PolicyAgent(node, c, dp, silentLogger);
      fullAgents.push(agent);
      agent.start();
    }
    ports = a.ports;
    leans = Array.from({ length: a.lean }, (_, i) => startLean(i));
    return {};
  },

  /** Lean clients drop and come back without resume, all at once: a snapshot storm. */
  storm() {
    leans = leans.map((l) => {
      l.destroy();
      return startLean(l.id);
    });
    return { clients: leans.length };
  },

  status(): SoakAgentsStatus {
    return {
      agents: clients.map(({ id, c, reconnects }) => ({
        id,
        status: c.status,
        connected: c.connected,
        hash: c.state.hashHex(),
        keys: c.state.size,
        serverId: c.serverId,
        reconnects,
      })),
      lean: {
        total: leans.length,
        synced: leans.filter((l) => leanConnected.has(l) && l.generation >= 0).length,
        connected: leans.filter((l) => leanConnected.has(l)).length,
        reconnects: leanReconnects,
      },
      dataplanes: dataplanes.map((d) => ({ ...d.h })),
    };
  },

  async close() {
    for (const l of leans) l.destroy();
    await Promise.all(fullAgents.map((a) => a.stop()));
    await Promise.all(clients.map(({ c }) => c.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
    return {};
  },
});
