// The seed documents (test/fixtures/seeds, rebuilt from the seed texts as written) through
// the converters, field by field: what Calico's Kubernetes datastore and syncer would hand
// Felix and confd for each, and which of them Calico's validation refuses, and why.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConversionError, convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { Keys } from '../../src/model/keys.js';

/** Every document of a fixture; duplicate keys keep the last value, as kubectl's decoder does. */
function load(file: string): KubeObject[] {
  const text = readFileSync(new URL(`../fixtures/seeds/${file}`, import.meta.url), 'utf8');
  return parseAllDocuments(text, { uniqueKeys: false }).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as KubeObject;
  });
}

function find(file: string, kind: string, name: string): KubeObject {
  const found = load(file).filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found.length, `${kind} ${name} in ${file}`).toBeGreaterThan(0);
  return found[found.length - 1]!;
}

const convert = (file: string, kind: string, name: string) => convertObject(find(file, kind, name));
const only = (file: string, kind: string, name: string) => {
  const kvs = convert(file, kind, name);
  expect(kvs).toHaveLength(1);
  return kvs[0]!;
};
const rejection = (file: string, kind: string, name: string): ConversionError => {
  try {
    convert(file, kind, name);
  } catch (err) {
    expect(err).toBeInstanceOf(ConversionError);
    return err as ConversionError;
  }
  throw new Error(`${kind} ${name} was accepted`);
};

describe('seed 000: the quick reference', () => {
  it('NetworkPolicy allow-frontend-to-api: default tier, no order, namespaced selectors', () => {
    expect(only('quick-reference.yaml', 'NetworkPolicy', 'allow-frontend-to-api')).toEqual({
      key: Keys.policy('NetworkPolicy', 'app', 'allow-frontend-to-api'),
      value: {
        namespace: 'app',
        tier: 'default',
        selector: `(app == "web-api") && projectcalico.org/namespace == 'app'`,
        inboundRules: [
          {
            action: 'allow',
            protocol: 'tcp',
            srcSelector: `(projectcalico.org/namespace == 'app') && (app == "frontend")`,
            originalSrcSelector: 'app == "frontend"',
            dstPorts: [8080],
          },
        ],
        outboundRules: [],
        types: ['ingress'],
        applyOnForward: false,
      },
    });
  });

  it('IPPool default-ipv4-ippool: VXLAN always, defaults filled in', () => {
    expect(only('quick-reference.yaml', 'IPPool', 'default-ipv4-ippool')).toEqual({
      key: '/calico/v1/ipam/v4/pool/192.168.0.0-16',
      value: {
        name: 'default-ipv4-ippool',
        cidr: '192.168.0.0/16',
        blockSize: 26,
        ipipMode: 'Never',
        vxlanMode: 'Always',
        natOutgoing: true,
        disabled: false,
        disableBGPExport: false,
        nodeSelector: 'all()',
        allowedUses: ['Workload', 'Tunnel'],
        assignmentMode: 'Automatic',
      },
    });
  });
});

