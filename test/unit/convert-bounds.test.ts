// Objects the API server would refuse, or that no encoder survives, are rejected by
// convertObject by name before any converter walks them: values nested deeper than
// MAX_VALUE_DEPTH or larger than MAX_VALUE_BYTES.
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
