// The API's liveness probe: one cheap consistent read (a `limit=1` list of one type) every
// intervalMs, failed when not answered within timeoutMs. A frozen or partitioned API keeps its
// watch connections open and silent, which no watch notices before its own timeout (minutes),
// and bookmarks are not guaranteed; the probe notices within intervalMs + timeoutMs. Its answer
// also carries the store's current revision, which tells a replaced store (revision.ts).
// Cost: one small request per interval per replica, whatever the number of types or agents.

import type { ResourceType } from '../kube/resources.js';
import type { KubeApi } from './kube-api.js';

export interface ProbeOptions {
  /** Pause between the end of one probe and the start of the next. */
  intervalMs: number;
  /** A probe not answered within this is failed: the API is not live. */
  timeoutMs: number;
}

export type ProbeResult =
  | { ok: true; resourceVersion: string; startedAt: number }
  | { ok: false; error: string; startedAt: number };

export class ApiProbe {
  private timer: NodeJS.Timeout | undefined;
  private running: { startedAt: number; result: Promise<ProbeResult> } | undefined;
  private last: ProbeResult | undefined;
  private stopped = true;

  constructor(
    private readonly api: Pick<KubeApi, 'listPage'>,
    private readonly resource: ResourceType,
    private readonly opts: ProbeOptions,
    /** Sees every result before anyone awaiting it does. */
    private readonly onResult: (r: ProbeResult) => void,
    private readonly now: () => number = Date.now,
  ) {
    if (!(opts.intervalMs > 0) || !(opts.timeoutMs > 0))
      throw new RangeError('probe intervalMs and timeoutMs must be > 0');
  }

  get target(): string {
    return this.resource.plural;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
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
    const result = this.api
      .listPage(this.resource, { limit: 1, timeoutMs: this.opts.timeoutMs })
      .then(
        (page): ProbeResult => ({ ok: true, resourceVersion: page.resourceVersion, startedAt }),
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
    this.timer = setTimeout(() => {
      void this.probe().then(() => this.schedule());
    }, this.opts.intervalMs);
    this.timer.unref();
  }
}