describe('seed 001: BGP', () => {
  const v3 = (kind: string, name: string, spec: unknown, labels?: Record<string, string>) => ({
    kind,
    apiVersion: 'projectcalico.org/v3',
    metadata: labels ? { name, labels } : { name },
    spec,
  });

  it('both BGPConfiguration defaults pass through as v3 resources', () => {
    const [first, full] = load('bgp.yaml').filter((o) => o.kind === 'BGPConfiguration');
    expect(convertObject(first!)).toEqual([
      {
        key: '/calico/resources/v3/projectcalico.org/bgpconfigurations/default',
        value: v3('BGPConfiguration', 'default', { nodeToNodeMeshEnabled: false, asNumber: 64512 }),
      },
    ]);
    expect(convertObject(full!)).toEqual([
      {
        key: Keys.bgpConfiguration('default'),
        value: v3('BGPConfiguration', 'default', {
          nodeToNodeMeshEnabled: false,
          asNumber: 64512,
          serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
          serviceExternalIPs: [{ cidr: '192.168.100.0/24' }],
          serviceLoadBalancerIPs: [{ cidr: '192.168.200.0/24' }],
          communities: [{ name: 'cluster-pods', value: '64512:100' }],
          prefixAdvertisements: [{ cidr: '10.244.0.0/16', communities: ['cluster-pods'] }],
        }),
      },
    ]);
  });

  it('the three BGPPeers', () => {
    expect(only('bgp.yaml', 'BGPPeer', 'peer-to-rr')).toEqual({
      key: Keys.bgpPeer('peer-to-rr'),
      value: v3('BGPPeer', 'peer-to-rr', {
        nodeSelector: '!has(calico-route-reflector)',
        peerSelector: 'has(calico-route-reflector)',
      }),
    });
    expect(only('bgp.yaml', 'BGPPeer', 'rr-to-rr-mesh').value).toEqual(
      v3('BGPPeer', 'rr-to-rr-mesh', {
        nodeSelector: 'has(calico-route-reflector)',
        peerSelector: 'has(calico-route-reflector)',
      }),
    );
    expect(only('bgp.yaml', 'BGPPeer', 'rack1-tor').value).toEqual(
      v3('BGPPeer', 'rack1-tor', { nodeSelector: 'rack == "rack1"', peerIP: '10.0.1.1', asNumber: 64512 }),
    );
  });

  it('the route reflector Node and the ASN override Node (calicoctl v3 form)', () => {
    const orchRefs = (name: string) => [{ nodeName: name, orchestrator: 'k8s' }];
    expect(only('bgp.yaml', 'Node', 'worker-01')).toEqual({
      key: Keys.node('worker-01'),
      value: v3(
        'Node',
        'worker-01',
        { bgp: { routeReflectorClusterID: '224.0.0.1' }, orchRefs: orchRefs('worker-01') },
        { 'calico-route-reflector': 'true' },
      ),
    });
    expect(only('bgp.yaml', 'Node', 'worker-rack2-01')).toEqual({
      key: Keys.node('worker-rack2-01'),
      value: v3('Node', 'worker-rack2-01', {
        bgp: { ipv4Address: '10.0.2.10/24', asNumber: 64513 },
        addresses: [{ address: '10.0.2.10/24', type: 'CalicoNodeIP' }],
        orchRefs: orchRefs('worker-rack2-01'),
      }),
    });
  });
});

describe('seed 001: IPAM', () => {
  it('default-pool and finance-pool', () => {
    const pool = {
      ipipMode: 'Never',
      vxlanMode: 'Never',
      natOutgoing: true,
      disabled: false,
      disableBGPExport: false,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    };
    expect(only('ipam.yaml', 'IPPool', 'default-pool')).toEqual({
      key: Keys.ipPool('10.244.0.0/16'),
      value: { name: 'default-pool', cidr: '10.244.0.0/16', blockSize: 26, ...pool },
    });
    expect(only('ipam.yaml', 'IPPool', 'finance-pool')).toEqual({
      key: Keys.ipPool('10.245.0.0/24'),
      value: { name: 'finance-pool', cidr: '10.245.0.0/24', blockSize: 28, ...pool },
    });
  });

  it('the finance Namespace becomes its profile (the pool annotation is the CNI plugin’s business)', () => {
    expect(only('ipam.yaml', 'Namespace', 'finance')).toEqual({
      key: Keys.profile('kns.finance'),
      value: {
        // The API server labels every namespace with its name (applied to files too).
        labels: {
          'pcns.kubernetes.io/metadata.name': 'finance',
          'pcns.projectcalico.org/name': 'finance',
        },
        inboundRules: [{ action: 'allow' }],
        outboundRules: [{ action: 'allow' }],
      },
    });
  });

  it('IPReservation reserved-ips', () => {
    expect(only('ipam.yaml', 'IPReservation', 'reserved-ips')).toEqual({
      key: Keys.ipReservation('reserved-ips'),
      value: {
        kind: 'IPReservation',
        apiVersion: 'projectcalico.org/v3',
        metadata: { name: 'reserved-ips' },
        spec: { reservedCIDRs: ['10.244.0.1/32', '10.244.0.2/32', '10.244.100.0/24'] },
      },
    });
  });
});

