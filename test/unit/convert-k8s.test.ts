// Kubernetes objects through the converters: Pods (which count, IPs, labels, ports),
// Namespaces and ServiceAccounts (profiles), NetworkPolicies (Calico's K8sNetworkPolicyToCalico
// in detail), Nodes (Calico's annotations) and Services/EndpointSlices.

import { describe, expect, it } from 'vitest';
import { ConversionError, convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { Keys } from '../../src/model/keys.js';
import type { JsonValue } from '../../src/model/types.js';

type Obj = Record<string, JsonValue>;

const pod = (over: { metadata?: object; spec?: object; status?: object } = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-0', namespace: 'production', labels: { app: 'web' }, ...over.metadata },
  spec: {
    nodeName: 'node-1',
    serviceAccountName: 'web',
    containers: [
      {
        name: 'web',
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
          { containerPort: 9000, protocol: 'TCP' },
          { name: 'sctp', containerPort: 3868, protocol: 'SCTP' },
        ],
      },
    ],
    initContainers: [{ name: 'init', ports: [{ name: 'init-admin', containerPort: 9901 }] }],
    ...over.spec,
  },
  status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }], ...over.status },
});

const value = (obj: KubeObject) => {
  const kvs = convertObject(obj);
  expect(kvs).toHaveLength(1);
  return kvs[0]!.value as Obj;
};

