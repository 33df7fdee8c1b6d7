// The emulator's etcd: the objects of every served type under one global, monotonically
// increasing resourceVersion, each type with its event history (see history.ts), listeners
// for watches, and snapshots of past states for Exact lists and consistent pages.

import { LRUCache } from 'lru-cache';
import type { KubeObject } from '../../datastore/kube/object.js';
import { RESOURCE_TYPES, type ResourceType } from '../../datastore/kube/resources.js';
import { EventHistory, type EventType, type HistoryLimits, type StoreEvent } from './history.js';
import { atResourceVersion, checkPreconditions, keyOf, prepareCreate, prepareUpdate } from './object-meta.js';
import { alreadyExists, notFound } from './status.js';

export interface Entry {
  readonly key: string;
  readonly object: KubeObject;
}

type Listener = (e: StoreEvent) => void;

class TypeState {
  readonly objects = new Map<string, KubeObject>();
  readonly listeners = new Set<Listener>();
  lastWriteRv = 0;
  constructor(readonly history: EventHistory) {}
}

/** etcd starts at revision 1; a fresh store's lists report resourceVersion "1". */
const INITIAL_RV = 1;

export class ObjectStore {
  private rvCounter = INITIAL_RV;
  private readonly types = new Map<ResourceType, TypeState>();
  private readonly snapshots = new LRUCache<string, readonly Entry[]>({ max: 64 });
  private waiters: Array<{ rv: number; resolve: (ok: boolean) => void }> = [];

  constructor(
    private readonly limits: HistoryLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.reset();
  }

  /**
   * Forgets every object and event; the resourceVersion starts again at 1 (an etcd restored from
   * an old snapshot, or a new one). Watchers subscribed before stay on the old state and hear
   * nothing more: the caller ends them.
   */
  reset(): void {
    this.rvCounter = INITIAL_RV;
    for (const r of RESOURCE_TYPES)
      this.types.set(r, new TypeState(new EventHistory(this.limits, INITIAL_RV)));
    this.snapshots.clear();
  }

  /** The current global resourceVersion. */
  get rv(): number {
    return this.rvCounter;
  }

  private state(r: ResourceType): TypeState {
    const s = this.types.get(r);
    if (!s) throw new Error(`not a served resource type: ${r.group}/${r.plural}`);
    return s;
  }

  /** The oldest resourceVersion a watch or snapshot of `r` can start from. */
  floor(r: ResourceType): number {
    const h = this.state(r).history;
    h.trim(this.now());
    return h.floorRv;
  }

  count(r?: ResourceType): number {
    if (r) return this.state(r).objects.size;
    let n = 0;
    for (const s of this.types.values()) n += s.objects.size;
    return n;
  }

  /** Events retained for resuming watches, all types (after dropping those past the age limit). */
  historyEvents(): number {
    const now = this.now();
    let n = 0;
    for (const s of this.types.values()) {
      s.history.trim(now);
      n += s.history.size;
    }
    return n;
  }

  get(r: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.state(r).objects.get(keyOf(r, namespace, name));
  }

  create(r: ResourceType, body: unknown, namespace?: string): KubeObject {
    const obj = prepareCreate(r, body, namespace);
    const key = keyOf(r, obj.metadata.namespace, obj.metadata.name);
    if (this.state(r).objects.has(key)) throw alreadyExists(r, obj.metadata.name);
    return this.commit(r, 'ADDED', key, obj, undefined);
  }

  /** PUT semantics: the object must exist; a resourceVersion in the body is a precondition. */
  update(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    subresource?: 'status',
  ): KubeObject {
    const key = keyOf(r, namespace, name);
    const cur = this.state(r).objects.get(key);
    if (!cur) throw notFound(r, name);
    const next = prepareUpdate(r, cur, body, subresource);
    return next ? this.commit(r, 'MODIFIED', key, next, cur) : cur;
  }

  /** Deletes now (no graceful deletion or finalizers); returns the object at the deletion's resourceVersion. */
  delete(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    preconditions?: { uid?: unknown; resourceVersion?: unknown },
  ): KubeObject {
    const key = keyOf(r, namespace, name);
    const cur = this.state(r).objects.get(key);
    if (!cur) throw notFound(r, name);
    checkPreconditions(r, cur, preconditions);
    return this.commit(r, 'DELETED', key, cur, cur);
  }

  private commit(
    r: ResourceType,
    type: EventType,
    key: string,
    obj: KubeObject,
    prev: KubeObject | undefined,
  ): KubeObject {
    const s = this.state(r);
    const rv = ++this.rvCounter;
    const stored = atResourceVersion(obj, rv);
    if (type === 'DELETED') s.objects.delete(key);
    else s.objects.set(key, stored);
    s.lastWriteRv = rv;
    const event: StoreEvent = { rv, type, key, object: stored, prev, atMs: this.now() };
    s.history.append(event);
    for (const l of s.listeners) l(event);
    if (this.waiters.length > 0) {
      const ready = this.waiters.filter((w) => w.rv <= rv);
      this.waiters = this.waiters.filter((w) => w.rv > rv);
      for (const w of ready) w.resolve(true);
    }
    return stored;
  }

  /** Calls `l` synchronously after every write to `r`; returns the unsubscribe function. */
  subscribe(r: ResourceType, l: Listener): () => void {
    const s = this.state(r);
    s.listeners.add(l);
    return () => s.listeners.delete(l);
  }

  /** Events of `r` after `rv`, oldest first; the caller has checked rv >= floor(r). */
  eventsSince(r: ResourceType, rv: number): StoreEvent[] {
    return this.state(r).history.since(rv);
  }

  /** All objects of `r` at `rv` (floor(r) <= rv <= this.rv), sorted by key; cached. */
  snapshot(r: ResourceType, rv: number): readonly Entry[] {
    const s = this.state(r);
    const atRv = s.history.stateRvAt(rv);
    const cacheKey = `${r.group}/${r.plural}@${atRv}`;
    const hit = this.snapshots.get(cacheKey);
    if (hit) return hit;
    let objects: Map<string, KubeObject> = s.objects;
    if (atRv < s.lastWriteRv) {
      objects = new Map(s.objects);
      const later = s.history.since(atRv);
      for (let i = later.length - 1; i >= 0; i--) {
        const e = later[i]!;
        if (e.prev) objects.set(e.key, e.prev);
        else objects.delete(e.key);
      }
    }
    const entries = [...objects].map(([key, object]) => ({ key, object }));
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.snapshots.set(cacheKey, entries);
    return entries;
  }

  /** Resolves true once the store reaches `rv`, false after `timeoutMs`. */
  waitFor(rv: number, timeoutMs: number): Promise<boolean> {
    if (this.rvCounter >= rv) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        rv,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      this.waiters.push(w);
    });
  }

  /** Drops all history: any resourceVersion before now is too old to watch from or list at. */
  compact(): void {
    for (const s of this.types.values()) s.history.compact(this.rvCounter);
    this.snapshots.clear();
  }
}
