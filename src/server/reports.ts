// Agent → server REPORTs (proto/PROTOCOL.md §15): checks who may report what, limits the
// rate per connection, and hands accepted values to a sink the composition root wires (a
// datastore). Only a connection with an authenticated identity may report, about its own
// node, unless the operator opted in to trusting HELLO's hostname. Per node only the latest value matters: a newer report aborts the write in
// flight, and the sink is never called twice at once for one node. Nothing here blocks the
// connection loop; failures are logged and counted, never a reason to drop a client.

import { Backoff } from '../model/backoff.js';
import type { Logger } from '../model/logger.js';
import { RateLimitedLog } from '../model/rate-limited-log.js';
import type { Report } from '../protocol/messages.js';
import {
  isReportKind,
  parseWireguardPublicKeyData,
  ReportError,
  ReportKind,
  ReportRefusal,
} from '../protocol/reports.js';
import type { ConnectionIdentity } from './connection.js';
import type { CounterMap } from './stats.js';
import { TokenBucket } from './token-bucket.js';

/**
 * Where accepted reports go: the datastore records them on the Node (Kubernetes: an
 * annotation; sim/file: in memory), and the change comes back to every agent through the
 * normal watch → KV path.
 */
export interface NodeReportSink {
  /**
   * Records `node`'s WireGuard public key (null removes it). Resolves once the value is
   * stored or found already there; rejects when it cannot be (e.g. no such node). Transient
   * failures are retried inside, until `signal` aborts: a newer value for the node arrived.
   */
  recordWireguardPublicKey(node: string, publicKey: string | null, signal: AbortSignal): Promise<void>;
}

export interface ReportOptions {
  /** Reports a connection may send at once... */
  burst: number;
  /** ...and one more per this many ms (token bucket). */
  refillMs: number;
}

/** A well-behaved agent sends one report per kind per connection, and one per key change. */
export const DEFAULT_REPORT_OPTIONS: ReportOptions = { burst: 8, refillMs: 10_000 };

/** Who may report. */
export interface ReportPolicy {
  /**
   * Accept REPORTs from connections without an authenticated identity, trusting HELLO's
   * hostname: then any client that can connect can set any node's WireGuard key.
   */
  insecureAcceptUnauthenticated: boolean;
  /**
   * The node an agent pod runs on, from the datastore (TLS identities that name a pod, `{pod}`);
   * undefined for a pod that is not a live agent pod. Absent: such identities cannot report.
   */
  nodeOfPod?: (pod: string) => string | undefined;
}

/** The little a report needs to know about its connection. */
export interface Reporter {
  /** Proven by the transport (TLS client certificate); undefined on plain TCP. */
  readonly identity: ConnectionIdentity | undefined;
  /** HELLO's hostname when it is a valid node name; reports are about this node only. */
  readonly node: string | undefined;
  readonly hostname: string;
  describe(): Record<string, unknown>;
}
interface NodeWork {
  /** The value being written, and how to abort it. */
  inflight?: { publicKey: string | null; abort: AbortController };
  next?: string | null;
  /** A failed write waits to be tried again (a transient API error, a Node not yet created). */
  retry?: NodeJS.Timeout;
  backoff?: Backoff;
}

/** A failed write is retried until it lands or a newer value replaces it: the agent sends it once. */
const RETRY_BACKOFF = { initialMs: 1_000, maxMs: 30_000, multiplier: 2, jitter: 0.5 };

export class NodeReports {
  /** Kinds announced in SERVER_HELLO: those this sink can record. */
  readonly kinds: readonly string[] = [ReportKind.WireguardPublicKey];
  private readonly buckets = new WeakMap<Reporter, TokenBucket>();
  private readonly work = new Map<string, NodeWork>();
  /** Refusals are a peer's doing: a few lines per refusal reason and window. */
  private readonly refusalLog: RateLimitedLog;
  private closed = false;

  constructor(
    private readonly sink: NodeReportSink,
    /** "kind:result" → count (tabby_reports_total). */
    private readonly counts: CounterMap,
    private readonly log: Logger,
    private readonly policy: ReportPolicy,
    private readonly opts: ReportOptions = DEFAULT_REPORT_OPTIONS,
  ) {
    if (opts.burst < 1 || opts.refillMs <= 0) throw new RangeError('invalid report rate limit');
    this.refusalLog = new RateLimitedLog(log);
  }

  /** Whether this connection may report at all (SERVER_HELLO lists the kinds only then). */
  acceptsFrom(from: Reporter): boolean {
    if (!this.authenticated(from)) return false;
    // Advertise only what would be accepted: the identity's node must be HELLO's (§15.1).
    try {
      this.nodeOf(from);
      return true;
    } catch (err) {
      if (err instanceof ReportError) return false;
      throw err;
    }
  }

  /** An identity that may name a node, or the operator's opt-in to trusting HELLO. */
  private authenticated(from: Reporter): boolean {
    const id = from.identity;
    return id?.node !== undefined || id?.pod !== undefined || this.policy.insecureAcceptUnauthenticated;
  }

  /** Nodes with a write in flight or queued (tests, shutdown). */
  get busyNodes(): number {
    return this.work.size;
  }

