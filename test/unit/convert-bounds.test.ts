// Objects the API server would refuse, or that no encoder survives, are rejected by
// convertObject by name before any converter walks them: values nested deeper than
// MAX_VALUE_DEPTH or larger than MAX_VALUE_BYTES, and labels/annotations that are not
// Kubernetes string maps with valid keys and values.
import { describe, expect, it } from 'vitest';
import { ConversionError, convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { ObjectSink } from '../../src/datastore/kube/object-sink.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import type { KV } from '../../src/model/types.js';
import { MAX_VALUE_BYTES, MAX_VALUE_DEPTH } from '../../src/model/value-bounds.js';
import { nested } from './hostile-values.js';

const crd = 'crd.projectcalico.org/v1';
const bgpPeer = (spec: object, metadata: object = {}): KubeObject => ({
  apiVersion: crd,
  kind: 'BGPPeer',
  metadata: { name: 'peer-1', ...metadata },
  spec: { peerIP: '192.0.2.1', asNumber: 64512, ...spec },
});
const pod = (labels: unknown, annotations?: unknown): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'prod', labels, annotations },
    spec: { nodeName: 'node-1' },
    status: { phase: 'Running', podIP: '10.244.1.5' },
  }) as KubeObject;

/** The ConversionError convertObject throws for `obj`. */
function rejection(obj: KubeObject): ConversionError {
  try {
    convertObject(obj);
  } catch (err) {
    if (err instanceof ConversionError) return err;
    throw new Error(`not a ConversionError: ${String(err)}`);
  }
  throw new Error('object was accepted');
}

const DEEP = `spec: nested more than ${MAX_VALUE_DEPTH} levels deep`;

describe('value depth and size bounds at conversion', () => {
  it('a BGPPeer spec nested 4,000 and 50,000 deep is rejected by name', () => {
    for (const depth of [4_000, 50_000]) {
      const err = rejection(bgpPeer({ extra: nested(depth) }));
      expect(err.message).toBe(`BGPPeer peer-1: ${DEEP}`);
      expect(err.reason).toBe(DEEP);
    }
  });

  it('every pass-through spec and every kind is bounded, before its converter reads it', () => {
    const objs: KubeObject[] = [
      {
        apiVersion: crd,
        kind: 'BGPConfiguration',
        metadata: { name: 'default' },
        spec: { x: nested(5_000) },
      },
      // A known field: Felix's converter would stringify it recursively.
      {
        apiVersion: crd,
        kind: 'FelixConfiguration',
        metadata: { name: 'default' },
        spec: { failsafeInboundHostPorts: [nested(20_000)] },
      },
      {
        apiVersion: crd,
        kind: 'IPAMBlock',
        metadata: { name: '10-0-0-0-26' },
        spec: { cidr: '10.0.0.0/26', attributes: [{ secondary: nested(5_000) }] },
      },
      { ...pod({ app: 'web' }), spec: { nodeName: 'node-1', unknown: nested(5_000) } },
    ];
    for (const obj of objs) expect(rejection(obj).reason).toBe(DEEP);
  });

  it('values up to the bound pass unchanged', () => {
    // The object's root and `spec` are two levels; `extra` and its nesting the rest.
    const obj = bgpPeer({ extra: nested(MAX_VALUE_DEPTH - 2, 'leaf') });
    const [kv] = convertObject(obj);
    expect((kv!.value as { spec: { extra: unknown } }).spec.extra).toEqual(
      nested(MAX_VALUE_DEPTH - 2, 'leaf'),
    );
    expect(rejection(bgpPeer({ extra: nested(MAX_VALUE_DEPTH - 1, 'leaf') })).reason).toBe(DEEP);
  });

  it('an object larger than the size bound is rejected by name', () => {
    const err = rejection(bgpPeer({ password: 'x'.repeat(MAX_VALUE_BYTES) }));
    expect(err.message).toBe(`BGPPeer peer-1: spec: larger than ${MAX_VALUE_BYTES} bytes of JSON`);
    const wide = rejection(bgpPeer({ list: new Array(MAX_VALUE_BYTES).fill(0) }));
    expect(wide.reason).toBe(`spec: larger than ${MAX_VALUE_BYTES} bytes of JSON`);
  });

  it('the object sink counts the rejection by kind and the other objects still convert', () => {
    const out: KV[] = [];
    const sink = new ObjectSink(
      { onUpdates: (kvs) => out.push(...kvs), onStatus: () => {} },
      convertObject,
      silentLogger,
    );
    sink.apply([
      { type: 'ADDED', object: bgpPeer({}, { name: 'good' }) },
      { type: 'ADDED', object: bgpPeer({ extra: nested(4_000) }, { name: 'deep' }) },
      { type: 'ADDED', object: pod({ app: 'web' }) },
    ]);
    expect(sink.conversionErrors).toEqual(new Map([['BGPPeer', 1]]));
    expect(out.map((kv) => kv.key).sort()).toEqual([
      Keys.bgpPeer('good'),
      Keys.workloadEndpoint('node-1', 'prod', 'web-0'),
    ]);
  });
});

