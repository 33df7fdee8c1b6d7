// Counters for the load test's "API load" figures: per resource type (keyed "pods",
// "ippools.crd.projectcalico.org") and in total, plus requests by verb and HTTP code.

import type { ResourceType } from '../../datastore/kube/resources.js';
import { qualifiedResource } from './status.js';

export interface ResourceCounters {
  lists: number;
  listItems: number;
  gets: number;
  writes: number;
  watchesStarted: number;
  watchesOpen: number;
  /** Closed by the emulator because they did not keep up. */
  watchesTerminated: number;
  /** Cut by dropWatches() or stop(). */
  watchesDropped: number;
  /** ADDED/MODIFIED/DELETED/ERROR events written to watch streams. */
  eventsSent: number;
  bookmarksSent: number;
  bytesServed: number;
}

export interface StatsSnapshot {
  resourceVersion: string;
  objects: number;
  /** Events held in the per-type histories (the watch-cache window), all types. */
  historyEvents: number;
  total: ResourceCounters;
  byResource: Record<string, ResourceCounters>;
  /** verb → HTTP status code → count. Verbs: get list watch create update patch delete discovery emulator. */
  requests: Record<string, Record<string, number>>;
}

const zero = (): ResourceCounters => ({
  lists: 0,
  listItems: 0,
  gets: 0,
  writes: 0,
  watchesStarted: 0,
  watchesOpen: 0,
  watchesTerminated: 0,
  watchesDropped: 0,
  eventsSent: 0,
  bookmarksSent: 0,
  bytesServed: 0,
});

export class EmulatorStats {
  private readonly byResource = new Map<string, ResourceCounters>();
  private readonly requests = new Map<string, Map<number, number>>();
  /** Bytes of responses not about one resource type (discovery, health, errors on unknown paths). */
  private otherBytes = 0;

  private of(r: ResourceType): ResourceCounters {
    const k = qualifiedResource(r);
    let c = this.byResource.get(k);
    if (!c) {
      c = zero();
      this.byResource.set(k, c);
    }
    return c;
  }

  request(verb: string, code: number, r: ResourceType | undefined, bytes: number): void {
    let m = this.requests.get(verb);
    if (!m) {
      m = new Map();
      this.requests.set(verb, m);
    }
    m.set(code, (m.get(code) ?? 0) + 1);
    if (!r) {
      this.otherBytes += bytes;
      return;
    }
    const c = this.of(r);
    c.bytesServed += bytes;
    if (code >= 300) return;
    if (verb === 'get') c.gets++;
    else if (verb === 'create' || verb === 'update' || verb === 'patch' || verb === 'delete') c.writes++;
  }

  listed(r: ResourceType, items: number): void {
    const c = this.of(r);
    c.lists++;
    c.listItems += items;
  }

  watchStarted(r: ResourceType): void {
    const c = this.of(r);
    c.watchesStarted++;
    c.watchesOpen++;
  }

  watchClosed(r: ResourceType): void {
    this.of(r).watchesOpen--;
  }

  watchWrite(r: ResourceType, bytes: number, bookmark: boolean): void {
    const c = this.of(r);
    c.bytesServed += bytes;
    if (bookmark) c.bookmarksSent++;
    else c.eventsSent++;
  }

  watchTerminated(r: ResourceType): void {
    this.of(r).watchesTerminated++;
  }

  watchDropped(r: ResourceType): void {
    this.of(r).watchesDropped++;
  }

  snapshot(resourceVersion: number, objects: number, historyEvents: number): StatsSnapshot {
    const total = zero();
    const byResource: Record<string, ResourceCounters> = {};
    for (const [k, c] of [...this.byResource].sort(([a], [b]) => (a < b ? -1 : 1))) {
      byResource[k] = { ...c };
      for (const f of Object.keys(total) as Array<keyof ResourceCounters>) total[f] += c[f];
    }
    total.bytesServed += this.otherBytes;
    const requests: Record<string, Record<string, number>> = {};
    for (const [verb, m] of this.requests) requests[verb] = Object.fromEntries(m);
    return { resourceVersion: String(resourceVersion), objects, historyEvents, total, byResource, requests };
  }
}
