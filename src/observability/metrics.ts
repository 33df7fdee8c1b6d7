// Prometheus metrics. Stages keep plain counters; the collectors here read them at scrape
// time, so nothing on a hot path touches prom-client. Names follow Prometheus conventions
// (tabby_<noun>_<unit>, _total on counters) and keep Typha's families where they exist.

import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { DatastoreSource } from '../datastore/source.js';
import { WAIT_BUCKETS_S } from '../server/admission.js';
import { ConnState } from '../server/connection.js';
import type { SyncServer } from '../server/server.js';
import type { SnapshotCache } from '../snapcache/cache.js';
import type { SyncerRouter } from '../snapcache/router.js';
import { AGENT_STATES, type FleetModel } from './fleet.js';

const STATUS_VALUE = { 'wait-for-datastore': 0, resync: 1, 'in-sync': 2 } as const;

export function createMetrics(parts: {
  caches: readonly SnapshotCache[];
  /** A worker process passes its own server and no caches; the primary of workers, an idle server. */
  /** `snapshots` absent: a primary whose workers own the sockets (their registries add the admission metrics). */
  server: Pick<SyncServer, 'stats' | 'connections'> & Partial<Pick<SyncServer, 'snapshots'>>;
  router: Pick<SyncerRouter, 'unroutedKeys'>;
  datastore?: DatastoreSource;
  /** The fleet view: agents current/behind/divergent per syncer, data age. */
  fleet?: FleetModel;
}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tabby_' });
  const { caches, server, router } = parts;

  const perCache = (
    name: string,
    help: string,
    read: (c: SnapshotCache) => number,
    kind: 'gauge' | 'counter' = 'gauge',
  ) => {
    const Ctor = kind === 'gauge' ? Gauge : Counter;
    new Ctor({
      name,
      help,
      labelNames: ['syncer'],
      registers: [registry],
      collect(this: Gauge | Counter) {
        // A counter is rebuilt from the caches' totals on each scrape: reset once, before the
        // loop (inside it, each cache's reset would erase the series of the one before).
        if (this instanceof Counter) this.reset();
        for (const c of caches) {
          if (this instanceof Gauge) this.set({ syncer: c.syncer }, read(c));
          else this.inc({ syncer: c.syncer }, read(c));
        }
      },
    });
  };
  perCache('tabby_cache_generation', 'Generation number at the head of the cache', (c) => c.headGeneration);
  perCache('tabby_cache_keys', 'Keys in the cache (snapshot size)', (c) => c.keyCount);
  perCache(
    'tabby_cache_sync_status',
    'Datastore sync status: 0 wait, 1 resync, 2 in-sync',
    (c) => STATUS_VALUE[c.status],
  );
  perCache('tabby_cache_history_bytes', 'Bytes of retained delta history', (c) => c.retainedBytes);
  perCache(
    'tabby_cache_history_generations',
    'Generations retained for catch-up',
    (c) => c.retainedGenerations,
  );
  perCache('tabby_updates_total', 'Updates received from the datastore', (c) => c.stats.updatesIn, 'counter');
  perCache(
    'tabby_updates_skipped_total',
    'Updates that changed nothing',
    (c) => c.stats.updatesSkipped,
    'counter',
  );
  perCache(
    'tabby_values_rejected_total',
    'Values too large for one frame or that cannot be encoded, sent as deletions',
    (c) => c.stats.valuesRejected,
    'counter',
  );
  perCache('tabby_snapshots_built_total', 'Snapshots encoded', (c) => c.stats.snapshotsBuilt, 'counter');
  perCache(
    'tabby_snapshots_reused_total',
    'Snapshot requests served from a cached encoding',
    (c) => c.stats.snapshotsReused,
    'counter',
  );

  const counterFrom = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counterFrom('tabby_connections_accepted_total', 'Connections accepted', () => server.stats.accepted);
  counterFrom(
    'tabby_connections_refused_total',
    'Connections refused (limit or draining)',
    () => server.stats.refused,
  );
  counterFrom(
    'tabby_sent_snapshot_bytes_total',
    'Snapshot bytes written to clients',
    () => server.stats.snapshotBytes,
  );
  counterFrom(
    'tabby_sent_delta_bytes_total',
    'Delta bytes written to clients',
    () => server.stats.deltaBytes,
  );
  counterFrom('tabby_received_bytes_total', 'Bytes received from clients', () => server.stats.bytesIn);
  counterFrom(
    'tabby_resnapshots_total',
    'Clients outside the window sent a fresh snapshot',
    () => server.stats.resnapshots,
  );
  counterFrom('tabby_unrouted_keys_total', 'Datastore keys no syncer takes', () => router.unroutedKeys);

  new Gauge({
    name: 'tabby_connections',
    help: 'Open connections by syncer and state',
    labelNames: ['syncer', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of server.connections()) {
        const state =
          c.state === ConnState.Handshake
            ? 'handshake'
            : c.state === ConnState.Streaming
              ? 'streaming'
              : 'closing';
        this.inc({ syncer: c.syncer ?? 'none', state });
      }
    },
  });
  const labelled = (
    name: string,
    help: string,
    labelNames: string[],
    read: () => Iterable<[string, number]>,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [label, n] of read()) {
          const parts = label.split(':');
          const labels: Record<string, string> = {};
          labelNames.forEach((l, i) => {
            labels[l] = i === labelNames.length - 1 ? parts.slice(i).join(':') : (parts[i] ?? '');
          });
          this.inc(labels, n);
        }
      },
    });
  labelled('tabby_handshakes_total', 'Completed handshakes by kind', ['syncer', 'kind'], () =>
    server.stats.handshakes.entries(),
  );
  labelled('tabby_disconnects_total', 'Connections closed, by reason', ['syncer', 'reason'], () =>
    server.stats.closes.entries(),
  );
  labelled('tabby_protocol_errors_total', 'Protocol errors by close code', ['code'], () =>
    server.stats.protocolErrors.entries(),
  );
  labelled(
    'tabby_reports_total',
    'Agent REPORTs by kind and result (recorded, superseded, coalesced, failed, or why refused)',
    ['kind', 'result'],
    () => server.stats.reports.entries(),
  );
  labelled(
    'tabby_tls_failures_total',
    'TLS clients refused at the handshake, by reason (not-tls, expired, unknown-ca, not-allowed, ...)',
    ['reason'],
    () => server.stats.tlsFailures.entries(),
  );
  labelled('tabby_tls_reloads_total', 'Changed TLS files loaded (ok) or kept out (failed)', ['result'], () =>
    server.stats.tlsReloads.entries(),
  );
  new Gauge({
    name: 'tabby_tls_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the serving certificate (absent without TLS)',
    registers: [registry],
    aggregator: 'max', // every worker serves the same files: one value, not their sum
    collect() {
      this.reset();
      if (server.stats.tlsCertNotAfterMs > 0) this.set(server.stats.tlsCertNotAfterMs / 1000);
    },
  });

  if (parts.fleet) registerFleetMetrics(registry, parts.fleet);

  const datastore = parts.datastore;
  if (datastore?.health) {
    const health = () => datastore.health!();
    labelled(
      'tabby_datastore_conversion_errors_total',
      'Objects rejected by conversion, by kind',
      ['kind'],
      () => health().conversionErrors.entries(),
    );
    new Gauge({
      name: 'tabby_datastore_manifest_errors',
      help: 'Manifest documents that failed to load at the last reload (file datastore)',
      registers: [registry],
      collect() {
        this.set(health().manifestErrors ?? 0);
      },
    });
    new Gauge({
      name: 'tabby_datastore_watch_state',
      help: 'Per resource type: 1 for its current list/watch state',
      labelNames: ['resource', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of health().resources ?? []) this.set({ resource: r.resource, state: r.state }, 1);
      },
    });
    const perResource = (name: string, help: string, stat: string) =>
      new Counter({
        name,
        help,
        labelNames: ['resource'],
        registers: [registry],
        collect() {
          this.reset();
          for (const r of health().resources ?? []) this.inc({ resource: r.resource }, r.stats[stat] ?? 0);
        },
      });
    perResource('tabby_datastore_lists_total', 'Complete lists per resource type', 'lists');
    perResource(
      'tabby_datastore_relists_expired_total',
      'Relists after 410 Gone per resource type',
      'relistsAfterExpiry',
    );
    perResource('tabby_datastore_watches_total', 'Watch requests per resource type', 'watches');
    perResource('tabby_datastore_watch_events_total', 'Watch events applied per resource type', 'events');
    perResource('tabby_datastore_failures_total', 'Failed list/watch calls per resource type', 'failures');
  }
  if (server.snapshots) registerAdmissionMetrics(registry, server.snapshots);

  return registry;
}

