// The fleet view of one replica: every agent connected to it, how far behind the head of its
// syncer's stream its last ACK is, and whether the state hash it acknowledged is the one this
// replica published (PROTOCOL.md §13); per syncer the counts an SRE alerts on, the worst
// agents by name, recent close reasons and whether the data served is fresh. One plain-data
// report feeds /fleet (tabby status), the live page and the tabby_agents gauges.

import type { DatastoreSource } from '../datastore/source.js';
import type { SyncStatus } from '../model/types.js';
import { type AckedHash, type Connection, ConnState } from '../server/connection.js';
import type { ServerStats } from '../server/stats.js';
import { CloseWindow, type RecentClose } from './close-window.js';

/** An agent is `behind` once its acknowledged state misses a generation made this long ago. */
export const BEHIND_AFTER_MS = 5_000;
/** Agents named per syncer as the worst. */
const WORST = 5;

/** What the fleet view reads of a syncer's cache. */
export interface FleetStream {
  readonly syncer: string;
  readonly status: SyncStatus;
  readonly headGeneration: number;
  readonly head: { readonly createdAtMs: number };
  missingSinceMs(generation: number): number | undefined;
}

/** What the fleet view reads of a connection (a worker's are rebuilt on the primary from its report). */
export type FleetConnection = Pick<
  Connection,
  'id' | 'state' | 'syncer' | 'hostname' | 'openedAtMs' | 'ackedGeneration' | 'ackedHash' | 'bytesOut'
> & {
  readonly identity: { readonly subject: string } | undefined;
  readonly socket: { readonly remoteAddress?: string; readonly remotePort?: number | string };
};

export interface FleetParts {
  serverId: string;
  streams: readonly FleetStream[];
  server: {
    connections(): Iterable<FleetConnection>;
    readonly stats: { readonly closes: Pick<ServerStats['closes'], 'entries'> };
  };
  datastore?: Pick<DatastoreSource, 'health'>;
  now?: () => number;
  /** How often close totals are sampled and freshness is checked. */
  sampleMs?: number;
  closeWindowMs?: number;
}

/**
 * `unacked`: no ACK yet (taking its snapshot, or a client that does not ACK); `divergent`:
 * its acknowledged hash is not the one published for that generation; `behind`: its
 * acknowledged state lacks a generation older than BEHIND_AFTER_MS; else `current`.
 */
export type AgentState = 'current' | 'behind' | 'divergent' | 'unacked';
export const AGENT_STATES: readonly AgentState[] = ['current', 'behind', 'divergent', 'unacked'];

export interface AgentRow {
  id: number;
  hostname: string;
  syncer: string;
  address: string;
  /** The TLS identity's subject, when the connection has one. */
  identity?: string;
  connectedAtMs: number;
  /** Last acknowledged generation; null before the first ACK. */
  ackedGeneration: number | null;
  /** Generations and milliseconds the acknowledged state is behind the head; null before an ACK. */
  lagGenerations: number | null;
  lagMs: number | null;
  bytesSent: number;
  hash: AckedHash;
  state: AgentState;
}

export interface SyncerSummary {
  syncer: string;
  status: SyncStatus;
  headGeneration: number;
  /** Time since the head generation was made (the stream's last change). */
  lastChangeAgeMs: number;
  agents: number;
  current: number;
  behind: number;
  divergent: number;
  unacked: number;
  /** Agents whose last ACK carried no hash that could be judged. */
  hashUnknown: number;
  maxLagGenerations: number;
  maxLagMs: number;
  /** The worst agents (divergent first, then by lag), at most 5; none when all are current. */
  worst: Array<Pick<AgentRow, 'hostname' | 'address' | 'state' | 'lagGenerations' | 'lagMs' | 'hash'>>;
}

export interface FleetReport {
  serverId: string;
  atMs: number;
  datastore: {
    /** Every syncer in sync and the datastore's API answering: the data served is current. */
    inSync: boolean;
    /** 0 while in sync; else the time since it last was (null: not once since start). */
    dataAgeMs: number | null;
    statuses: Record<string, SyncStatus>;
    api?: { live: boolean; reason?: string; notLiveSince?: string };
  };
  syncers: SyncerSummary[];
  closes: { windowMs: number; coveredMs: number; reasons: RecentClose[] };
  /** Every agent (only when asked for: one row per connection). */
  agents?: AgentRow[];
}

