// The API's liveness probe: one cheap consistent read (a `limit=1` list of one type) every
// intervalMs, failed when not answered within timeoutMs. A frozen or partitioned API keeps its
// watch connections open and silent, which no watch notices before its own timeout (minutes),
// and bookmarks are not guaranteed; the probe notices within intervalMs + timeoutMs. Its answer
// also carries the store's current revision, which tells a replaced store (revision.ts), and
// the uid of one object that lives as long as the cluster (kube-system: it cannot be deleted),
// which tells another store even once its revisions have caught up with ours.
// Cost: one small request per interval per replica, whatever the number of types or agents;
// while the API does not answer, one per second at most after each failed probe, so an API that
// comes back is seen at once.

import type { ResourceType } from '../kube/resources.js';
import type { KubeApi } from './kube-api.js';

export interface ProbeOptions {
  /** Pause between the end of one probe and the start of the next. */
  intervalMs: number;
  /** A probe not answered within this is failed: the API is not live. */
  timeoutMs: number;
}

/** What the probe reads: `limit=1` of a type, optionally one object by field selector. */
export interface ProbeTarget {
  resource: ResourceType;
  fieldSelector?: string;
}

export type ProbeResult =
  | {
      ok: true;
      resourceVersion: string;
      /** The uid of the object read, if any: the same for as long as the store is the same. */
      identity: string | undefined;
      startedAt: number;
      /** The highest resourceVersion served when the probe was sent (see revision.ts). */
      floor: string | undefined;
    }
  | { ok: false; error: string; startedAt: number };

/** Probes after a failed one are spaced by at most this. */
const NOT_LIVE_INTERVAL_MS = 1_000;

export class ApiProbe {
  private timer: NodeJS.Timeout | undefined;
  private running: { startedAt: number; result: Promise<ProbeResult> } | undefined;
  private last: ProbeResult | undefined;
  private stopped = true;

  constructor(
    private readonly api: Pick<KubeApi, 'listPage'>,
    private readonly target: ProbeTarget,
    private readonly opts: ProbeOptions,
    /** Sees every result before anyone awaiting it does. */
    private readonly onResult: (r: ProbeResult) => void,
    private readonly now: () => number = Date.now,
    private readonly floor: () => string | undefined = () => undefined,
  ) {
    if (!(opts.intervalMs > 0) || !(opts.timeoutMs > 0))
      throw new RangeError('probe intervalMs and timeoutMs must be > 0');
  }

  get what(): string {
    return this.target.resource.plural;
  }

  /** Probes at once (the first answer sets what later ones are compared with), then every intervalMs. */
  start(): void {
    this.stopped = false;
    void this.probe().then(() => this.schedule());
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * The result of a probe that started at or after `since`: the one running, the last one, or
   * a new one. Callers that saw a failure at `since` share one probe instead of one each.
   */
  probe(since: number = this.now()): Promise<ProbeResult> {
    if (this.running && this.running.startedAt >= since) return this.running.result;
    if (!this.running && this.last && this.last.startedAt >= since) return Promise.resolve(this.last);
    const startedAt = this.now();
    const floor = this.floor();
    const { resource, fieldSelector } = this.target;
    const result = this.api
      .listPage(resource, { limit: 1, timeoutMs: this.opts.timeoutMs, fieldSelector })
      .then(
        (page): ProbeResult => ({
          ok: true,
          resourceVersion: page.resourceVersion,
          identity: page.items[0]?.metadata?.uid,
          startedAt,
          floor,
        }),
        (err: unknown): ProbeResult => ({ ok: false, error: (err as Error).message, startedAt }),
      )
      .then((r) => {
        if (this.running?.result === result) this.running = undefined;
        if (!this.last || r.startedAt >= this.last.startedAt) this.last = r;
        if (!this.stopped) this.onResult(r);
        return r;
      });
    this.running = { startedAt, result };
    return result;
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay =
      this.last?.ok === false ? Math.min(this.opts.intervalMs, NOT_LIVE_INTERVAL_MS) : this.opts.intervalMs;
    this.timer = setTimeout(() => {
      void this.probe().then(() => this.schedule());
    }, delay);
    this.timer.unref();
  }
}