describe('seed 001: policy examples', () => {
  it('the Kubernetes NetworkPolicy: tier default, order 1000, orchestrator term, TCP 8080', () => {
    const knp = load('policy.yaml').find((o) => o.apiVersion === 'networking.k8s.io/v1')!;
    expect(convertObject(knp)).toEqual([
      {
        key: Keys.policy('KubernetesNetworkPolicy', 'production', 'allow-frontend-to-api'),
        value: {
          namespace: 'production',
          tier: 'default',
          order: 1000,
          selector: `(projectcalico.org/orchestrator == 'k8s' && app == 'api') && projectcalico.org/namespace == 'production'`,
          inboundRules: [
            {
              action: 'allow',
              protocol: 'tcp',
              srcSelector: `(projectcalico.org/namespace == 'production') && (projectcalico.org/orchestrator == 'k8s' && app == 'frontend')`,
              originalSrcSelector: `projectcalico.org/orchestrator == 'k8s' && app == 'frontend'`,
              dstPorts: [8080],
            },
          ],
          outboundRules: [],
          types: ['ingress'],
          applyOnForward: false,
        },
      },
    ]);
  });

  it('the Calico allow-frontend-to-api is refused: numeric ports without a protocol', () => {
    const calico = load('policy.yaml').find(
      (o) => o.apiVersion === 'projectcalico.org/v3' && o.kind === 'NetworkPolicy',
    )!;
    expect(() => convertObject(calico)).toThrow(
      'NetworkPolicy production/allow-frontend-to-api: rule ingress[0] destination.ports: protocol must be TCP, UDP or SCTP when numeric ports are used',
    );
  });

  it('deny-external-egress: DNS, the cluster CIDRs, then deny', () => {
    expect(only('policy.yaml', 'GlobalNetworkPolicy', 'deny-external-egress')).toEqual({
      key: Keys.policy('GlobalNetworkPolicy', '', 'deny-external-egress'),
      value: {
        tier: 'default',
        selector: 'all()',
        inboundRules: [],
        outboundRules: [
          { action: 'allow', protocol: 'udp', dstPorts: [53] },
          { action: 'allow', dstNets: ['10.244.0.0/16', '10.96.0.0/12'] },
          { action: 'deny' },
        ],
        types: ['egress'],
        applyOnForward: false,
      },
    });
  });

  it('HostEndpoint worker-01-eth0', () => {
    expect(only('policy.yaml', 'HostEndpoint', 'worker-01-eth0')).toEqual({
      key: Keys.hostEndpoint('worker-01', 'worker-01-eth0'),
      value: {
        name: 'eth0',
        expectedIPv4Addrs: ['10.0.1.10'],
        expectedIPv6Addrs: [],
        labels: { role: 'worker', rack: 'rack1' },
        profileIds: [],
        ports: [],
      },
    });
  });

  it('restrict-host-ssh: a preDNAT, applyOnForward host policy', () => {
    expect(only('policy.yaml', 'GlobalNetworkPolicy', 'restrict-host-ssh')).toEqual({
      key: Keys.policy('GlobalNetworkPolicy', '', 'restrict-host-ssh'),
      value: {
        tier: 'default',
        selector: 'role == "worker"',
        inboundRules: [
          { action: 'allow', protocol: 'tcp', srcNets: ['10.0.0.5/32'], dstPorts: [22] },
          { action: 'allow', srcNets: ['10.244.0.0/16'] },
          { action: 'allow', protocol: 'tcp', dstPorts: [6443, 10250] },
          { action: 'deny' },
        ],
        outboundRules: [],
        types: ['ingress'],
        applyOnForward: true,
        preDNAT: true,
      },
    });
  });

  it('Tier security and security.block-metadata-service in it', () => {
    expect(only('policy.yaml', 'Tier', 'security')).toEqual({
      key: Keys.tier('security'),
      value: { order: 100, defaultAction: 'Deny' },
    });
    expect(only('policy.yaml', 'GlobalNetworkPolicy', 'security.block-metadata-service')).toEqual({
      key: Keys.policy('GlobalNetworkPolicy', '', 'security.block-metadata-service'),
      value: {
        tier: 'security',
        order: 10,
        selector: 'all()',
        inboundRules: [],
        outboundRules: [{ action: 'deny', dstNets: ['169.254.169.254/32'] }, { action: 'next-tier' }],
        types: ['egress'],
        applyOnForward: false,
      },
    });
  });

  it('allow-get-only: the HTTP match is carried for the application layer', () => {
    expect(only('policy.yaml', 'NetworkPolicy', 'allow-get-only')).toEqual({
      key: Keys.policy('NetworkPolicy', 'production', 'allow-get-only'),
      value: {
        namespace: 'production',
        tier: 'default',
        selector: `(app == "api") && projectcalico.org/namespace == 'production'`,
        inboundRules: [
          {
            action: 'allow',
            srcSelector: `(projectcalico.org/namespace == 'production') && (app == "frontend")`,
            originalSrcSelector: 'app == "frontend"',
            httpMatch: {
              methods: ['GET'],
              paths: [{ exact: '/api/v1/products' }, { prefix: '/api/v1/health' }],
            },
          },
          {
            action: 'deny',
            srcSelector: `(projectcalico.org/namespace == 'production') && (app == "frontend")`,
            originalSrcSelector: 'app == "frontend"',
          },
        ],
        outboundRules: [],
        types: ['ingress'],
        applyOnForward: false,
      },
    });
  });

  it('allow-github-egress is refused: domains are Calico Enterprise only', () => {
    expect(rejection('policy.yaml', 'GlobalNetworkPolicy', 'allow-github-egress').message).toBe(
      'GlobalNetworkPolicy allow-github-egress: rule egress[1] destination.domains: unknown field',
    );
  });
});

