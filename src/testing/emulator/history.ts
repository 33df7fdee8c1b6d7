// One resource type's event history: the window a watch can resume from and a paged list can
// stay consistent within (the apiserver's watch cache and etcd's compaction, in one). Events
// are kept by count and age; `floorRv` is the newest resourceVersion whose later events are
// all still here, so a watch or snapshot from any RV >= floorRv can be served exactly.

import type { KubeObject } from '../../datastore/kube/object.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly rv: number;
  readonly type: EventType;
  /** "namespace/name" or "name": the object's key within its type, as etcd orders them. */
  readonly key: string;
  /** The new state; for DELETED, the last state with the deletion's resourceVersion. */
  readonly object: KubeObject;
  /** The state before, for MODIFIED and DELETED. */
  readonly prev: KubeObject | undefined;
  readonly atMs: number;
}

export interface HistoryLimits {
  maxEvents: number;
  /** 0 keeps events by count only. */
  maxAgeMs: number;
}

export class EventHistory {
  /** Slots before `head` are trimmed (cleared, so the objects they held can be collected). */
  private events: Array<StoreEvent | undefined> = [];
  private head = 0;
  /** Every event with rv > floorRv is retained. */
  floorRv: number;

  constructor(
    private readonly limits: HistoryLimits,
    initialRv: number,
  ) {
    this.floorRv = initialRv;
  }

  get size(): number {
    return this.events.length - this.head;
  }

  append(e: StoreEvent): void {
    this.events.push(e);
    this.trim(e.atMs);
  }

  /** Drops events beyond the count and age limits. */
  trim(nowMs: number): void {
    const { maxEvents, maxAgeMs } = this.limits;
    while (this.size > 0) {
      const oldest = this.events[this.head]!;
      if (this.size <= maxEvents && (maxAgeMs <= 0 || oldest.atMs >= nowMs - maxAgeMs)) break;
      this.floorRv = oldest.rv;
      this.events[this.head++] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /** Forgets every event: nothing before `rv` can be resumed from. */
  compact(rv: number): void {
    this.events = [];
    this.head = 0;
    this.floorRv = Math.max(this.floorRv, rv);
  }

  /** Index of the first retained event with rv > `rv`. */
  private firstAfter(rv: number): number {
    let lo = this.head;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.rv > rv) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The retained events after `rv`, oldest first; the caller has checked rv >= floorRv. */
  since(rv: number): StoreEvent[] {
    return this.events.slice(this.firstAfter(rv)) as StoreEvent[];
  }

  /** The rv of the last event at or before `rv`, or floorRv when none is retained: names the state at `rv`. */
  stateRvAt(rv: number): number {
    const i = this.firstAfter(rv);
    return i > this.head ? this.events[i - 1]!.rv : this.floorRv;
  }
}