describe('Pod to workload endpoint', () => {
  it('produces Calico’s endpoint: interface name, profiles, labels, named ports', () => {
    expect(convertObject(pod())).toEqual([
      {
        key: Keys.workloadEndpoint('node-1', 'production', 'web-0'),
        value: {
          state: 'active',
          name: 'cali8090faf3b7d', // "cali" + sha1("production.web-0")[:11]
          profileIds: ['kns.production', 'ksa.production.web'],
          ipv4Nets: ['10.244.1.5/32'],
          ipv6Nets: [],
          labels: {
            app: 'web',
            'projectcalico.org/namespace': 'production',
            'projectcalico.org/orchestrator': 'k8s',
            'projectcalico.org/serviceaccount': 'web',
          },
          ports: [
            { name: 'http', protocol: 'tcp', port: 8080 },
            { name: 'dns', protocol: 'udp', port: 53 },
            { name: 'sctp', protocol: 'sctp', port: 3868 },
            { name: 'init-admin', protocol: 'tcp', port: 9901 },
          ],
        },
      },
    ]);
  });

  it('dual stack: IPv4 /32 and IPv6 /128 from status.podIPs', () => {
    const v = value(pod({ status: { podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00:10:244::5' }] } }));
    expect(v['ipv4Nets']).toEqual(['10.244.1.5/32']);
    expect(v['ipv6Nets']).toEqual(['fd00:10:244::5/128']);
  });

  it('falls back to the Calico CNI annotations when status has no IP yet', () => {
    const p = pod({
      metadata: { annotations: { 'cni.projectcalico.org/podIPs': '10.244.1.7/32,fd00::7/128' } },
      status: { podIP: undefined, podIPs: undefined },
    });
    expect(value(p)).toMatchObject({ ipv4Nets: ['10.244.1.7/32'], ipv6Nets: ['fd00::7/128'] });
    const single = pod({
      metadata: { annotations: { 'cni.projectcalico.org/podIP': '10.244.1.8/32' } },
      status: { podIP: undefined, podIPs: undefined },
    });
    expect(value(single)['ipv4Nets']).toEqual(['10.244.1.8/32']);
  });

  it('no key for host-network, unscheduled, IP-less and finished pods', () => {
    expect(convertObject(pod({ spec: { hostNetwork: true } }))).toEqual([]);
    expect(convertObject(pod({ spec: { nodeName: undefined } }))).toEqual([]);
    expect(convertObject(pod({ status: { podIP: undefined, podIPs: [] } }))).toEqual([]);
    expect(convertObject(pod({ status: { phase: 'Succeeded' } }))).toEqual([]);
    expect(convertObject(pod({ status: { phase: 'Failed' } }))).toEqual([]);
    // Terminating, and the CNI plugin has already released the IP.
    const released = pod({
      metadata: {
        deletionTimestamp: '2026-01-01T00:00:00Z',
        annotations: { 'cni.projectcalico.org/podIP': '' },
      },
    });
    expect(convertObject(released)).toEqual([]);
  });

  it('strips labels posing as namespace or service-account labels; no SA, no SA profile', () => {
    const v = value(
      pod({
        metadata: { labels: { app: 'web', 'pcns.team': 'x', 'pcsa.role': 'y' } },
        spec: { serviceAccountName: undefined },
      }),
    );
    expect(v['labels']).toEqual({
      app: 'web',
      'projectcalico.org/namespace': 'production',
      'projectcalico.org/orchestrator': 'k8s',
    });
    expect(v['profileIds']).toEqual(['kns.production']);
  });

  it('refuses a malformed IP', () => {
    expect(() => convertObject(pod({ status: { podIP: '10.244.1.300', podIPs: undefined } }))).toThrow(
      'Pod production/web-0: pod IP "10.244.1.300" is not an IP address',
    );
  });
});

describe('Namespace and ServiceAccount to profiles', () => {
  it('kns.<ns>: allow-all rules and pcns.-prefixed labels', () => {
    const ns: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'production', labels: { 'kubernetes.io/metadata.name': 'production', team: 'web' } },
    };
    expect(convertObject(ns)).toEqual([
      {
        key: Keys.profile('kns.production'),
        value: {
          labels: {
            'pcns.kubernetes.io/metadata.name': 'production',
            'pcns.team': 'web',
            'pcns.projectcalico.org/name': 'production',
          },
          inboundRules: [{ action: 'allow' }],
          outboundRules: [{ action: 'allow' }],
        },
      },
    ]);
  });

  it('ksa.<ns>.<sa>: pcsa.-prefixed labels, no rules', () => {
    const sa: KubeObject = {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'web', namespace: 'production', labels: { tier: 'front' } },
    };
    expect(convertObject(sa)).toEqual([
      {
        key: Keys.profile('ksa.production.web'),
        value: {
          labels: { 'pcsa.tier': 'front', 'pcsa.projectcalico.org/name': 'web' },
          inboundRules: [],
          outboundRules: [],
        },
      },
    ]);
  });
});

const knp = (spec: object, name = 'np'): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'prod' },
  spec,
});
const NS = "projectcalico.org/namespace == 'prod'";
const K8S = "projectcalico.org/orchestrator == 'k8s'";