describe('seed 001: the lab', () => {
  it('its tiers', () => {
    expect(convert('lab.yaml', 'Tier', 'platform')).toEqual([
      { key: Keys.tier('platform'), value: { order: 200, defaultAction: 'Deny' } },
    ]);
    expect(convert('lab.yaml', 'Tier', 'application')).toEqual([
      { key: Keys.tier('application'), value: { order: 300, defaultAction: 'Deny' } },
    ]);
  });

  it('security.block-metadata and platform.allow-dns', () => {
    expect(only('lab.yaml', 'GlobalNetworkPolicy', 'security.block-metadata').value).toEqual({
      tier: 'security',
      order: 10,
      selector: 'all()',
      inboundRules: [],
      outboundRules: [{ action: 'deny', dstNets: ['169.254.169.254/32'] }, { action: 'next-tier' }],
      types: ['egress'],
      applyOnForward: false,
    });
    expect(only('lab.yaml', 'GlobalNetworkPolicy', 'platform.allow-dns')).toEqual({
      key: Keys.policy('GlobalNetworkPolicy', '', 'platform.allow-dns'),
      value: {
        tier: 'platform',
        order: 10,
        selector: 'all()',
        inboundRules: [],
        outboundRules: [
          { action: 'allow', protocol: 'udp', dstPorts: [53] },
          { action: 'allow', protocol: 'tcp', dstPorts: [53] },
          { action: 'next-tier' },
        ],
        types: ['egress'],
        applyOnForward: false,
      },
    });
  });

  it('the application-tier policies are refused as written (the sim applies repaired copies)', () => {
    const lab = load('lab.yaml');
    const frontend = lab.find((o) => o.metadata.name === 'application.frontend-policy')!;
    // The repeated "destination" key kept only the ports: the selectors are gone.
    expect((frontend.spec as { egress: unknown[] }).egress[0]).toEqual({
      action: 'Allow',
      destination: { ports: [80] },
    });
    const msg = 'rule %s destination.ports: protocol must be TCP, UDP or SCTP when numeric ports are used';
    const cases = [
      ['frontend/application.frontend-policy', 'egress[0]'],
      ['backend/application.api-policy', 'egress[0]'],
      ['database/application.db-policy', 'ingress[0]'],
    ];
    for (const [id, rule] of cases) {
      const err = rejection('lab.yaml', 'NetworkPolicy', id!.split('/')[1]!);
      expect(err.message).toBe(`NetworkPolicy ${id}: ${msg.replace('%s', rule!)}`);
      expect(err.code).toBe('TABBY_ERR_CONVERSION');
      expect(err.object).toEqual({
        kind: 'NetworkPolicy',
        namespace: id!.split('/')[0],
        name: id!.split('/')[1],
      });
    }
  });

  it('the bonus FelixConfiguration, and Part 6’s with IPv6 too', () => {
    expect(convert('lab.yaml', 'FelixConfiguration', 'default')).toEqual([
      { key: Keys.globalConfig('WireguardEnabled'), value: 'true' },
    ]);
    expect(convert('felix.yaml', 'FelixConfiguration', 'default')).toEqual([
      { key: '/calico/v1/config/WireguardEnabled', value: 'true' },
      { key: '/calico/v1/config/WireguardEnabledV6', value: 'true' },
    ]);
  });
});