  /** Handles one REPORT; returns at once, whatever the sink does. */
  onReport(from: Reporter, report: Report, now = Date.now()): void {
    const kind = isReportKind(report.kind) ? report.kind : 'other';
    try {
      if (!this.authenticated(from))
        throw new ReportError(
          ReportRefusal.Unauthenticated,
          from.identity
            ? `REPORT on a connection authenticated as ${from.identity.subject}, which names no node: its HELLO hostname is only a claim`
            : 'REPORT on a connection without an authenticated identity: its HELLO hostname is only a claim',
        );
      if (!this.takeToken(from, now))
        throw new ReportError(ReportRefusal.RateLimited, `more than ${this.opts.burst} reports in a burst`);
      if (!isReportKind(report.kind) || !this.kinds.includes(report.kind))
        throw new ReportError(ReportRefusal.UnsupportedKind, `report kind "${report.kind}" is not accepted`);
      const node = this.nodeOf(from);
      if (report.node !== undefined && report.node !== node)
        throw new ReportError(
          ReportRefusal.WrongNode,
          `report about node "${report.node}" on a connection from "${node}"`,
        );
      const { publicKey } = parseWireguardPublicKeyData(report.data);
      this.submit(node, publicKey);
    } catch (err) {
      if (!(err instanceof ReportError)) throw err;
      this.counts.inc(`${kind}:${err.refusal}`);
      this.refusalLog.warn(
        err.refusal,
        { ...from.describe(), kind: report.kind, refusal: err.refusal, err: err.message },
        'report refused',
      );
    }
  }

  /** The node a connection reports about: its proven identity, else (opted in) HELLO's claim. */
  private nodeOf(from: Reporter): string {
    const id = from.identity;
    const proven = id?.node ?? (id?.pod !== undefined ? this.policy.nodeOfPod?.(id.pod) : undefined);
    if (id?.pod !== undefined && proven === undefined)
      // Deleted, finished, or never an agent pod of this namespace: it speaks for no node.
      throw new ReportError(
        ReportRefusal.Unauthenticated,
        `certificate names pod "${id.pod}", which is not a live agent pod`,
      );
    if (proven !== undefined) {
      if (from.hostname !== proven)
        throw new ReportError(
          ReportRefusal.WrongNode,
          `HELLO hostname "${from.hostname}" is not the authenticated node "${proven}" (${id!.subject})`,
        );
      return proven;
    }
    if (from.node === undefined)
      throw new ReportError(ReportRefusal.InvalidNode, 'HELLO hostname is not a valid node name');
    return from.node;
  }

  /** Writes the counts of refusal lines suppressed in windows that have ended (the server's tick). */
  flushLog(): void {
    this.refusalLog.flush();
  }

  /** Aborts every write in flight (server shutdown). */
  close(): void {
    this.closed = true;
    for (const w of this.work.values()) {
      w.next = undefined;
      clearTimeout(w.retry);
      w.inflight?.abort.abort();
    }
  }

  private takeToken(from: Reporter, now: number): boolean {
    let b = this.buckets.get(from);
    if (b === undefined) {
      b = new TokenBucket(this.opts.burst, this.opts.refillMs, now);
      this.buckets.set(from, b);
    }
    return b.take(now);
  }

  private submit(node: string, publicKey: string | null): void {
    const kind = ReportKind.WireguardPublicKey;
    // Shutting down: the datastore is stopping, nothing may start a write that nothing would abort.
    if (this.closed) {
      this.counts.inc(`${kind}:shutdown`);
      return;
    }
    let w = this.work.get(node);
    if (w === undefined) {
      w = {};
      this.work.set(node, w);
    }
    if (w.inflight === undefined) {
      // A newer value (or the same one, sent again) goes now, not at the retry's time.
      clearTimeout(w.retry);
      w.retry = undefined;
      w.next = publicKey;
      this.start(node, w);
      return;
    }
    if (w.next !== undefined) this.counts.inc(`${kind}:superseded`);
    if (w.inflight.publicKey === publicKey && !w.inflight.abort.signal.aborted) {
      // The same value again (a reconnect, or the node's second connection): already on its way.
      w.next = undefined;
      this.counts.inc(`${kind}:coalesced`);
      return;
    }
    w.next = publicKey;
    w.inflight.abort.abort();
  }

  private start(node: string, w: NodeWork): void {
    const kind = ReportKind.WireguardPublicKey;
    const publicKey = w.next as string | null;
    w.next = undefined;
    const abort = new AbortController();
    w.inflight = { publicKey, abort };
    Promise.resolve()
      .then(() => this.sink.recordWireguardPublicKey(node, publicKey, abort.signal))
      .then(
        () => {
          w.backoff?.reset();
          this.counts.inc(`${kind}:${abort.signal.aborted ? 'superseded' : 'recorded'}`);
          this.log.debug({ node, kind, removed: publicKey === null }, 'report recorded');
        },
        (err: unknown) => {
          if (abort.signal.aborted) {
            this.counts.inc(`${kind}:superseded`);
            return;
          }
          this.counts.inc(`${kind}:failed`);
          if (this.closed || w.next !== undefined) return; // a newer value follows at once
          w.backoff ??= new Backoff(RETRY_BACKOFF);
          const retryInMs = w.backoff.next();
          this.refusalLog.warn(
            'record-failed',
            { node, kind, err: (err as Error).message, retryInMs },
            'recording a report failed',
          );
          w.retry = setTimeout(() => {
            w.retry = undefined;
            if (this.closed || w.inflight !== undefined) return;
            w.next = publicKey;
            this.start(node, w);
          }, retryInMs);
          w.retry.unref();
        },
      )
      .finally(() => {
        w.inflight = undefined;
        if (w.next !== undefined && !this.closed) this.start(node, w);
        else if (w.retry === undefined) this.work.delete(node);
      });
  }
}
