// Turns object events (from a watch, a file, the simulated cluster) into KV changes: each
// object is converted, and the keys it produced last time but not now are released, so an
// object may map to any number of keys. A relist is diffed against what is known, so a
// 410 or a reconnect costs clients only the real changes. An object that fails conversion
// is logged and counted, and its old keys are released (Calico's validation filter turns an
// invalid value into a deletion too); the rest of the sync goes on.
// Two objects can produce the same key (an IPPool renamed with its CIDR kept: the new name
// appears before or with the old one's deletion). Each key therefore has its producers in
// write order; the last one's value is in force, and a key is deleted only when no current
// object produces it. When the producer in force goes, the previous one's value returns.

import type { Logger } from '../../model/logger.js';
import type { KV } from '../../model/types.js';
import type { DatastoreSink } from '../source.js';
import { type KubeObject, objectId } from './object.js';
import { RESOURCE_TYPES } from './resources.js';

const WATCHED_KINDS: ReadonlySet<unknown> = new Set(RESOURCE_TYPES.map((r) => r.kind));

export type ObjectEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface ObjectEvent {
  type: ObjectEventType;
  object: KubeObject;
}

/** Converts one object to its KVs; throws to reject it (the message names the problem). */
export type ObjectConverter = (obj: KubeObject) => KV[];

export interface ObjectObserver {
  upsert(obj: KubeObject): void;
  remove(id: string): void;
}

export class ObjectSink {
  /** objectId → the KVs it produced, and the resourceVersion they came from. */
  private readonly produced = new Map<string, { kvs: KV[]; rv: string | undefined }>();
  /** key → the objects producing it, in write order (the last one's value is in force). */
  private readonly owners = new Map<string, string[]>();
  /** objectId → why its current version was rejected (cleared when it converts or goes). */
  readonly rejected = new Map<string, string>();
  /** Objects skipped because their resourceVersion was unchanged (relists). */
  unchangedSkipped = 0;
  /** "kind: reason" → count, for the conversion-error metric. */
  readonly conversionErrors = new Map<string, number>();

  constructor(
    private readonly sink: DatastoreSink,
    private readonly convert: ObjectConverter,
    private readonly log: Logger,
    /** Sees every raw object and removal (e.g. the agent-pod placement index). */
    private readonly observer?: ObjectObserver,
  ) {}

  get objectCount(): number {
    return this.produced.size;
  }

  apply(events: readonly ObjectEvent[]): void {
    const out: KV[] = [];
    for (const ev of events) {
      if (ev.type === 'DELETED') this.remove(objectId(ev.object), out);
      else this.upsert(ev.object, out);
    }
    if (out.length > 0) this.sink.onUpdates(out);
  }

  /**
   * The complete current set of objects within `inScope` (e.g. one resource type after a
   * relist): known objects in scope that are missing are deleted, the others upserted.
   * Unchanged objects produce unchanged KVs, which the cache drops. `reconvert` converts every
   * object again even at a resourceVersion seen before: a replaced store (an etcd restore)
   * reuses resourceVersions for other contents.
   */
  replaceAll(
    objects: readonly KubeObject[],
    inScope: (id: string) => boolean,
    opts: { reconvert?: boolean } = {},
  ): void {
    const out: KV[] = [];
    const seen = new Set<string>();
    for (const obj of objects) {
      seen.add(objectId(obj));
      this.upsert(obj, out, opts.reconvert === true);
    }
    // Known objects, whether their last version converted or was rejected, that are gone.
    for (const id of [...this.produced.keys(), ...this.rejected.keys()])
      if (inScope(id) && !seen.has(id)) this.remove(id, out);
    if (out.length > 0) this.sink.onUpdates(out);
  }

  private upsert(obj: KubeObject, out: KV[], reconvert = false): void {
    this.observer?.upsert(obj);
    const id = objectId(obj);
    const rv = obj.metadata.resourceVersion;
    const before = this.produced.get(id);
    // Same resourceVersion = same object (within one store's history): a relist re-converts only what changed.
    if (!reconvert && rv !== undefined && before?.rv === rv) {
      this.unchangedSkipped++;
      return;
    }
    let kvs: KV[];
    try {
      kvs = this.convert(obj);
      // A null value would delete the key downstream: a converter bug, not a valid result.
      if (kvs.some((kv) => kv.value === null)) throw new Error('converter produced a null value');
    } catch (err) {
      const reason = (err as Error).message;
      // Only types Tabby watches become label values: a file may name any kind at all.
      const label = WATCHED_KINDS.has(obj.kind) ? obj.kind : 'unsupported';
      this.conversionErrors.set(label, (this.conversionErrors.get(label) ?? 0) + 1);
      this.log.warn(
        { object: id, reason },
        'object failed conversion: ignored (its previous keys are deleted)',
      );
      this.remove(id, out, false);
      this.rejected.set(id, reason);
      return;
    }
    this.rejected.delete(id);
    if (before) {
      const keep = new Set(kvs.map((kv) => kv.key));
      for (const kv of before.kvs) if (!keep.has(kv.key)) this.release(id, kv.key, out);
    }
    // Objects that produce no keys are remembered too, so their relists are skipped as well.
    this.produced.set(id, { kvs, rv });
    for (const kv of kvs) {
      const list = this.owners.get(kv.key);
      if (list === undefined) this.owners.set(kv.key, [id]);
      else {
        const at = list.indexOf(id);
        if (at >= 0) list.splice(at, 1);
        list.push(id);
      }
      out.push(kv);
    }
  }

  /** `gone`: the object no longer exists (not merely failed conversion). */
  private remove(id: string, out: KV[], gone = true): void {
    if (gone) this.observer?.remove(id);
    this.rejected.delete(id);
    const entry = this.produced.get(id);
    if (!entry) return;
    this.produced.delete(id);
    for (const kv of entry.kvs) this.release(id, kv.key, out);
  }

  /** `id` no longer produces `key`: delete it if nobody else does, else restore the one in force. */
  private release(id: string, key: string, out: KV[]): void {
    const list = this.owners.get(key);
    const at = list?.indexOf(id) ?? -1;
    if (list === undefined || at < 0) return;
    const wasInForce = at === list.length - 1;
    list.splice(at, 1);
    if (list.length === 0) {
      this.owners.delete(key);
      out.push({ key, value: null });
      return;
    }
    if (!wasInForce) return;
    const previous = this.produced.get(list.at(-1)!)?.kvs.find((kv) => kv.key === key);
    if (previous !== undefined) out.push(previous);
  }
}