describe('Kubernetes NetworkPolicy', () => {
  it('empty podSelector, no rules: default tier, order 1000, deny all ingress', () => {
    expect(convertObject(knp({ podSelector: {}, policyTypes: ['Ingress'] }))).toEqual([
      {
        key: Keys.policy('KubernetesNetworkPolicy', 'prod', 'np'),
        value: {
          namespace: 'prod',
          tier: 'default',
          order: 1000,
          selector: `(${K8S}) && ${NS}`,
          inboundRules: [],
          outboundRules: [],
          types: ['ingress'],
          applyOnForward: false,
        },
      },
    ]);
  });

  it('matchLabels sorted, then matchExpressions in all four forms', () => {
    const v = value(
      knp({
        podSelector: {
          matchLabels: { tier: 'web', app: 'shop' },
          matchExpressions: [
            { key: 'env', operator: 'In', values: ['prod', 'staging'] },
            { key: 'zone', operator: 'NotIn', values: ['c'] },
            { key: 'canary', operator: 'Exists' },
            { key: 'legacy', operator: 'DoesNotExist' },
          ],
        },
      }),
    );
    expect(v['selector']).toBe(
      `(${K8S} && app == 'shop' && tier == 'web' && env in { 'prod', 'staging' } && zone not in { 'c' } && has(canary) && ! has(legacy)) && ${NS}`,
    );
    // No policyTypes (pre-1.8 objects): ingress only.
    expect(v['types']).toEqual(['ingress']);
  });

  it('ipBlock with except becomes nets and notNets; egress only', () => {
    const v = value(
      knp({
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.3.4/32'] } }] }],
      }),
    );
    expect(v['types']).toEqual(['egress']);
    expect(v['inboundRules']).toEqual([]);
    expect(v['outboundRules']).toEqual([
      { action: 'allow', dstNets: ['10.0.0.0/8'], notDstNets: ['10.1.0.0/16', '10.2.3.4/32'] },
    ]);
  });

  it('one rule per (protocol, peer): protocols sorted, ports merged into ranges, endPort, named ports', () => {
    const v = value(
      knp({
        podSelector: { matchLabels: { app: 'db' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ podSelector: { matchLabels: { app: 'api' } } }, { namespaceSelector: {} }],
            ports: [
              { port: 5432 },
              { protocol: 'UDP', port: 53 },
              { port: 5433 },
              { port: 'metrics' },
              { port: 6000, endPort: 6010 },
            ],
          },
        ],
      }),
    );
    const apiSel = `${K8S} && app == 'api'`;
    expect(v['inboundRules']).toEqual([
      {
        action: 'allow',
        protocol: 'tcp',
        srcSelector: `(${NS}) && (${apiSel})`,
        originalSrcSelector: apiSel,
        dstPorts: ['metrics', '5432:5433', '6000:6010'],
      },
      {
        // namespaceSelector {} is every namespace: all() -> has(projectcalico.org/namespace).
        action: 'allow',
        protocol: 'tcp',
        srcSelector: `(has(projectcalico.org/namespace)) && (${K8S})`,
        originalSrcSelector: K8S,
        originalSrcNamespaceSelector: 'all()',
        dstPorts: ['metrics', '5432:5433', '6000:6010'],
      },
      {
        action: 'allow',
        protocol: 'udp',
        srcSelector: `(${NS}) && (${apiSel})`,
        originalSrcSelector: apiSel,
        dstPorts: [53],
      },
      {
        action: 'allow',
        protocol: 'udp',
        srcSelector: `(has(projectcalico.org/namespace)) && (${K8S})`,
        originalSrcSelector: K8S,
        originalSrcNamespaceSelector: 'all()',
        dstPorts: [53],
      },
    ]);
  });

  it('a port entry without a port allows the whole protocol; no peers means anyone', () => {
    const v = value(
      knp({
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP' }] }],
        egress: [{}],
      }),
    );
    expect(v['inboundRules']).toEqual([{ action: 'allow', protocol: 'tcp' }]);
    expect(v['outboundRules']).toEqual([{ action: 'allow' }]);
    expect(v['types']).toEqual(['ingress', 'egress']);
  });

  it('namespaceSelector with labels and podSelector together', () => {
    const v = value(
      knp({
        podSelector: {},
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { team: 'ops' } },
                podSelector: { matchExpressions: [{ key: 'role', operator: 'Exists' }] },
              },
            ],
          },
        ],
      }),
    );
    expect((v['inboundRules'] as Obj[])[0]).toEqual({
      action: 'allow',
      srcSelector: `(pcns.team == "ops") && (${K8S} && has(role))`,
      originalSrcSelector: `${K8S} && has(role)`,
      originalSrcNamespaceSelector: "team == 'ops'",
    });
  });

  it('refuses bad CIDRs, operators, protocols and ports, naming the place', () => {
    const bad = (spec: object) => () => convertObject(knp(spec));
    expect(bad({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] })).toThrow(
      'NetworkPolicy prod/np: spec.ingress[0]: from[0]: ipBlock.cidr: invalid CIDR "10.0.0.0/33"',
    );
    expect(bad({ podSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] } })).toThrow(
      /spec.podSelector: matchExpressions\[0\].operator: expected In, NotIn, Exists or DoesNotExist/,
    );
    expect(bad({ podSelector: {}, ingress: [{ ports: [{ protocol: 'ICMP', port: 1 }] }] })).toThrow(
      /ports\[0\].protocol: expected TCP, UDP or SCTP/,
    );
    expect(bad({ podSelector: {}, egress: [{ ports: [{ port: 70000 }] }] })).toThrow(/invalid port 70000/);
    expect(bad({ podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] })).toThrow(
      ConversionError,
    );
  });
});

