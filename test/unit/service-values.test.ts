// The Service and EndpointSlice values (model/values/service.ts): what the converter stores
// parses back to the view the agent reads; a value of the wrong shape, however hostile, is a
// BadValue (reported as invalid by RoutingState and the policy calculation), never a crash.

import { describe, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { ErrorCode } from '../../src/errors/codes.js';
import { Keys, keyKind } from '../../src/model/keys.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { BadValue } from '../../src/model/values/read.js';
import { parseEndpointSlice, parseService } from '../../src/model/values/service.js';
import { generateInitialState } from '../../src/testing/sim/index.js';
import { nested } from './hostile-values.js';

const SVC = Keys.service('shop', 'web');
const SLICE = Keys.endpointSlice('shop', 'web-abcde');

const convert = (obj: object): KV => {
  const [kv] = convertObject(obj as KubeObject);
  return kv!;
};

const service = convert({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
  spec: {
    type: 'LoadBalancer',
    clusterIPs: ['10.96.0.10', 'fd00::a'],
    externalIPs: ['192.0.2.1'],
    externalTrafficPolicy: 'Local',
    internalTrafficPolicy: 'Cluster',
    ports: [
      { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
      { port: 53, protocol: 'UDP', targetPort: 5353 },
    ],
  },
  status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } },
});

const slice = convert({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'web-abcde', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['10.0.0.2'], conditions: { ready: true }, nodeName: 'n1' },
    { addresses: ['10.0.0.3'], conditions: { ready: false } },
  ],
  ports: [
    { name: 'http', port: 8080 },
    { name: 'dns', protocol: 'UDP' },
  ],
});

/** A copy of `v` with `path` (keys and indices) set to `leaf`. */
function withAt(v: JsonValue, path: readonly (string | number)[], leaf: unknown): JsonValue {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path.at(-1)!] = leaf;
  return copy as JsonValue;
}

const badValue = (f: () => unknown): BadValue => {
  try {
    f();
  } catch (err) {
    return err as BadValue;
  }
  throw new Error('parsed');
};

describe('Service values', () => {
  it('parse what the converter stores, every field', () => {
    expect(service.key).toBe(SVC);
    expect(parseService(SVC, service.value)).toEqual({
      id: 'shop/web',
      type: 'LoadBalancer',
      clusterIPs: ['10.96.0.10', 'fd00::a'],
      externalIPs: ['192.0.2.1'],
      loadBalancerIPs: ['198.51.100.7'],
      ports: [
        { protocol: 'tcp', port: 80, name: 'http', nodePort: 30080, targetPort: 'http' },
        { protocol: 'udp', port: 53, targetPort: 5353 },
      ],
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Cluster',
      labels: { app: 'web' },
    });
  });

  it('read absent optional fields as Kubernetes does', () => {
    expect(parseService(SVC, { type: 'ClusterIP', ports: [{ port: 443 }] })).toEqual({
      id: 'shop/web',
      type: 'ClusterIP',
      clusterIPs: [],
      externalIPs: [],
      loadBalancerIPs: [],
      ports: [{ protocol: 'tcp', port: 443 }],
      externalTrafficPolicy: '',
      labels: {},
    });
  });

  it('print addresses canonically', () => {
    expect(
      parseService(SVC, { type: 'ClusterIP', clusterIPs: ['010.96.0.1', 'FD00:0::1'] }).clusterIPs,
    ).toEqual(['10.96.0.1', 'fd00::1']);
  });

  it.each([
    ['not an object', [], /not an object/],
    ['no type', { clusterIPs: [] }, /type: unknown/],
    ['an unknown type', { type: 'Headless' }, /type: unknown "Headless"/],
    ['a type of the wrong kind', { type: 1 }, /type: not a string/],
    [
      'a cluster IP that is no address',
      { type: 'ClusterIP', clusterIPs: ['10.96.0'] },
      /clusterIPs: not an IP/,
    ],
    [
      'cluster IPs that are no list',
      { type: 'ClusterIP', clusterIPs: '10.96.0.1' },
      /clusterIPs: not strings/,
    ],
    ['a load balancer IP of the wrong kind', { type: 'ClusterIP', loadBalancerIPs: [1] }, /loadBalancerIPs/],
    ['ports that are no list', { type: 'ClusterIP', ports: {} }, /ports: not a list/],
    ['a port without a number', { type: 'ClusterIP', ports: [{ name: 'x' }] }, /port required/],
    ['port 0', { type: 'ClusterIP', ports: [{ port: 0 }] }, /port: out of range/],
    ['a fractional port', { type: 'ClusterIP', ports: [{ port: 80.5 }] }, /port: out of range/],
    ['a node port above 65535', { type: 'NodePort', ports: [{ port: 80, nodePort: 70000 }] }, /nodePort/],
    ['an unknown protocol', { type: 'ClusterIP', ports: [{ port: 80, protocol: 'ICMP' }] }, /protocol/],
    [
      'a target port of the wrong kind',
      { type: 'ClusterIP', ports: [{ port: 80, targetPort: [] }] },
      /targetPort/,
    ],
    [
      'an unknown traffic policy',
      { type: 'NodePort', externalTrafficPolicy: 'Nearest' },
      /externalTrafficPolicy/,
    ],
    ['labels that are not strings', { type: 'ClusterIP', labels: { a: 1 } }, /labels/],
  ])('refuse %s', (_what, value, reason) => {
    const err = badValue(() => parseService(SVC, value as JsonValue));
    expect(err).toBeInstanceOf(BadValue);
    expect(err.code).toBe(ErrorCode.BadValue);
    expect(err.message).toMatch(reason);
  });
});