/** Snapshot admission (server/admission.ts): the line, the slots, and how long clients waited. */
function registerAdmissionMetrics(registry: Registry, snapshots: SyncServer['snapshots']): void {
  const a = snapshots.admission;
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('tabby_snapshots_queued', 'Clients waiting for a snapshot slot', () => a.queued);
  gauge(
    'tabby_snapshots_in_flight',
    'Snapshots being written (the socket has not taken them yet)',
    () => a.inFlight,
  );
  gauge(
    'tabby_snapshots_in_flight_max',
    'The most snapshots ever in flight at once',
    () => a.maxInFlightSeen,
  );
  // A histogram kept by the admission itself (no prom-client on the server's paths), exposed
  // in the histogram's exposition shape: cumulative _bucket{le}, _sum and _count.
  new Counter({
    name: 'tabby_snapshot_wait_seconds_bucket',
    help: 'Snapshots started, by time waited for a slot (cumulative, le = upper bound in seconds)',
    labelNames: ['le'],
    registers: [registry],
    collect() {
      this.reset();
      let cumulative = 0;
      a.waitCounts.forEach((n, i) => {
        cumulative += n;
        this.inc({ le: i < WAIT_BUCKETS_S.length ? String(WAIT_BUCKETS_S[i]) : '+Inf' }, cumulative);
      });
    },
  });
  new Counter({
    name: 'tabby_snapshot_wait_seconds_sum',
    help: 'Total time snapshots waited for a slot, seconds',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(a.waitSumMs / 1000);
    },
  });
  new Counter({
    name: 'tabby_snapshot_wait_seconds_count',
    help: 'Snapshots started (after waiting or not)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(a.waitCounts.reduce((x, y) => x + y, 0));
    },
  });
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