const node = (annotations: Record<string, string>, extra: object = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'node-1', labels: { rack: 'rack1' }, annotations },
  spec: {},
  status: {
    addresses: [
      { type: 'InternalIP', address: '10.0.1.11' },
      { type: 'Hostname', address: 'node-1' },
    ],
  },
  ...extra,
});

describe('Node', () => {
  it('BGP data from the projectcalico.org annotations, addresses, pod CIDRs', () => {
    const kvs = convertObject(
      node(
        {
          'projectcalico.org/IPv4Address': '10.0.1.11/24',
          'projectcalico.org/ASNumber': '64513',
          'projectcalico.org/RouteReflectorClusterID': '224.0.0.1',
        },
        { spec: { podCIDRs: ['10.244.5.0/24'] } },
      ),
    );
    expect(kvs).toEqual([
      {
        key: Keys.node('node-1'),
        value: {
          kind: 'Node',
          apiVersion: 'projectcalico.org/v3',
          metadata: { name: 'node-1', labels: { rack: 'rack1' } },
          spec: {
            bgp: { ipv4Address: '10.0.1.11/24', asNumber: 64513, routeReflectorClusterID: '224.0.0.1' },
            addresses: [
              { address: '10.0.1.11/24', type: 'CalicoNodeIP' },
              { address: '10.0.1.11', type: 'InternalIP' },
            ],
            orchRefs: [{ nodeName: 'node-1', orchestrator: 'k8s' }],
          },
          status: { podCIDRs: ['10.244.5.0/24'] },
        },
      },
    ]);
  });

  it('WireGuard key and tunnel addresses give the wireguard and per-host config keys', () => {
    const key = 'kVzXXRWUCY5a9MxJ3wABnAkJ0k2PJ6QmMC3cCnHnz3g=';
    const kvs = convertObject(
      node({
        'projectcalico.org/IPv4Address': '10.0.1.11/24',
        'projectcalico.org/WireguardPublicKey': key,
        'projectcalico.org/IPv4WireguardInterfaceAddr': '10.244.5.1',
        'projectcalico.org/IPv4VXLANTunnelAddr': '10.244.5.0',
        'projectcalico.org/VXLANTunnelMACAddr': '66:2F:4C:11:22:33',
        'projectcalico.org/IPv4IPIPTunnelAddr': '10.244.5.2',
      }),
    );
    const byKey = new Map(kvs.map((kv) => [kv.key, kv.value]));
    expect(byKey.get(Keys.wireguard('node-1'))).toEqual({
      interfaceIPv4Address: '10.244.5.1',
      publicKey: key,
    });
    expect(byKey.get(Keys.hostConfig('node-1', 'IPv4VXLANTunnelAddr'))).toBe('10.244.5.0');
    expect(byKey.get(Keys.hostConfig('node-1', 'VXLANTunnelMACAddr'))).toBe('66:2f:4c:11:22:33');
    expect(byKey.get(Keys.hostConfig('node-1', 'IpInIpTunnelAddr'))).toBe('10.244.5.2');
    const v = byKey.get(Keys.node('node-1')) as Obj;
    expect(v['status']).toEqual({ wireguardPublicKey: key });
    expect((v['spec'] as Obj)['wireguard']).toEqual({ interfaceIPv4Address: '10.244.5.1' });
    expect(kvs).toHaveLength(5);
  });

  it('AS numbers in asdot form', () => {
    const v = value(node({ 'projectcalico.org/ASNumber': '1.10' }));
    expect((v['spec'] as Obj)['bgp']).toEqual({ asNumber: 65546 });
  });

  it('refuses a bad ASN or IP, naming the annotation', () => {
    expect(() => convertObject(node({ 'projectcalico.org/ASNumber': '4294967296' }))).toThrow(
      'Node node-1: metadata.annotations[projectcalico.org/ASNumber]: invalid AS number "4294967296"',
    );
    expect(() => convertObject(node({ 'projectcalico.org/IPv4Address': '10.0.1/24' }))).toThrow(
      'Node node-1: metadata.annotations[projectcalico.org/IPv4Address]: invalid IPv4 CIDR "10.0.1/24"',
    );
    expect(() => convertObject(node({ 'projectcalico.org/WireguardPublicKey': 'not-a-key' }))).toThrow(
      /invalid WireGuard public key/,
    );
  });
});

