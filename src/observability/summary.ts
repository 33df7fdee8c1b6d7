// The human console summary of `npm start`: one line per interval on stderr (stdout carries
// the JSON logs), saying whether the demo agents hold exactly a state the server published
// (their hash equals the server's hash for the generation they are at) and how far behind
// the head they are — an agent can be a generation behind for the instant of a fan-out.

import type { SyncClient } from '../client/sync-client.js';
import type { DatastoreSource } from '../datastore/source.js';
import type { ServerStats } from '../server/stats.js';
import type { SnapshotCache } from '../snapcache/cache.js';

export interface SummaryParts {
  caches: readonly SnapshotCache[];
  server: {
    readonly connectionCount: number;
    readonly stats: Pick<ServerStats, 'snapshotBytes' | 'deltaBytes'>;
  };
  agents: readonly SyncClient[];
  /** Extra text, e.g. the API load an emulated datastore sees. */
  extra?: () => string;
  /** Says when its API does not answer (the state shown is the last one). */
  datastore?: Pick<DatastoreSource, 'health'>;
}

const kb = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;

export function summaryLine(parts: SummaryParts) {
  const { caches, server, agents } = parts;
  const bySyncer = new Map(caches.map((c) => [c.syncer, c]));
  const syncers = caches
    .map((c) => `${c.syncer} gen ${c.headGeneration} keys ${c.keyCount} ${c.status}`)
    .join(' | ');
  let consistent = 0;
  let maxLag = 0;
  for (const a of agents) {
    const head = bySyncer.get(a.syncer)?.headGeneration ?? a.generation;
    maxLag = Math.max(maxLag, head - a.generation);
    if (a.state.hashHex() === bySyncer.get(a.syncer)?.hashAt(a.generation)) consistent++;
  }
  const agentPart =
    agents.length > 0
      ? ` | agents ${consistent}/${agents.length} hold a published state exactly, lag ≤ ${maxLag} gen`
      : '';
  const s = server.stats;
  const api = parts.datastore?.health?.().api;
  const apiPart =
    api && !api.live
      ? ` | datastore API NOT ANSWERING since ${api.notLiveSince ?? '?'}: ${api.reason ?? ''}`
      : '';
  return (
    `[tabby] ${new Date().toISOString().slice(11, 19)} ${syncers}${apiPart} | connections ${server.connectionCount}` +
    `${agentPart} | sent snapshots ${kb(s.snapshotBytes)}, deltas ${kb(s.deltaBytes)}` +
    (parts.extra ? ` | ${parts.extra()}` : '')
  );
}

export function startSummary(intervalMs: number, parts: SummaryParts) {
  const t = setInterval(() => process.stderr.write(`${summaryLine(parts)}\n`), intervalMs);
  t.unref();
  return { stop: () => clearInterval(t) };
}
