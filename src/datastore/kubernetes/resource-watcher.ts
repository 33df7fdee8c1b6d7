// One List+Watch of one resource type: list (paged) → diff into the ObjectSink → watch from
// the list's resourceVersion with bookmarks → on a clean end, watch again from the last
// resourceVersion; on 410 Gone, relist and diff (clients see only what really changed); on
// any other failure, retry with jittered backoff while the last state keeps being served, and
// before resuming from the old resourceVersion let the supervisor check that the API still
// has the same store (a probe: one small request shared by every type). The supervisor (the
// datastore) also checks every list's resourceVersion, and on a replaced store makes every
// type relist with each object converted again (relist(true)).

import { Backoff, type BackoffOptions } from '../../model/backoff.js';
import type { Logger } from '../../model/logger.js';
import type { KubeObject } from '../kube/object.js';
import type { ObjectSink } from '../kube/object-sink.js';
import type { ResourceType } from '../kube/resources.js';
import type { KubeApi, KubeApiError, WatchEventType, WatchHandle } from './kube-api.js';
import { revisionOf } from './revision.js';

export interface WatcherOptions {
  pageSize: number;
  /** Watches ask the server to end after a random time in [min, 2×min) seconds, spreading re-watches. */
  minWatchTimeoutSeconds: number;
  backoff: BackoffOptions;
}

/** What a watcher asks of the datastore that runs it (one for all types). */
export interface WatcherSupervisor {
  /**
   * A complete list's resourceVersion, before it is applied: false when it shows the store was
   * replaced (the supervisor has then asked every watcher, this one too, to relist).
   */
  listed(resourceVersion: string, floor: string | undefined): boolean;
  /** The highest resourceVersion served so far: what a consistent read sent now must reach. */
  floor(): string | undefined;
  /** A resourceVersion served on a watch (event or bookmark). */
  observed(resourceVersion: string | undefined): void;
  /**
   * Before resuming a watch after a failure at `failedAt`: resolves once the API answered after
   * the failure (if that showed a replaced store, the supervisor has asked for relists); rejects
   * when the API does not answer.
   */
  beforeResume(failedAt: number): Promise<void>;
}

export interface WatcherStats {
  lists: number;
  relistsAfterExpiry: number;
  relistsAfterReplace: number;
  watches: number;
  events: number;
  bookmarks: number;
  failures: number;
}

export type WatcherState = 'listing' | 'watching' | 'failing' | 'stopped';

export class ResourceWatcher {
  state: WatcherState = 'listing';
  /** True once the first full list has been applied. */
  synced = false;
  /** True from relist(true) until that list is applied: what is held may not be the API's state. */
  resyncing = false;
  resourceVersion = '';
  lastError: string | undefined;
  readonly stats: WatcherStats = {
    lists: 0,
    relistsAfterExpiry: 0,
    relistsAfterReplace: 0,
    watches: 0,
    events: 0,
    bookmarks: 0,
    failures: 0,
  };
  private readonly backoff: Backoff;
  private handle: WatchHandle | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly scope: string;
  /** Bumped whenever what is running is abandoned: a list, watch or retry of an older epoch stops. */
  private epoch = 0;

  constructor(
    readonly resource: ResourceType,
    private readonly api: KubeApi,
    private readonly sink: Pick<ObjectSink, 'apply' | 'replaceAll'>,
    private readonly opts: WatcherOptions,
    private readonly log: Logger,
    private readonly supervisor: WatcherSupervisor,
    /** Called whenever `state`, `synced` or `resyncing` changes. */
    private readonly onChange: () => void,
  ) {
    this.backoff = new Backoff(opts.backoff);
    this.scope = `${resource.group}/${resource.kind}/`;
  }

  start(): void {
    void this.list(false);
  }

  stop(): void {
    this.setState('stopped');
    this.abandon();
  }

  /**
   * Lists again whatever is running, and applies the list diffed against what is held;
   * `reconvert`: the store was replaced, so every object is converted again (resourceVersions
   * seen before may now name other contents) and status says resync until it is applied.
   */
  relist(reconvert: boolean): void {
    if (this.state === 'stopped') return;
    this.abandon();
    if (reconvert && !this.resyncing) {
      this.resyncing = true;
      this.onChange();
    }
    void this.list(reconvert);
  }

  /**
   * Watches again from the resourceVersion held, after the API was silent or unreachable: the
   * old stream may be half-open and would stay silent until its watchdog. A list in progress is
   * left alone (it ends in a watch).
   */
  rewatch(): void {
    if (this.state === 'stopped' || this.state === 'listing' || !this.synced) return;
    this.abandon();
    // A relist for a replaced store that failed is still owed.
    if (this.resyncing) void this.list(true);
    else void this.watch();
  }

  private abandon(): void {
    this.epoch++;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    this.handle?.abort();
    this.handle = undefined;
  }

  private setState(s: WatcherState): void {
    if (this.state === 'stopped' || this.state === s) return;
    this.state = s;
    this.onChange();
  }