describe('Service and EndpointSlice', () => {
  it('a LoadBalancer service keeps what advertisement and the proxy need', () => {
    const svc: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'prod' },
      spec: {
        type: 'LoadBalancer',
        clusterIP: '10.96.5.5',
        clusterIPs: ['10.96.5.5', 'fd00:96::5'],
        externalIPs: ['192.168.100.7'],
        externalTrafficPolicy: 'Local',
        ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }],
      },
      status: { loadBalancer: { ingress: [{ ip: '192.168.200.7' }, { hostname: 'lb.example' }] } },
    };
    expect(convertObject(svc)).toEqual([
      {
        key: Keys.service('prod', 'web'),
        value: {
          type: 'LoadBalancer',
          clusterIPs: ['10.96.5.5', 'fd00:96::5'],
          externalIPs: ['192.168.100.7'],
          loadBalancerIPs: ['192.168.200.7'],
          ports: [{ protocol: 'TCP', port: 80, name: 'http', nodePort: 30080, targetPort: 'http' }],
          externalTrafficPolicy: 'Local',
        },
      },
    ]);
    const headless = {
      ...svc,
      spec: { clusterIP: 'None', ports: [{ port: 53, protocol: 'UDP' }] },
      status: {},
    };
    expect(value(headless)).toMatchObject({ type: 'ClusterIP', clusterIPs: [] });
    expect(() => convertObject({ ...svc, spec: { externalIPs: ['300.1.1.1'] } })).toThrow(
      /invalid IP address/,
    );
  });

  it('an EndpointSlice: addresses, readiness (unset = ready), node, ports, owning service', () => {
    const slice: KubeObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-abcde', namespace: 'prod', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.244.1.5'], conditions: { ready: true }, nodeName: 'node-1' },
        { addresses: ['10.244.2.9'], conditions: { ready: false }, nodeName: 'node-2' },
        { addresses: ['10.244.3.1'] },
      ],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
    expect(convertObject(slice)).toEqual([
      {
        key: Keys.endpointSlice('prod', 'web-abcde'),
        value: {
          addressType: 'IPv4',
          endpoints: [
            { addresses: ['10.244.1.5'], ready: true, nodeName: 'node-1' },
            { addresses: ['10.244.2.9'], ready: false, nodeName: 'node-2' },
            { addresses: ['10.244.3.1'], ready: true },
          ],
          ports: [{ protocol: 'TCP', name: 'http', port: 8080 }],
          serviceName: 'web',
        },
      },
    ]);
    expect(() => convertObject({ ...slice, endpoints: [{ addresses: ['fd00::1'] }] })).toThrow(
      'EndpointSlice prod/web-abcde: endpoints[0].addresses[0]: not an IPv4 address',
    );
  });
});
