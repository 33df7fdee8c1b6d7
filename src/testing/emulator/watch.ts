// Watch streams: newline-delimited JSON events over a chunked 200 response. A watch starts
// from a resourceVersion (replaying history), or with the current state as synthetic ADDED
// events; selectors turn modifications into ADDED/DELETED as objects enter or leave them (as
// the cacher does); bookmarks on a timer; the stream ends at its timeout. Writes honour
// backpressure; a watcher whose queue of live events outgrows its bound is terminated.

import type { ServerResponse } from 'node:http';
import type { KubeObject } from '../../datastore/kube/object.js';
import { apiVersionOf, type ResourceType } from '../../datastore/kube/resources.js';
import type { Logger } from '../../model/logger.js';
import { encode, watchLine } from './encode.js';
import type { StoreEvent } from './history.js';
import { atResourceVersion } from './object-meta.js';
import type { ObjectPredicate } from './selectors.js';
import type { EmulatorStats } from './stats.js';
import { expired, type Status } from './status.js';
import type { ObjectStore } from './store.js';

export interface WatchLimits {
  bookmarkIntervalMs: number;
  /** Live events queued for a watcher that is not reading, before it is terminated. */
  maxQueuedEvents: number;
  maxQueuedBytes: number;
}

export interface WatchRequest {
  r: ResourceType;
  filter: ObjectPredicate;
  /** Events after this resourceVersion are sent. */
  fromRv: number;
  /** Sent first: the state at fromRv as ADDED events, the history after fromRv, or nothing. */
  initial: 'state' | 'replay' | 'none';
  /** After the initial state, a bookmark annotated k8s.io/initial-events-end (sendInitialEvents). */
  initialEventsEnd: boolean;
  allowBookmarks: boolean;
  timeoutMs: number;
}

const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** What a watcher sees of a store event: the cacher's conversion for filtered watches. */
function convert(e: StoreEvent, pass: ObjectPredicate): { type: string; object: KubeObject } | undefined {
  const cur = e.type !== 'DELETED' && pass(e.object);
  const old = e.prev !== undefined && pass(e.prev);
  if (cur) return { type: old ? 'MODIFIED' : 'ADDED', object: e.object };
  if (!old) return undefined;
  return { type: 'DELETED', object: e.type === 'DELETED' ? e.object : atResourceVersion(e.prev!, e.rv) };
}

export function bookmarkLine(r: ResourceType, rv: number, initialEventsEnd = false): string {
  const metadata = initialEventsEnd
    ? { resourceVersion: String(rv), annotations: { [INITIAL_EVENTS_END]: 'true' } }
    : { resourceVersion: String(rv) };
  return watchLine('BOOKMARK', JSON.stringify({ kind: r.kind, apiVersion: apiVersionOf(r), metadata }));
}

export const tooOldWatch = (rv: number, floor: number): Status =>
  expired(`too old resource version: ${rv} (${floor})`).status;