describe('EndpointSlice values', () => {
  it('parse what the converter stores, every field', () => {
    expect(slice.key).toBe(SLICE);
    expect(parseEndpointSlice(SLICE, slice.value)).toEqual({
      service: 'shop/web',
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.0.0.2'], ready: true, nodeName: 'n1' },
        { addresses: ['10.0.0.3'], ready: false },
      ],
      ports: [
        { protocol: 'tcp', name: 'http', port: 8080 },
        { protocol: 'udp', name: 'dns' },
      ],
    });
  });

  it('belong to no service without the service-name label, and read an unset ready as ready', () => {
    expect(
      parseEndpointSlice(SLICE, { addressType: 'FQDN', endpoints: [{ addresses: ['db.example'] }] }),
    ).toEqual({
      service: undefined,
      addressType: 'FQDN',
      endpoints: [{ addresses: ['db.example'], ready: true }],
      ports: [],
    });
  });

  it.each([
    ['not an object', 'slice', /not an object/],
    ['no address type', { endpoints: [] }, /addressType: unknown/],
    ['an unknown address type', { addressType: 'IPv5' }, /addressType: unknown "IPv5"/],
    ['endpoints that are no list', { addressType: 'IPv4', endpoints: {} }, /endpoints: not a list/],
    ['an endpoint that is no object', { addressType: 'IPv4', endpoints: ['10.0.0.1'] }, /not an object/],
    [
      'an IPv6 address in an IPv4 slice',
      { addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }] },
      /IPv4/,
    ],
    [
      'an IPv4 address in an IPv6 slice',
      { addressType: 'IPv6', endpoints: [{ addresses: ['10.0.0.1'] }] },
      /IPv6/,
    ],
    [
      'an address that is no address',
      { addressType: 'IPv4', endpoints: [{ addresses: ['web'] }] },
      /not an IP/,
    ],
    ['a ready flag that is no boolean', { addressType: 'IPv4', endpoints: [{ ready: 'yes' }] }, /ready/],
    ['a node name of the wrong kind', { addressType: 'IPv4', endpoints: [{ nodeName: {} }] }, /nodeName/],
    ['a port above 65535', { addressType: 'IPv4', ports: [{ port: 65536 }] }, /port: out of range/],
    ['a port that is no number', { addressType: 'IPv4', ports: [{ port: '80' }] }, /port: not a number/],
    ['an unknown protocol', { addressType: 'IPv4', ports: [{ protocol: 'GRE' }] }, /protocol/],
    ['a service name of the wrong kind', { addressType: 'IPv4', serviceName: ['web'] }, /serviceName/],
  ])('refuse %s', (_what, value, reason) => {
    const err = badValue(() => parseEndpointSlice(SLICE, value as JsonValue));
    expect(err).toBeInstanceOf(BadValue);
    expect(err.message).toMatch(reason);
  });
});