  private async list(reconvert: boolean): Promise<void> {
    if (this.state === 'stopped') return;
    const epoch = this.epoch;
    this.setState('listing');
    const items: KubeObject[] = [];
    let rv = '';
    const floor = this.supervisor.floor();
    try {
      let continueToken: string | undefined;
      do {
        const page = await this.api.listPage(this.resource, { limit: this.opts.pageSize, continueToken });
        if (epoch !== this.epoch) return;
        for (const item of page.items) items.push(item);
        rv = page.resourceVersion;
        continueToken = page.continueToken;
      } while (continueToken);
    } catch (err) {
      if (epoch !== this.epoch) return;
      // An expired continue token (410) means the list must start over: same as any failure.
      this.fail(err as KubeApiError, 'list');
      return;
    }
    if ((this.state as WatcherState) === 'stopped' || epoch !== this.epoch) return;
    // A list older than what the API served before: the supervisor relists every type.
    if (!this.supervisor.listed(rv, floor)) return;
    this.stats.lists++;
    if (reconvert) this.stats.relistsAfterReplace++;
    this.sink.replaceAll(items, (id) => id.startsWith(this.scope), { reconvert });
    this.resourceVersion = rv;
    this.log.info({ resource: this.resource.plural, objects: items.length, resourceVersion: rv }, 'listed');
    if (!this.synced || this.resyncing) {
      this.synced = true;
      this.resyncing = false;
      this.onChange();
    }
    void this.watch();
  }

  private async watch(): Promise<void> {
    if (this.state === 'stopped') return;
    const epoch = this.epoch;
    const timeout = this.opts.minWatchTimeoutSeconds * (1 + Math.random());
    const from = this.resourceVersion;
    this.stats.watches++;
    let ended = false;
    const done = (err: KubeApiError | null) => {
      if (ended) return;
      ended = true;
      if (epoch !== this.epoch) return; // abandoned: whoever abandoned it has started what comes next
      clearTimeout(this.watchdog);
      this.handle = undefined;
      if (this.state === 'stopped') return;
      if (err === null) {
        void this.watch(); // the server ended the watch (timeoutSeconds): resume from our resourceVersion
      } else if (err.expired) {
        this.relistAfterExpiry();
      } else {
        this.fail(err, 'watch');
      }
    };
    let handle: WatchHandle;
    try {
      handle = await this.api.watch(
        this.resource,
        from,
        Math.round(timeout),
        (type, obj) => {
          if (!ended && epoch === this.epoch) this.onEvent(type, obj, from, done);
        },
        done,
      );
    } catch (err) {
      done(err as KubeApiError);
      return;
    }
    if (epoch !== this.epoch) {
      handle.abort(); // abandoned while connecting
      return;
    }
    if (ended) return;
    this.handle = handle;
    this.setState('watching');
    this.backoff.reset();
    // A stream that neither delivers nor ends by its own timeout is a dead connection
    // (no FIN, no RST): abort it and watch again.
    this.watchdog = setTimeout(
      () => {
        this.log.warn({ resource: this.resource.plural }, 'watch outlived its timeout: restarting it');
        this.handle?.abort();
        done(null);
      },
      (timeout + 30) * 1000,
    );
    this.watchdog.unref();
  }

  private onEvent(
    type: WatchEventType,
    obj: KubeObject,
    from: string,
    done: (err: KubeApiError | null) => void,
  ): void {
    const rv = obj?.metadata?.resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        if (notAfter(rv, from)) {
          // A watch from N delivers only what happened after N: this stream does not continue
          // what we hold. Fail it; the retry checks the API's store before resuming.
          this.handle?.abort();
          done({
            expired: false,
            message: `watch event at resourceVersion ${rv}, not after ${from} where the watch started`,
          } as KubeApiError);
          return;
        }
        this.stats.events++;
        this.sink.apply([{ type, object: obj }]);
        if (rv) this.resourceVersion = rv;
        this.supervisor.observed(rv);
        return;
      case 'BOOKMARK':
        this.stats.bookmarks++;
        if (rv) this.resourceVersion = rv;
        this.supervisor.observed(rv);
        return;
      case 'ERROR': {
        const status = obj as unknown as { code?: number; reason?: string; message?: string };
        this.handle?.abort();
        if (status.code === 410) {
          done({ expired: true, message: status.message } as KubeApiError);
        } else {
          done({
            expired: false,
            message: `watch ERROR event: ${status.code} ${status.reason} ${status.message}`,
          } as KubeApiError);
        }
        return;
      }
    }
  }

  private relistAfterExpiry(): void {
    this.stats.relistsAfterExpiry++;
    this.log.info(
      { resource: this.resource.plural, resourceVersion: this.resourceVersion },
      'resourceVersion expired (410): relisting and diffing',
    );
    // A relist asked for by a replaced store must still convert everything again.
    void this.list(this.resyncing);
  }

  private fail(err: KubeApiError, what: string): void {
    if (this.state === 'stopped') return;
    this.stats.failures++;
    this.lastError = err.message;
    const failedAt = Date.now();
    const delay = this.backoff.next();
    this.log.warn(
      { resource: this.resource.plural, op: what, err: err.message, retryInMs: delay },
      'Kubernetes API call failed: serving the last state, retrying',
    );
    this.setState('failing');
    const epoch = this.epoch;
    this.retryTimer = setTimeout(() => void this.retry(epoch, failedAt), delay);
  }

  /** After a failure: resume the watch where we were if we have a position, else list from scratch. */
  private async retry(epoch: number, failedAt: number): Promise<void> {
    if (epoch !== this.epoch || this.state === 'stopped') return;
    if (!this.synced || !this.resourceVersion || this.resyncing) return void this.list(this.resyncing);
    // The connection failed: the API may have come back with another store. One shared probe
    // says so before a resume from the old resourceVersion could miss it.
    try {
      await this.supervisor.beforeResume(failedAt);
    } catch (err) {
      if (epoch === this.epoch) this.fail(err as KubeApiError, 'probe');
      return;
    }
    if (epoch === this.epoch) void this.watch();
  }
}

/** True when both are revisions and `rv` is not after `from`. */
function notAfter(rv: string | undefined, from: string): boolean {
  const r = revisionOf(rv);
  const f = revisionOf(from);
  return r !== undefined && f !== undefined && r <= f;
}