export class WatchSession {
  /** Sent first: the state as ADDED events, or the history being replayed (one of them is empty). */
  private initialState: readonly KubeObject[] = [];
  private initialEvents: readonly StoreEvent[] = [];
  private initialAt = 0;
  private queue: string[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private blocked = false;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void;

  constructor(
    readonly req: WatchRequest,
    private readonly res: ServerResponse,
    private readonly store: ObjectStore,
    private readonly stats: EmulatorStats,
    private readonly limits: WatchLimits,
    private readonly log: Logger,
    private readonly onClose: (s: WatchSession) => void,
  ) {
    const { r, fromRv } = req;
    res.on('close', () => this.cleanup());
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    // Subscribing and reading the state or history happen in the same tick: nothing is missed.
    this.unsubscribe = store.subscribe(r, (e) => {
      if (e.rv > fromRv) this.onEvent(e);
    });
    if (req.initial === 'state') {
      this.initialState = store
        .snapshot(r, fromRv)
        .filter((e) => req.filter(e.object))
        .map((e) => e.object);
    } else if (req.initial === 'replay' && fromRv < store.rv) {
      this.initialEvents = store.eventsSince(r, fromRv);
    }
    if (req.initialEventsEnd && req.allowBookmarks) this.enqueue(bookmarkLine(r, fromRv, true), false);
    if (req.allowBookmarks) {
      const t = setInterval(() => this.bookmark(), limits.bookmarkIntervalMs);
      t.unref();
      this.timers.push(t);
    }
    const deadline = setTimeout(() => this.end('timeout'), req.timeoutMs);
    deadline.unref();
    this.timers.push(deadline);
    this.pump();
  }

  private onEvent(e: StoreEvent): void {
    const c = convert(e, this.req.filter);
    if (c) this.enqueue(watchLine(c.type, encode(c.object)), true);
  }

  private bookmark(): void {
    const rv = this.store.rv;
    if (rv >= this.req.fromRv) this.enqueue(bookmarkLine(this.req.r, rv), false);
  }

  private enqueue(line: string, isEvent: boolean): void {
    if (this.closed) return;
    this.queue.push(line);
    this.queuedBytes += line.length;
    const queued = this.queue.length - this.queueHead;
    if (isEvent && (queued > this.limits.maxQueuedEvents || this.queuedBytes > this.limits.maxQueuedBytes)) {
      this.terminate(queued);
      return;
    }
    if (!this.blocked) this.pump();
  }

  /** The next line to send: the initial events first, then the queue; '' for a filtered-out event. */
  private next(): string | undefined {
    if (this.initialAt < this.initialState.length) {
      return watchLine('ADDED', encode(this.initialState[this.initialAt++]!));
    }
    const replayAt = this.initialAt - this.initialState.length;
    if (replayAt < this.initialEvents.length) {
      this.initialAt++;
      const c = convert(this.initialEvents[replayAt]!, this.req.filter);
      return c ? watchLine(c.type, encode(c.object)) : '';
    }
    if (this.queueHead < this.queue.length) {
      const line = this.queue[this.queueHead++]!;
      this.queuedBytes -= line.length;
      if (this.queueHead === this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      }
      return line;
    }
    return undefined;
  }

  private pump(): void {
    while (!this.blocked && !this.closed) {
      const line = this.next();
      if (line === undefined) return;
      if (line === '') continue;
      const bytes = Buffer.byteLength(line);
      this.stats.watchWrite(this.req.r, bytes, line.startsWith('{"type":"BOOKMARK"'));
      if (!this.res.write(line)) {
        this.blocked = true;
        this.res.once('drain', () => {
          this.blocked = false;
          this.pump();
        });
      }
    }
  }

  /** Ends the stream cleanly (the client sees the response complete). */
  end(why: 'timeout' | 'stop'): void {
    if (this.closed) return;
    if (why === 'timeout' && this.req.allowBookmarks && !this.blocked) {
      // The real server sends a last bookmark shortly before the timeout.
      const line = bookmarkLine(this.req.r, Math.max(this.store.rv, this.req.fromRv));
      this.stats.watchWrite(this.req.r, Buffer.byteLength(line), true);
      this.res.write(line);
    }
    this.cleanup();
    this.res.end();
  }

  /** Like the cacher's "Forcing watcher close due to unresponsiveness": end it, count it, log it. */
  private terminate(queued: number): void {
    this.log.warn(
      { resource: this.req.r.plural, queuedEvents: queued, queuedBytes: this.queuedBytes },
      'terminating a watcher that is not keeping up',
    );
    this.stats.watchTerminated(this.req.r);
    this.cleanup();
    this.res.end();
  }

  /** Cuts the connection without ending the response (a crashed or partitioned server). */
  drop(): void {
    if (this.closed) return;
    this.stats.watchDropped(this.req.r);
    this.cleanup();
    this.res.socket?.destroy();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.initialState = [];
    this.initialEvents = [];
    this.onClose(this);
  }
}