describe('hostile Service and EndpointSlice values', () => {
  // Every place a value can hold something, filled with 10,000 levels of nesting: past where
  // a recursive walk overflows the stack. The parsers look one level in and refuse.
  const deep = nested(10_000);
  const places: [string, (key: string, raw: JsonValue) => unknown, JsonValue, (string | number)[]][] = [
    ['service', parseService, service.value, ['type']],
    ['service', parseService, service.value, ['clusterIPs']],
    ['service', parseService, service.value, ['clusterIPs', 0]],
    ['service', parseService, service.value, ['ports', 0]],
    ['service', parseService, service.value, ['ports', 0, 'port']],
    ['service', parseService, service.value, ['ports', 0, 'targetPort']],
    ['service', parseService, service.value, ['labels', 'app']],
    ['slice', parseEndpointSlice, slice.value, ['addressType']],
    ['slice', parseEndpointSlice, slice.value, ['endpoints']],
    ['slice', parseEndpointSlice, slice.value, ['endpoints', 0, 'addresses', 0]],
    ['slice', parseEndpointSlice, slice.value, ['endpoints', 0, 'ready']],
    ['slice', parseEndpointSlice, slice.value, ['ports', 0, 'protocol']],
    ['slice', parseEndpointSlice, slice.value, ['serviceName']],
  ];
  it.each(places)('a %s nested 10,000 deep at %#', (kind, parse, value, path) => {
    const key = kind === 'service' ? SVC : SLICE;
    expect(() => parse(key, value)).not.toThrow();
    expect(badValue(() => parse(key, withAt(value, path, deep)))).toBeInstanceOf(BadValue);
  });

  it('a whole value nested 10,000 deep', () => {
    expect(badValue(() => parseService(SVC, [deep] as JsonValue))).toBeInstanceOf(BadValue);
    expect(badValue(() => parseEndpointSlice(SLICE, [deep] as JsonValue))).toBeInstanceOf(BadValue);
  });

  it('a key with a bad escape', () => {
    const key = `${Keys.endpointSlice('shop', 'x').slice(0, -1)}%zz`;
    expect(keyKind(key)).toBe('endpointSlice');
    expect(badValue(() => parseEndpointSlice(key, slice.value)).message).toMatch(/key/);
  });
});

describe('every Service and EndpointSlice of the simulated cluster', () => {
  it('parses', () => {
    const kvs = generateInitialState({ nodes: 20, pods: 600 }).filter((kv) => {
      const k = keyKind(kv.key);
      return k === 'service' || k === 'endpointSlice';
    });
    expect(kvs).toHaveLength(12);
    for (const { key, value } of kvs)
      if (keyKind(key) === 'service') expect(parseService(key, value).clusterIPs).toHaveLength(1);
      else expect(parseEndpointSlice(key, value).service).toBeDefined();
  });
});

describe('the agent reading them', () => {
  const bad = { addressType: 'IPv4', endpoints: [{ addresses: ['not-an-ip'] }] };

  it('RoutingState reports a value that does not parse and drops the old one', () => {
    const state = new RoutingState();
    expect(state.apply([service, slice]).invalid).toEqual([]);
    expect(state.slicesByService.get('shop/web')).toHaveLength(1);
    const u = state.apply([
      { key: SVC, value: { ...(service.value as object), type: 'Weird' } },
      { key: SLICE, value: bad },
    ]);
    expect(u.invalid).toEqual([SVC, SLICE]);
    expect(state.services.has('shop/web')).toBe(false);
    expect(state.slicesByService.has('shop/web')).toBe(false);
  });

  it('RoutingState keeps a slice of no service out of every service, without a report', () => {
    const state = new RoutingState();
    state.apply([service, slice]);
    const { serviceName: _, ...nameless } = slice.value as Record<string, JsonValue>;
    const u = state.apply([{ key: SLICE, value: nameless }]);
    expect(u.invalid).toEqual([]);
    expect(state.endpointSlices.get(SLICE)?.service).toBeUndefined();
    expect(state.slicesByService.has('shop/web')).toBe(false);
  });

  it('the policy calculation reports a value that does not parse and drops the service’s members', () => {
    const calc = new PolicyCalculator('n1');
    expect(calc.apply([slice]).invalid).toEqual([]);
    expect(calc.serviceAddresses('shop/web')).toEqual(['10.0.0.2/32', '10.0.0.3/32']);
    expect(calc.servicePorts('shop/web')).toEqual([
      { net: '10.0.0.2/32', protocol: 'tcp', port: 8080 },
      { net: '10.0.0.3/32', protocol: 'tcp', port: 8080 },
    ]);
    const u = calc.apply([{ key: SLICE, value: bad }]);
    expect(u.invalid).toEqual([
      { key: SLICE, reason: expect.stringMatching(/addresses: not an IPv4 address/) },
    ]);
    expect(u.servicesChanged).toEqual(['shop/web']);
    expect(calc.serviceAddresses('shop/web')).toEqual([]);
  });
});
