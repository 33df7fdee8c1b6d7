// confd's BGP edge cases, each as its own small case (written for Tabby, checked against the
// semantics of confd's golden tests): implicitly confirmed affinities, an empty service CIDR
// entry, a /32 block, per-Service /32 advertisement.

import { describe, expect, it } from 'vitest';
import { type BgpModel, computeBgp } from '../../src/agent/calc/routing/bgp.js';
import type { RoutingState } from '../../src/agent/calc/routing/state.js';
import { renderBirdConfig } from '../../src/agent/dataplane/bird/render.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { affinity, bgpConfig, node, pool, stateOf } from './bgp-fixtures.js';

function model(state: RoutingState, name: string): BgpModel {
  const m = computeBgp(state, name);
  if (!m.available) throw new Error(m.message);
  return m;
}

const nodes = [node('n1', '10.0.0.1'), node('n2', '10.0.0.2')];

describe('block affinities', () => {
  it('state "" is confirmed (confd: older clusters have them): blackholed and aggregated', () => {
    const s = stateOf([
      ...nodes,
      pool('p', '192.168.0.0/16'),
      affinity('n1', '192.168.1.0/26', ''),
      affinity('n1', '192.168.2.0/26', 'confirmed'),
      affinity('n1', '192.168.3.0/26', 'pending'),
    ]);
    expect(model(s, 'n1').exports.blocks).toEqual(['192.168.1.0/26', '192.168.2.0/26']);
    const text = renderBirdConfig(model(s, 'n1'));
    expect(text).toContain('route 192.168.1.0/26 blackhole;');
    expect(text).toContain('if ( net = 192.168.1.0/26 ) then { accept; }');
    expect(text).not.toContain('192.168.3.0/26');
  });

  it('a /32 block is aggregated but never blackholed (confd bird_aggr.cfg), inside a pool or not', () => {
    const s = stateOf([
      ...nodes,
      pool('p', '192.168.0.0/16'),
      affinity('n1', '10.2.0.1/32'),
      affinity('n1', '192.168.9.9/32'),
      affinity('n1', '192.168.1.0/26'),
    ]);
    const text = renderBirdConfig(model(s, 'n1'));
    for (const c of ['10.2.0.1/32', '192.168.9.9/32']) {
      expect(text).toContain(`if ( net = ${c} ) then { accept; }`);
      expect(text).not.toContain(`route ${c} blackhole;`);
    }
    expect(text).toContain('route 192.168.1.0/26 blackhole;');
  });
});

describe('BGPConfiguration service CIDR lists', () => {
  const config = bgpConfig('default', {
    serviceClusterIPs: [{ cidr: '10.101.0.0/16' }, {}, { cidr: 'fd00:96::/112' }],
    serviceLoadBalancerIPs: [{ cidr: '80.15.0.0/24' }, { cidr: '' }],
  });

  it('an empty entry is ignored; the rest of the configuration applies', () => {
    expect(convertObject(config)).toHaveLength(1);
    const m = model(stateOf([...nodes, config]), 'n1');
    expect(m.exports.serviceRoutes).toEqual(['10.101.0.0/16', '80.15.0.0/24']);
  });

  it('a CIDR that does not parse still rejects the object', () => {
    expect(() =>
      convertObject(bgpConfig('default', { serviceClusterIPs: [{ cidr: '10.101.0.0/33' }] })),
    ).toThrow('spec.serviceClusterIPs[0].cidr: invalid CIDR "10.101.0.0/33"');
  });
});