describe('labels and annotations are Kubernetes string maps', () => {
  it('scalar label values become the strings calicoctl reads, on every kind that carries labels', () => {
    const kinds: KubeObject[] = [
      pod({ replicas: 5 }),
      {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'n1', labels: { replicas: 5 } },
      } as unknown as KubeObject,
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'ns', labels: { replicas: 5 } },
      } as unknown as KubeObject,
      bgpPeer({}, { labels: { replicas: 5 } }),
      {
        apiVersion: crd,
        kind: 'GlobalNetworkSet',
        metadata: { name: 'gns', labels: { replicas: 5 } },
        spec: { nets: ['10.0.0.0/8'] },
      } as unknown as KubeObject,
    ];
    for (const obj of kinds) expect(JSON.stringify(convertObject(obj))).toContain('"5"');
    expect(JSON.stringify(convertObject(pod({ canary: true })))).toContain('"canary":"true"');
  });

  it('label values that are maps, lists or null reject the object by name', () => {
    expect(rejection(pod({ nested: { nested: true } })).reason).toBe(
      'metadata.labels.nested: expected a string, got {"nested":true}',
    );
    expect(rejection(pod({ ok: null })).reason).toBe('metadata.labels.ok: expected a string, got null');
    expect(rejection(pod(['a'])).reason).toBe('metadata.labels: expected an object, got ["a"]');
    expect(rejection(pod({ list: ['a'] })).reason).toBe('metadata.labels.list: expected a string, got ["a"]');
  });

  it('label keys and values follow Kubernetes syntax and length limits', () => {
    const ok = {
      app: 'web',
      'app.kubernetes.io/name': 'web_1.v-2',
      empty: '',
      [`${'a'.repeat(63)}`]: 'v'.repeat(63),
      [`${'d'.repeat(60)}.${'e'.repeat(60)}.example.com/x`]: 'y',
    };
    expect(convertObject(pod(ok))).toHaveLength(1);
    const bad: Array<[Record<string, string>, string]> = [
      [{ app: 'v'.repeat(64) }, '(at most 63 characters'],
      [{ app: 'has space' }, 'metadata.labels.app: invalid label value'],
      [{ app: '-leading' }, 'metadata.labels.app: invalid label value'],
      [{ 'bad key': 'v' }, 'metadata.labels: invalid key "bad key"'],
      [{ [`${'a'.repeat(64)}`]: 'v' }, 'metadata.labels: invalid key'],
      [{ 'a/b/c': 'v' }, 'metadata.labels: invalid key "a/b/c"'],
      [{ 'UPPER.example.com/x': 'v' }, 'metadata.labels: invalid key "UPPER.example.com/x"'],
      [{ '/x': 'v' }, 'metadata.labels: invalid key "/x"'],
      [{ '': 'v' }, 'metadata.labels: invalid key ""'],
    ];
    for (const [labels, reason] of bad) expect(rejection(pod(labels)).reason).toContain(reason);
  });

  it('annotations must be strings under valid keys, at most 256 KiB in all', () => {
    expect(rejection(pod({ app: 'web' }, { n: 1 })).reason).toBe(
      'metadata.annotations.n: expected a string, got 1',
    );
    expect(rejection(pod({ app: 'web' }, { 'bad key': 'v' })).reason).toContain(
      'metadata.annotations: invalid key',
    );
    // Values are free text; keys are checked in lower case, as Kubernetes does.
    expect(convertObject(pod({ app: 'web' }, { 'Example.com/Note': 'any text: {"x": 1}' }))).toHaveLength(1);
    expect(rejection(pod({ app: 'web' }, { big: 'x'.repeat(256 << 10) })).reason).toBe(
      'metadata.annotations: larger than 262144 bytes in all',
    );
  });
});