export class FleetModel {
  private readonly now: () => number;
  private readonly closeWindow: CloseWindow;
  private lastFreshAtMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly parts: FleetParts) {
    this.now = parts.now ?? Date.now;
    this.closeWindow = new CloseWindow(() => parts.server.stats.closes.entries(), parts.closeWindowMs);
    this.sample();
  }

  /** Samples every sampleMs until stop() (the timer does not keep the process alive). */
  start(): this {
    this.timer ??= setInterval(() => this.sample(), this.parts.sampleMs ?? 5_000);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): void {
    const now = this.now();
    this.closeWindow.sample(now);
    this.datastoreView(now);
  }

  /** One agent per connection past HELLO. */
  agents(): AgentRow[] {
    const now = this.now();
    const streams = new Map(this.parts.streams.map((s) => [s.syncer, s]));
    const rows: AgentRow[] = [];
    for (const c of this.parts.server.connections()) {
      if (c.state !== ConnState.Streaming || c.syncer === undefined) continue;
      const stream = streams.get(c.syncer);
      if (stream) rows.push(agentRow(c, stream, now));
    }
    return rows;
  }

  report(opts: { agents?: boolean } = {}): FleetReport {
    const now = this.now();
    const agents = this.agents();
    const report: FleetReport = {
      serverId: this.parts.serverId,
      atMs: now,
      datastore: this.datastoreView(now),
      syncers: this.parts.streams.map((s) =>
        summarise(
          s,
          agents.filter((a) => a.syncer === s.syncer),
          now,
        ),
      ),
      closes: { windowMs: this.closeWindow.windowMs, ...this.closeWindow.recent(now) },
    };
    if (opts.agents) report.agents = agents;
    return report;
  }

  private datastoreView(now: number): FleetReport['datastore'] {
    const statuses = Object.fromEntries(this.parts.streams.map((s) => [s.syncer, s.status]));
    const api = this.parts.datastore?.health?.().api;
    const inSync = this.parts.streams.every((s) => s.status === 'in-sync') && (api?.live ?? true);
    if (inSync) this.lastFreshAtMs = now;
    const view: FleetReport['datastore'] = {
      inSync,
      dataAgeMs: this.lastFreshAtMs === undefined ? null : now - this.lastFreshAtMs,
      statuses,
    };
    if (api) view.api = { live: api.live, reason: api.reason, notLiveSince: api.notLiveSince };
    return view;
  }
}

function agentRow(c: FleetConnection, stream: FleetStream, now: number): AgentRow {
  const acked = c.ackedGeneration >= 0 ? c.ackedGeneration : null;
  let lagGenerations: number | null = null;
  let lagMs: number | null = null;
  if (acked !== null) {
    lagGenerations = Math.max(0, stream.headGeneration - acked);
    const missingSince = stream.missingSinceMs(acked);
    lagMs = missingSince === undefined ? 0 : Math.max(0, now - missingSince);
  }
  const state: AgentState =
    acked === null
      ? 'unacked'
      : c.ackedHash === 'divergent'
        ? 'divergent'
        : lagMs! > BEHIND_AFTER_MS
          ? 'behind'
          : 'current';
  const row: AgentRow = {
    id: c.id,
    hostname: c.hostname,
    syncer: stream.syncer,
    address: `${c.socket.remoteAddress ?? '?'}:${c.socket.remotePort ?? '?'}`,
    connectedAtMs: c.openedAtMs,
    ackedGeneration: acked,
    lagGenerations,
    lagMs,
    bytesSent: c.bytesOut,
    hash: c.ackedHash,
    state,
  };
  if (c.identity) row.identity = c.identity.subject;
  return row;
}

const badness = (a: AgentRow): number => (a.state === 'divergent' ? Number.MAX_SAFE_INTEGER : (a.lagMs ?? 0));

function summarise(s: FleetStream, agents: readonly AgentRow[], now: number): SyncerSummary {
  const count = (state: AgentState) => agents.filter((a) => a.state === state).length;
  const worst = agents
    .filter((a) => a.state === 'divergent' || a.state === 'behind')
    .sort((a, b) => badness(b) - badness(a) || a.hostname.localeCompare(b.hostname))
    .slice(0, WORST)
    .map(({ hostname, address, state, lagGenerations, lagMs, hash }) => ({
      hostname,
      address,
      state,
      lagGenerations,
      lagMs,
      hash,
    }));
  return {
    syncer: s.syncer,
    status: s.status,
    headGeneration: s.headGeneration,
    lastChangeAgeMs: now - s.head.createdAtMs,
    agents: agents.length,
    current: count('current'),
    behind: count('behind'),
    divergent: count('divergent'),
    unacked: count('unacked'),
    hashUnknown: agents.filter((a) => a.state !== 'unacked' && a.hash === 'unknown').length,
    maxLagGenerations: agents.reduce((m, a) => Math.max(m, a.lagGenerations ?? 0), 0),
    maxLagMs: agents.reduce((m, a) => Math.max(m, a.lagMs ?? 0), 0),
    worst,
  };
}
