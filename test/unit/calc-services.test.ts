// Policy rules with `services` (Felix's service IP sets, felix/serviceindex): a destination
// service matches (address, protocol, port) of its EndpointSlices, a source service its
// addresses. Built through the real converters (Service, EndpointSlice, NetworkPolicy), and
// checked the same way in explain(), the compiled maps, iptables and nftables.

import { describe, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { render as renderIptables } from '../../src/agent/dataplane/iptables/render.js';
import { evaluateMaps, explain, type Flow, mapsOf } from '../../src/agent/dataplane/maps/index.js';
import { render as renderNft } from '../../src/agent/dataplane/nftables/index.js';
import { snapshotOf } from '../../src/agent/dataplane/rules/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import type { KV } from '../../src/model/types.js';
import { expectExplanations } from '../harness/explain-golden.js';

const kvs = (...objs: object[]): KV[] => objs.flatMap((o) => convertObject(o as KubeObject));

const pod = (name: string, ip: string, app: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app } },
  spec: { nodeName: 'n1', containers: [{ name: 'c' }] },
  status: { podIP: ip },
});

const slice = (name: string, addresses: string[], ports: object[]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  ports,
});

/** client may only egress to the web service; db accepts only from the web service's pods. */
const policies = [
  {
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: 'client-to-web', namespace: 'shop' },
    spec: {
      selector: "app == 'client'",
      types: ['Egress'],
      egress: [{ action: 'Allow', destination: { services: { name: 'web' } } }],
    },
  },
  {
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: 'db-from-web', namespace: 'shop' },
    spec: {
      selector: "app == 'db'",
      types: ['Ingress'],
      ingress: [
        { action: 'Allow', protocol: 'TCP', source: { services: { name: 'web', namespace: 'shop' } } },
      ],
    },
  },
];

function cluster(): PolicyCalculator {
  const calc = new PolicyCalculator('n1');
  calc.apply(
    kvs(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
      pod('client', '10.0.0.1', 'client'),
      pod('web-a', '10.0.0.2', 'web'),
      pod('web-b', '10.0.0.3', 'web'),
      pod('db', '10.0.0.4', 'db'),
      ...policies,
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] },
      },
      slice(
        'web-1',
        ['10.0.0.2'],
        [
          { port: 8080, protocol: 'TCP' },
          { port: 53, protocol: 'UDP' },
        ],
      ),
    ),
  );
  return calc;
}

const flow = (f: Partial<Flow>): Flow => ({
  srcIp: '10.0.0.1',
  dstIp: '10.0.0.2',
  protocol: 'tcp',
  dstPort: 8080,
  ...f,
});
const egress = (calc: PolicyCalculator, f: Partial<Flow>) => explain(calc, flow(f)).egress.decidedBy.kind;
const ingressToDb = (calc: PolicyCalculator, srcIp: string) =>
  explain(calc, flow({ srcIp, dstIp: '10.0.0.4', dstPort: 5432 })).ingress.decidedBy.kind;

describe('service matches', () => {
  it('a destination service matches its endpoints with the slice ports and protocols only', () => {
    const calc = cluster();
    expect(egress(calc, {})).toBe('rule');
    expect(egress(calc, { protocol: 'udp', dstPort: 53 })).toBe('rule');
    // Not a slice port, the wrong protocol for it, the cluster IP (rules see DNAT'd traffic),
    // and a pod of the service's app that no slice lists yet.
    expect(egress(calc, { dstPort: 80 })).toBe('tier-end');
    expect(egress(calc, { protocol: 'udp', dstPort: 8080 })).toBe('tier-end');
    expect(egress(calc, { dstIp: '10.96.0.10', dstPort: 80 })).toBe('tier-end');
    expect(egress(calc, { dstIp: '10.0.0.3' })).toBe('tier-end');
  });

  it('a source service matches its endpoint addresses', () => {
    const calc = cluster();
    expect(ingressToDb(calc, '10.0.0.2')).toBe('rule');
    expect(ingressToDb(calc, '10.0.0.3')).toBe('tier-end');
  });

  it('follows EndpointSlice changes: a new slice adds members, a deleted one removes them', () => {
    const calc = cluster();
    const added = calc.apply(kvs(slice('web-2', ['10.0.0.3'], [{ port: 8080, protocol: 'TCP' }])));
    expect(added.servicesChanged).toEqual(['shop/web']);
    expect(egress(calc, { dstIp: '10.0.0.3' })).toBe('rule');
    expect(ingressToDb(calc, '10.0.0.3')).toBe('rule');
    const removed = calc.apply(kvs(slice('web-1', [], [])));
    expect(removed.servicesChanged).toEqual(['shop/web']);
    expect(egress(calc, {})).toBe('tier-end');
    expect(egress(calc, { dstIp: '10.0.0.3' })).toBe('rule');
    // Unrelated keys change no service.
    expect(calc.apply(kvs(pod('other', '10.0.0.9', 'x'))).servicesChanged).toEqual([]);
  });

  it('iptables: a hash:ip,port set matched dst,dst and a hash:net set matched src', () => {
    const out = renderIptables(snapshotOf(cluster()));
    const specs = [...out.ipSets.entries()];
    const ipPort = specs.find(([, s]) => s.type === 'hash:ip,port');
    expect(ipPort?.[1].members).toEqual(['10.0.0.2,tcp:8080', '10.0.0.2,udp:53']);
    const srcSet = specs.find(([, s]) => s.id === 'svcnoport:shop/web');
    expect(srcSet?.[1]).toMatchObject({ type: 'hash:net', members: ['10.0.0.2/32'] });
    const rules = [...out.chains.values()].flat();
    expect(rules.some((r) => r.includes(`--match-set ${ipPort![0]} dst,dst`))).toBe(true);
    expect(rules.some((r) => r.includes(`--match-set ${srcSet![0]} src`))).toBe(true);
    expect(out.warnings.filter((w) => /service/.test(w))).toEqual([]);
  });

  it('nftables: an addr . proto . port set and an address set', () => {
    const out = renderNft(snapshotOf(cluster()));
    const sets = [...out.sets.values()];
    expect(sets.find((s) => s.id === 'svc:shop/web')).toMatchObject({
      type: 'ipv4_addr . inet_proto . inet_service',
      members: ['10.0.0.2 . tcp . 8080', '10.0.0.2 . udp . 53'],
    });
    expect(sets.find((s) => s.id === 'svcnoport:shop/web')?.members).toEqual(['10.0.0.2/32']);
  });

  it('the compiled maps decide every flow as the plan-walking reference did (golden)', () => {
    const maps = mapsOf(cluster());
    const flows = (
      [
        {},
        { protocol: 'udp', dstPort: 53 },
        { dstPort: 80 },
        { protocol: 'udp', dstPort: 8080 },
        { dstIp: '10.0.0.3' },
        { srcIp: '10.0.0.2', dstIp: '10.0.0.4', dstPort: 5432 },
        { srcIp: '10.0.0.3', dstIp: '10.0.0.4', dstPort: 5432 },
      ] as Partial<Flow>[]
    ).map(flow);
    expectExplanations(
      'services',
      flows.map((f) => [f, evaluateMaps(maps, f)] as const),
    );
  });
});
