// The human console summary of `npm start`: one line per interval on stderr (stdout carries
// the JSON logs), saying whether the demo agents hold exactly the server's state.

import type { SyncClient } from '../client/sync-client.js';
import type { SyncServer } from '../server/server.js';
import type { SnapshotCache } from '../snapcache/cache.js';

export interface SummaryParts {
  caches: readonly SnapshotCache[];
  server: SyncServer;
  agents: readonly SyncClient[];
  /** Extra text, e.g. the API load an emulated datastore sees. */
  extra?: () => string;
}

const kb = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;

export function summaryLine(parts: SummaryParts) {
  const { caches, server, agents } = parts;
  const bySyncer = new Map(caches.map((c) => [c.syncer, c]));
  const syncers = caches
    .map((c) => `${c.syncer} gen ${c.headGeneration} keys ${c.keyCount} ${c.status}`)
    .join(' | ');
  const matching = agents.filter((a) => {
    const cache = bySyncer.get(a.syncer);
    return (
      cache !== undefined && a.generation === cache.headGeneration && a.state.hashHex() === cache.stateHash
    );
  }).length;
  const agentPart =
    agents.length > 0 ? ` | agents ${matching}/${agents.length} at head with matching hash` : '';
  const s = server.stats;
  return (
    `[tabby] ${new Date().toISOString().slice(11, 19)} ${syncers} | connections ${server.connectionCount}` +
    `${agentPart} | sent snapshots ${kb(s.snapshotBytes)}, deltas ${kb(s.deltaBytes)}` +
    (parts.extra ? ` | ${parts.extra()}` : '')
  );
}

export function startSummary(intervalMs: number, parts: SummaryParts) {
  const t = setInterval(() => process.stderr.write(`${summaryLine(parts)}\n`), intervalMs);
  t.unref();
  return { stop: () => clearInterval(t) };
}
