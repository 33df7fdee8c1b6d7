// The replica's Prometheus registry, assembled from the collectors that live beside their
// components (snapcache/, server/, datastore/ metrics.ts; lint/metrics.ts is added by the
// serve root) plus the fleet view's own gauges. Components keep plain counters; collectors
// read them at scrape time, so nothing on a hot path touches prom-client. Names follow
// Prometheus conventions (tabby_<noun>_<unit>, _total on counters) and keep Typha's families
// where they exist.

import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { registerDatastoreMetrics } from '../datastore/metrics.js';
import type { DatastoreSource } from '../datastore/source.js';
import { registerAdmissionMetrics, registerServerMetrics } from '../server/metrics.js';
import type { SyncServer } from '../server/server.js';
import { registerSnapcacheMetrics, type SnapcacheMetricsSource } from '../snapcache/metrics.js';
import { AGENT_STATES, type FleetModel } from './fleet.js';

export function createMetrics(
  parts: SnapcacheMetricsSource & {
    /** A worker process passes its own server and no caches; the primary of workers, an idle server. */
    /** `snapshots` absent: a primary whose workers own the sockets (their registries add the admission metrics). */
    server: Pick<SyncServer, 'stats' | 'connections'> & Partial<Pick<SyncServer, 'snapshots'>>;
    datastore?: DatastoreSource;
    /** The fleet view: agents current/behind/divergent per syncer, data age. */
    fleet?: FleetModel;
  },
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tabby_' });
  registerSnapcacheMetrics(registry, parts);
  registerServerMetrics(registry, parts.server);
  if (parts.fleet) registerFleetMetrics(registry, parts.fleet);
  if (parts.datastore) registerDatastoreMetrics(registry, parts.datastore);
  if (parts.server.snapshots) registerAdmissionMetrics(registry, parts.server.snapshots);
  return registry;
}

/** Gauges for alerts on the fleet (deploy/monitoring): every syncer × state series, zeros included. */
function registerFleetMetrics(registry: Registry, fleet: FleetModel): void {
  new Gauge({
    name: 'tabby_agents',
    help: 'Agents connected, by syncer and state (current, behind, divergent: acknowledged state hash differs from the published one, unacked)',
    labelNames: ['syncer', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of fleet.report().syncers)
        for (const state of AGENT_STATES) this.set({ syncer: s.syncer, state }, s[state]);
    },
  });
  new Gauge({
    name: 'tabby_agents_lag_max_seconds',
    help: 'How far behind the head the most lagging agent is (from its last ACK), by syncer',
    labelNames: ['syncer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of fleet.report().syncers) this.set({ syncer: s.syncer }, s.maxLagMs / 1000);
    },
  });
  new Gauge({
    name: 'tabby_datastore_data_age_seconds',
    help: 'Time since the data served was last known current (every syncer in sync, API answering); 0 while it is',
    registers: [registry],
    collect() {
      this.reset();
      const age = fleet.report().datastore.dataAgeMs;
      if (age !== null) this.set(age / 1000);
    },
  });
}