describe('per-Service /32 routes (confd advertiseThisService)', () => {
  const svcObj = (name: string, spec: Record<string, unknown>, lbIps: string[] = []) =>
    ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'shop' },
      spec: { ports: [{ port: 80 }], ...spec },
      status: { loadBalancer: { ingress: lbIps.map((ip) => ({ ip })) } },
    }) as unknown as KubeObject;
  const slice = (service: string, eps: Array<{ node: string; ready?: boolean; ip: string }>) =>
    ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${service}-abc`,
        namespace: 'shop',
        labels: { 'kubernetes.io/service-name': service },
      },
      addressType: 'IPv4',
      endpoints: eps.map((e) => ({
        addresses: [e.ip],
        nodeName: e.node,
        ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
      })),
      ports: [{ port: 8080 }],
    }) as unknown as KubeObject;
  const config = bgpConfig('default', {
    serviceClusterIPs: [{ cidr: '10.101.0.0/16' }],
    serviceExternalIPs: [{ cidr: '203.0.113.0/24' }],
    serviceLoadBalancerIPs: [{ cidr: '80.15.0.0/24' }, { cidr: '80.16.0.7/32' }],
  });
  const objects = [
    ...nodes,
    config,
    // Local, ready endpoint on n1: cluster, allowed external and LB IPs from n1 only.
    svcObj(
      'web',
      {
        type: 'LoadBalancer',
        clusterIP: '10.101.0.101',
        externalTrafficPolicy: 'Local',
        externalIPs: ['203.0.113.5', '198.51.100.9'],
      },
      ['80.15.0.3', '192.0.2.1'],
    ),
    slice('web', [{ node: 'n1', ip: '10.244.1.5' }]),
    // Local, but its endpoint on n1 is not ready.
    svcObj('down', { clusterIP: '10.101.0.102', externalTrafficPolicy: 'Local' }),
    slice('down', [{ node: 'n1', ready: false, ip: '10.244.1.6' }]),
    // Cluster (defaulted for a LoadBalancer) with a single allowed LB IP: every node.
    svcObj('single', { type: 'LoadBalancer', clusterIP: '10.101.0.103' }, ['80.16.0.7']),
    // Cluster with aggregation on: covered by the ranges, no /32.
    svcObj('plain', { type: 'NodePort', clusterIP: '10.101.0.104', externalIPs: ['203.0.113.8'] }),
    slice('plain', [{ node: 'n1', ip: '10.244.1.7' }]),
  ];
  const routes = (o: KubeObject[], n: string) =>
    model(stateOf(o), n).exports.serviceRoutes.filter((c) => c.endsWith('/32'));

  it('n1 advertises the Local service with a ready endpoint there, and the single-IP LoadBalancer', () => {
    expect(routes(objects, 'n1')).toEqual([
      '10.101.0.101/32',
      '10.101.0.103/32',
      '203.0.113.5/32',
      '80.15.0.3/32',
      '80.16.0.7/32',
    ]);
    const text = renderBirdConfig(model(stateOf(objects), 'n1'));
    expect(text).toContain('route 10.101.0.101/32 blackhole;');
    expect(text).toContain('if ( net ~ 80.15.0.3/32 ) then { accept; }');
    // Advertised, never programmed into the kernel from BIRD's blackhole.
    expect(text).toMatch(
      /filter calico_kernel_programming[\s\S]*if \( net ~ 80\.15\.0\.3\/32 \) then \{ reject; \}/,
    );
  });

  it('n2 (no local endpoint) advertises only the single-IP LoadBalancer; an excluded node nothing', () => {
    expect(routes(objects, 'n2')).toEqual(['10.101.0.103/32', '80.16.0.7/32']);
    const excluded = [
      node('n1', '10.0.0.1', {
        labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' },
      }),
      ...objects.slice(1),
    ];
    expect(routes(excluded, 'n1')).toEqual([]);
  });

  it('without serviceClusterIPs the cluster IP is not advertised; aggregation off advertises Cluster services with endpoints', () => {
    const noCluster = bgpConfig('default', {
      serviceExternalIPs: [{ cidr: '203.0.113.0/24' }],
      serviceLoadBalancerIPs: [{ cidr: '80.15.0.0/24' }],
      serviceLoadBalancerAggregation: 'Disabled',
    });
    const o = objects.map((x) => (x === config ? noCluster : x));
    expect(routes(o, 'n2')).toEqual(['203.0.113.8/32']);
    expect(routes(o, 'n1')).toEqual(['203.0.113.5/32', '203.0.113.8/32', '80.15.0.3/32']);
  });
});
