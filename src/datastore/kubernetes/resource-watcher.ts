// One List+Watch of one resource type: list (paged) → diff into the ObjectSink → watch from
// the list's resourceVersion with bookmarks → on a clean end, watch again from the last
// resourceVersion; on 410 Gone, relist and diff (clients see only what really changed); on
// any other failure, retry with jittered backoff while the last state keeps being served.

import { Backoff, type BackoffOptions } from '../../model/backoff.js';
import type { Logger } from '../../model/logger.js';
import type { KubeObject } from '../kube/object.js';
import type { ObjectSink } from '../kube/object-sink.js';
import type { ResourceType } from '../kube/resources.js';
import type { KubeApi, KubeApiError, WatchEventType, WatchHandle } from './kube-api.js';

export interface WatcherOptions {
  pageSize: number;
  /** Watches ask the server to end after a random time in [min, 2×min) seconds, spreading re-watches. */
  minWatchTimeoutSeconds: number;
  backoff: BackoffOptions;
}

export interface WatcherStats {
  lists: number;
  relistsAfterExpiry: number;
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
  resourceVersion = '';
  lastError: string | undefined;
  readonly stats: WatcherStats = {
    lists: 0,
    relistsAfterExpiry: 0,
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

  constructor(
    readonly resource: ResourceType,
    private readonly api: KubeApi,
    private readonly sink: Pick<ObjectSink, 'apply' | 'replaceAll'>,
    private readonly opts: WatcherOptions,
    private readonly log: Logger,
    /** Called whenever `state` or `synced` changes. */
    private readonly onChange: () => void,
  ) {
    this.backoff = new Backoff(opts.backoff);
    this.scope = `${resource.group}/${resource.kind}/`;
  }

  start(): void {
    void this.list();
  }

  stop(): void {
    this.setState('stopped');
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

  private async list(): Promise<void> {
    if (this.state === 'stopped') return;
    this.setState('listing');
    const items: KubeObject[] = [];
    let rv = '';
    try {
      let continueToken: string | undefined;
      do {
        const page = await this.api.listPage(this.resource, { limit: this.opts.pageSize, continueToken });
        for (const item of page.items) items.push(item);
        rv = page.resourceVersion;
        continueToken = page.continueToken;
      } while (continueToken);
    } catch (err) {
      // An expired continue token (410) means the list must start over: same as any failure.
      this.fail(err as KubeApiError, 'list');
      return;
    }
    if ((this.state as WatcherState) === 'stopped') return;
    this.stats.lists++;
    this.sink.replaceAll(items, (id) => id.startsWith(this.scope));
    this.resourceVersion = rv;
    this.log.info({ resource: this.resource.plural, objects: items.length, resourceVersion: rv }, 'listed');
    if (!this.synced) {
      this.synced = true;
      this.onChange();
    }
    void this.watch();
  }

  private async watch(): Promise<void> {
    if (this.state === 'stopped') return;
    const timeout = this.opts.minWatchTimeoutSeconds * (1 + Math.random());
    this.stats.watches++;
    let ended = false;
    const done = (err: KubeApiError | null) => {
      if (ended) return;
      ended = true;
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
    try {
      this.handle = await this.api.watch(
        this.resource,
        this.resourceVersion,
        Math.round(timeout),
        (type, obj) => this.onEvent(type, obj, done),
        done,
      );
    } catch (err) {
      done(err as KubeApiError);
      return;
    }
    if (ended) return;
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

  private onEvent(type: WatchEventType, obj: KubeObject, done: (err: KubeApiError | null) => void): void {
    const rv = obj?.metadata?.resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        this.stats.events++;
        this.sink.apply([{ type, object: obj }]);
        if (rv) this.resourceVersion = rv;
        return;
      case 'BOOKMARK':
        this.stats.bookmarks++;
        if (rv) this.resourceVersion = rv;
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
    void this.list();
  }

  private fail(err: KubeApiError, what: string): void {
    if (this.state === 'stopped') return;
    this.stats.failures++;
    this.lastError = err.message;
    const delay = this.backoff.next();
    this.log.warn(
      { resource: this.resource.plural, op: what, err: err.message, retryInMs: delay },
      'Kubernetes API call failed: serving the last state, retrying',
    );
    this.setState('failing');
    this.retryTimer = setTimeout(() => {
      // Resume the watch where we were if we have a position; else list from scratch.
      if (this.synced && this.resourceVersion) void this.watch();
      else void this.list();
    }, delay);
  }
}
