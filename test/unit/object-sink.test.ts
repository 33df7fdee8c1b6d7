// ObjectSink when two objects produce the same key: an IPPool renamed with its CIDR kept, in
// one file reload or one relist (replaceAll), or as a create-then-delete pair of watch events.
// The key must end up holding the live object's value, never deleted.

import { describe, expect, it } from 'vitest';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { ObjectSink } from '../../src/datastore/kube/object-sink.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import type { JsonValue, KV } from '../../src/model/types.js';

const pool = (name: string, cidr: string, natOutgoing = false, rv?: string): KubeObject =>
  ({
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'IPPool',
    metadata: { name, ...(rv === undefined ? {} : { resourceVersion: rv }) },
    spec: { cidr, natOutgoing },
  }) as unknown as KubeObject;

function harness() {
  const state = new Map<string, JsonValue>();
  const sink = new ObjectSink(
    {
      onUpdates: (kvs: readonly KV[]) => {
        for (const kv of kvs) kv.value === null ? state.delete(kv.key) : state.set(kv.key, kv.value);
      },
      onStatus: () => {},
    },
    convertObject,
    silentLogger,
  );
  return { state, sink };
}

const KEY = Keys.ipPool('10.1.0.0/16');
const nat = (state: Map<string, JsonValue>) =>
  (state.get(KEY) as { natOutgoing?: boolean } | undefined)?.natOutgoing;

describe('object sink: objects sharing a key', () => {
  it('replaceAll with a renamed object (same key) keeps the key, holding the new value', () => {
    const { state, sink } = harness();
    sink.replaceAll([pool('old', '10.1.0.0/16')], () => true);
    expect(nat(state)).toBe(false);
    sink.replaceAll([pool('new', '10.1.0.0/16', true)], () => true);
    expect(state.has(KEY)).toBe(true);
    expect(nat(state)).toBe(true);
    // The old name is forgotten: deleting the new object deletes the key.
    sink.replaceAll([], () => true);
    expect(state.has(KEY)).toBe(false);
  });

  it('watch events: create the new name, then delete the old one', () => {
    const { state, sink } = harness();
    sink.apply([{ type: 'ADDED', object: pool('old', '10.1.0.0/16', false, '1') }]);
    sink.apply([{ type: 'ADDED', object: pool('new', '10.1.0.0/16', true, '2') }]);
    sink.apply([{ type: 'DELETED', object: pool('old', '10.1.0.0/16', false, '1') }]);
    expect(nat(state)).toBe(true);
    sink.apply([{ type: 'DELETED', object: pool('new', '10.1.0.0/16', true, '2') }]);
    expect(state.has(KEY)).toBe(false);
  });

  it('when the object whose value is in force goes, the remaining producer’s value is restored', () => {
    const { state, sink } = harness();
    sink.apply([
      { type: 'ADDED', object: pool('a', '10.1.0.0/16', false) },
      { type: 'ADDED', object: pool('b', '10.1.0.0/16', true) },
    ]);
    expect(nat(state)).toBe(true);
    sink.apply([{ type: 'DELETED', object: pool('b', '10.1.0.0/16', true) }]);
    expect(nat(state)).toBe(false);
    // An object that stops producing the key (its CIDR changed) also hands it back.
    sink.apply([{ type: 'ADDED', object: pool('b', '10.1.0.0/16', true) }]);
    sink.apply([{ type: 'MODIFIED', object: pool('b', '10.2.0.0/16', true) }]);
    expect(nat(state)).toBe(false);
    expect(state.has(Keys.ipPool('10.2.0.0/16'))).toBe(true);
    // A failed conversion of the producer in force hands the key back too.
    sink.apply([{ type: 'MODIFIED', object: pool('b', '10.1.0.0/16', true) }]);
    sink.apply([{ type: 'MODIFIED', object: pool('b', 'not-a-cidr', true) }]);
    expect(nat(state)).toBe(false);
    expect(state.has(Keys.ipPool('10.2.0.0/16'))).toBe(false);
  });
});

describe('object sink: rejected objects', () => {
  it('counts rejections by watched kind; any other kind is one label, however many a file invents', () => {
    const { state, sink } = harness();
    const invented = Array.from({ length: 50 }, (_, i) => ({
      apiVersion: 'example.com/v1',
      kind: `Widget${i}`,
      metadata: { name: `w${i}` },
    })) as unknown as KubeObject[];
    sink.replaceAll([pool('bad', 'not-a-cidr'), pool('good', '10.1.0.0/16'), ...invented], () => true);
    expect([...sink.conversionErrors]).toEqual([
      ['IPPool', 1],
      ['unsupported', 50],
    ]);
    expect(state.has(KEY)).toBe(true);
  });
});
