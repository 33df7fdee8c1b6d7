// Where watches start and end: resolves a watch request's resourceVersion semantics (replay
// from N, or the current state first when unset/"0", sendInitialEvents, 410 for a compacted
// N as a 200 + ERROR event), picks its timeout, and keeps the open sessions for dropWatches().

import type { ServerResponse } from 'node:http';
import type { ResourceType } from '../../datastore/kube/resources.js';
import type { Logger } from '../../model/logger.js';
import { watchLine } from './encode.js';
import { type ListOptions, parseResourceVersion } from './query.js';
import { objectFilter } from './selectors.js';
import type { EmulatorStats } from './stats.js';
import { tooLargeResourceVersion } from './status.js';
import type { ObjectStore } from './store.js';
import { tooOldWatch, type WatchLimits, type WatchRequest, WatchSession } from './watch.js';

export interface WatchHubOptions extends WatchLimits {
  /** Watches without timeoutSeconds end after a random time in [min, 2×min) (--min-request-timeout). */
  minRequestTimeoutMs: number;
  tooLargeRvWaitMs: number;
}

export class WatchHub {
  private readonly sessions = new Set<WatchSession>();

  constructor(
    private readonly store: ObjectStore,
    private readonly stats: EmulatorStats,
    private readonly opts: WatchHubOptions,
    private readonly log: Logger,
  ) {}

  get open(): number {
    return this.sessions.size;
  }

  /** Starts a watch on `res`; throws a Status error (before any byte is written) for a bad request. */
  async start(
    res: ServerResponse,
    r: ResourceType,
    namespace: string | undefined,
    name: string | undefined,
    o: ListOptions,
  ): Promise<void> {
    const { store } = this;
    const f = objectFilter(r, namespace, o.labelSelector, o.fieldSelector);
    const filter =
      name === undefined
        ? f.pass
        : (obj: Parameters<typeof f.pass>[0]) => obj.metadata.name === name && f.pass(obj);
    const timeoutMs =
      o.timeoutSeconds !== undefined && o.timeoutSeconds > 0
        ? o.timeoutSeconds * 1000
        : this.opts.minRequestTimeoutMs * (1 + Math.random());
    const rvText = o.resourceVersion;
    const requested = rvText === '' || rvText === '0' ? undefined : parseResourceVersion(rvText);
    const base = { r, filter, allowBookmarks: o.allowWatchBookmarks, timeoutMs, initialEventsEnd: false };
    let req: WatchRequest;
    if (o.sendInitialEvents === true) {
      // NotOlderThan: the current state, once the store has reached the requested resourceVersion.
      if (
        requested !== undefined &&
        requested > store.rv &&
        !(await store.waitFor(requested, this.opts.tooLargeRvWaitMs))
      )
        throw tooLargeResourceVersion(requested, store.rv);
      req = { ...base, fromRv: store.rv, initial: 'state', initialEventsEnd: true };
    } else if (requested === undefined) {
      req = { ...base, fromRv: store.rv, initial: o.sendInitialEvents === false ? 'none' : 'state' };
    } else {
      const floor = store.floor(r);
      if (requested < floor) {
        this.expired(res, r, tooOldWatch(requested, floor));
        return;
      }
      req = { ...base, fromRv: requested, initial: 'replay' };
    }
    this.stats.watchStarted(r);
    const session = new WatchSession(req, res, store, this.stats, this.opts, this.log, (s) => {
      this.sessions.delete(s);
      this.stats.watchClosed(r);
    });
    this.sessions.add(session);
  }

  /** The real server's answer to a watch from a compacted resourceVersion: 200, one ERROR event, end. */
  private expired(res: ServerResponse, r: ResourceType, status: object): void {
    this.stats.watchStarted(r);
    const line = watchLine('ERROR', JSON.stringify(status));
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.end(line);
    this.stats.watchWrite(r, Buffer.byteLength(line), false);
    this.stats.watchClosed(r);
  }

  /** Cuts every open watch connection; returns how many. */
  dropAll(): number {
    const all = [...this.sessions];
    for (const s of all) s.drop();
    return all.length;
  }

  /** Ends every open watch cleanly. */
  endAll(): void {
    for (const s of [...this.sessions]) s.end('stop');
  }
}
