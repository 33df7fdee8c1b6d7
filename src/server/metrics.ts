// The server's Prometheus families, read at scrape time from its plain counters (stats.ts),
// its connections and its snapshot admission, so nothing on the server's paths touches
// prom-client. Wired by the composition roots through observability/metrics.ts.

import { Counter, Gauge, type Registry } from 'prom-client';
import { WAIT_BUCKETS_S } from './admission.js';
import { ConnState } from './connection.js';
import type { SyncServer } from './server.js';

/** Connections, bytes, handshakes, closes, reports and TLS of one server (or worker). */
export function registerServerMetrics(
  registry: Registry,
  server: Pick<SyncServer, 'stats' | 'connections'>,
): void {
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
}

/** Snapshot admission (admission.ts): the line, the slots, and how long clients waited. */
export function registerAdmissionMetrics(registry: Registry, snapshots: SyncServer['snapshots']): void {
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
