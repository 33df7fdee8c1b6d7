// Plain counters the server bumps on its hot paths; its collector (metrics.ts) reads them at
// scrape time, so the server's paths neither touch prom-client nor pay for label lookups per write.

export class CounterMap {
  private readonly m = new Map<string, number>();
  inc(label: string, by = 1): void {
    this.m.set(label, (this.m.get(label) ?? 0) + by);
  }
  get(label: string): number {
    return this.m.get(label) ?? 0;
  }
  entries(): IterableIterator<[string, number]> {
    return this.m.entries();
  }
}

export class ServerStats {
  accepted = 0;
  refused = 0;
  resnapshots = 0;
  bytesIn = 0;
  snapshotBytes = 0;
  deltaBytes = 0;
  /** "syncer:snapshot|resumed" */
  readonly handshakes = new CounterMap();
  readonly snapshotsSent = new CounterMap();
  /** "syncer:reason" */
  readonly closes = new CounterMap();
  /** close code */
  readonly protocolErrors = new CounterMap();
  /** "kind:result" of REPORTs (recorded, superseded, coalesced, failed, or a refusal) */
  readonly reports = new CounterMap();
  /** Clients moved away with GOODBYE rebalance, by syncer. */
  readonly shed = new CounterMap();
  /** TLS handshakes or admissions that failed, by reason (tls.ts TlsFailure). */
  readonly tlsFailures = new CounterMap();
  /** "ok" | "failed" reloads of changed TLS files. */
  readonly tlsReloads = new CounterMap();
  /** The serving certificate's notAfter (ms since the epoch); 0 without TLS. */
  tlsCertNotAfterMs = 0;
}
