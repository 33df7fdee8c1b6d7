// Calico resources through the converters beyond the seeds: rule conversion details, policy
// names and defaults, the refusals (each naming the object and the place), network sets,
// pools, IPAM CRDs, Felix/cluster configuration and BGP checks; plus a few properties.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { goDuration, goFloat, parseGoDuration } from '../../src/datastore/convert/felix-config.js';
import { ConversionError, convertObject } from '../../src/datastore/convert/index.js';
import { simplifyPorts } from '../../src/datastore/convert/knp.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { Keys } from '../../src/model/keys.js';
import { formatCidr, masked, parseCidr } from '../../src/model/net/cidr.js';
import { parseIp } from '../../src/model/net/ip.js';
import type { JsonValue } from '../../src/model/types.js';

type Obj = Record<string, JsonValue>;
const CRD = 'crd.projectcalico.org/v1';
const obj = (kind: string, name: string, spec: unknown, meta: object = {}): KubeObject => ({
  apiVersion: CRD,
  kind,
  metadata: { name, ...meta },
  spec,
});
const np = (spec: object, name = 'p', meta: object = {}) =>
  obj('NetworkPolicy', name, spec, { namespace: 'prod', ...meta });
const gnp = (spec: object, name = 'g', meta: object = {}) => obj('GlobalNetworkPolicy', name, spec, meta);
const one = (o: KubeObject) => {
  const kvs = convertObject(o);
  expect(kvs).toHaveLength(1);
  return kvs[0]!;
};
const val = (o: KubeObject) => one(o).value as Obj;
const rule = (o: KubeObject, dir: 'inboundRules' | 'outboundRules' = 'inboundRules', i = 0) =>
  (val(o)[dir] as Obj[])[i]!;
const NS = "projectcalico.org/namespace == 'prod'";

describe('Calico policy rules', () => {
  it('selectors: namespace scoping, namespaceSelector (all/global), notSelector unscoped', () => {
    const p = np({
      ingress: [
        { action: 'Allow', source: { selector: 'app == "a"', notSelector: 'bad == "x"' } },
        { action: 'Allow', source: { namespaceSelector: 'all()' } },
        { action: 'Allow', source: { namespaceSelector: 'global()', selector: 'role == "db"' } },
        { action: 'Allow', source: { notSelector: 'app == "b"' } },
        { action: 'Allow', source: { nets: ['10.0.0.5/24'] } },
      ],
    });
    expect(val(p)['inboundRules']).toEqual([
      {
        action: 'allow',
        srcSelector: `(${NS}) && (app == "a")`,
        notSrcSelector: 'bad == "x"',
        originalSrcSelector: 'app == "a"',
        originalNotSrcSelector: 'bad == "x"',
      },
      {
        action: 'allow',
        srcSelector: 'has(projectcalico.org/namespace)',
        originalSrcNamespaceSelector: 'all()',
      },
      {
        action: 'allow',
        srcSelector: '(!has(projectcalico.org/namespace)) && (role == "db")',
        originalSrcSelector: 'role == "db"',
        originalSrcNamespaceSelector: 'global()',
      },
      // Only a notSelector still limits the rule to the policy's namespace.
      {
        action: 'allow',
        srcSelector: NS,
        notSrcSelector: 'app == "b"',
        originalNotSrcSelector: 'app == "b"',
      },
      // Nets are stored as networks; no selector fields, no namespace scoping.
      { action: 'allow', srcNets: ['10.0.0.0/24'] },
    ]);
  });

  it('service accounts: names as a set, selector pcsa.-prefixed, then the endpoint selector', () => {
    const r = rule(
      np({
        egress: [
          {
            action: 'Allow',
            destination: {
              selector: 'app == "db"',
              serviceAccounts: { names: ['web', 'api', 'web'], selector: 'team == "x"' },
            },
          },
        ],
      }),
      'outboundRules',
    );
    expect(r).toEqual({
      action: 'allow',
      dstSelector: `(${NS}) && (((pcsa.team == "x") && (projectcalico.org/serviceaccount in {"api", "web"})) && (app == "db"))`,
      originalDstSelector: 'app == "db"',
      originalDstServiceAccountNames: ['web', 'api', 'web'],
      originalDstServiceAccountSelector: 'team == "x"',
    });
  });

  it('ports, notPorts, ranges and named ports; protocols numbered and named; ICMP; ipVersion', () => {
    const p = gnp({
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { ports: ['1024:65535'], notPorts: [1080] },
          destination: { ports: [80, '443', '8000:8000', 'https'], notNets: ['10.9.0.0/16'] },
        },
        { action: 'Deny', protocol: 17, ipVersion: 4 },
        { action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 }, notProtocol: 'UDPLite' },
        { action: 'Allow', destination: { ports: ['metrics'] } },
        { action: 'Log' },
      ],
    });
    expect(val(p)['inboundRules']).toEqual([
      {
        action: 'allow',
        protocol: 'tcp',
        srcPorts: ['1024:65535'],
        notSrcPorts: [1080],
        dstPorts: [80, 443, 8000, 'https'],
        notDstNets: ['10.9.0.0/16'],
      },
      { action: 'deny', ipVersion: 4, protocol: 17 },
      { action: 'allow', protocol: 'icmp', notProtocol: 'udplite', icmpType: 8, icmpCode: 0 },
      // Named ports alone need no protocol.
      { action: 'allow', dstPorts: ['metrics'] },
      { action: 'log' },
    ]);
  });

  it('services in rules', () => {
    const r = rule(
      np({
        egress: [
          { action: 'Allow', destination: { services: { name: 'kube-dns', namespace: 'kube-system' } } },
        ],
      }),
      'outboundRules',
    );
    expect(r).toEqual({ action: 'allow', dstService: 'kube-dns', dstServiceNamespace: 'kube-system' });
    const local = rule(
      np({ egress: [{ action: 'Allow', destination: { services: { name: 'db' } } }] }),
      'outboundRules',
    );
    expect(local).toEqual({ action: 'allow', dstService: 'db', dstServiceNamespace: 'prod' });
  });
});

describe('Calico policies', () => {
  it('types default from the rules present (api/pkg/defaults)', () => {
    expect(val(np({}))['types']).toEqual(['ingress']);
    expect(val(np({ egress: [{ action: 'Allow' }] }))['types']).toEqual(['egress']);
    expect(val(np({ ingress: [{ action: 'Deny' }], egress: [{ action: 'Allow' }] }))['types']).toEqual([
      'ingress',
      'egress',
    ]);
  });

  it('names: a tier prefix stays, a default. prefix goes, the metadata annotation wins', () => {
    expect(one(np({ tier: 'application' }, 'application.web')).key).toBe(
      Keys.policy('NetworkPolicy', 'prod', 'application.web'),
    );
    expect(one(np({}, 'default.web')).key).toBe(Keys.policy('NetworkPolicy', 'prod', 'web'));
    expect(one(gnp({ tier: 'default' }, 'default.allow-all')).key).toBe(
      Keys.policy('GlobalNetworkPolicy', '', 'allow-all'),
    );
    const annotated = gnp({ tier: 'security' }, 'security.x', {
      annotations: { 'projectcalico.org/metadata': '{"name":"block-x"}' },
    });
    expect(one(annotated).key).toBe(Keys.policy('GlobalNetworkPolicy', '', 'block-x'));
  });

  it('projectcalico.org/v3 and the CRD group are the same policy', () => {
    const v3 = { ...np({ selector: 'a == "b"' }), apiVersion: 'projectcalico.org/v3' };
    expect(convertObject(v3)).toEqual(convertObject(np({ selector: 'a == "b"' })));
  });

  it('namespaced policy: service account selector appended with pcsa.', () => {
    const v = val(
      np({
        selector: 'app == "x"',
        serviceAccountSelector: 'role == "y"',
        performanceHints: ['AssumeNeededOnEveryNode'],
      }),
    );
    expect(v['selector']).toBe(`((app == "x") && ${NS}) && pcsa.role == "y"`);
    expect(v['performanceHints']).toEqual(['AssumeNeededOnEveryNode']);
  });

  it('global policy: namespaceSelector pcns.-prefixed, all() rewritten in the whole text', () => {
    expect(
      val(gnp({ selector: 'app == "x"', namespaceSelector: 'team == "a" && env != "dev"' }))['selector'],
    ).toBe('(app == "x") && (pcns.team == "a" && pcns.env != "dev")');
    expect(val(gnp({ selector: 'all()', namespaceSelector: 'all()' }))['selector']).toBe(
      '(has(projectcalico.org/namespace)) && has(projectcalico.org/namespace)',
    );
    const dnt = val(gnp({ selector: 'all()', doNotTrack: true, applyOnForward: true }));
    expect(dnt).toMatchObject({ doNotTrack: true, applyOnForward: true });
    expect(dnt).not.toHaveProperty('preDNAT');
  });

  it('refuses a bad selector, naming the policy, the rule and the position', () => {
    const p = np(
      { egress: [{ action: 'Allow', destination: { selector: '(app == "a"' } }] },
      'application.api-policy',
      { namespace: 'backend' },
    );
    expect(() => convertObject(p)).toThrow(
      `NetworkPolicy backend/application.api-policy: rule egress[0] destination selector: expected ')' at 11`,
    );
    expect(() => convertObject(gnp({ selector: 'a = "b"' }))).toThrow(/^GlobalNetworkPolicy g: selector: /);
    expect(() => convertObject(np({ selector: 'global()' }))).toThrow(/global\(\) can only be used/);
    expect(() =>
      convertObject(gnp({ ingress: [{ action: 'Allow', source: { namespaceSelector: 'a ==' } }] })),
    ).toThrow(/^GlobalNetworkPolicy g: rule ingress\[0\] source namespaceSelector: /);
  });

  it('refuses bad CIDRs, protocols, ports, actions and field combinations', () => {
    const cases: [object, RegExp][] = [
      [
        { ingress: [{ action: 'Allow', source: { nets: ['10.0.0.0/40'] } }] },
        /source.nets\[0\]: invalid CIDR "10.0.0.0\/40"/,
      ],
      [{ ingress: [{ action: 'Allow', protocol: 'tcp' }] }, /protocol: invalid protocol "tcp"/],
      [{ ingress: [{ action: 'Allow', protocol: 0 }] }, /invalid protocol 0/],
      [
        { ingress: [{ action: 'Allow', protocol: 'ICMP', destination: { ports: [1] } }] },
        /protocol ICMP does not take ports/,
      ],
      [
        { ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['90:80'] } }] },
        /minimum above maximum/,
      ],
      [{ ingress: [{ action: 'Accept' }] }, /action: expected one of Allow, Deny, Log, Pass/],
      [{ ingress: [{ action: 'Allow', icmp: { type: 8 } }] }, /ICMP fields require protocol/],
      [
        { ingress: [{ action: 'Allow', destination: { nets: ['10.0.0.0/8'], notNets: ['fd00::/8'] } }] },
        /both IPv4 and IPv6/,
      ],
      [{ ingress: [{ action: 'Allow', source: { notNets: ['0.0.0.0/0'] } }] }, /catch-all CIDR/],
      [{ egress: [{ action: 'Allow', http: { methods: ['GET'] } }] }, /http: not allowed in egress rules/],
      [{ ingress: [{ action: 'Allow', destinaton: {} }] }, /rule ingress\[0\] destinaton: unknown field/],
      [{ types: ['Ingress', 'Ingress'] }, /'Ingress' type specified more than once/],
      [{ order: 'first' }, /spec.order: expected a number/],
    ];
    for (const [spec, msg] of cases) {
      const run = () => convertObject(np(spec));
      expect(run, JSON.stringify(spec)).toThrow(ConversionError);
      expect(run).toThrow(msg);
    }
    expect(() =>
      convertObject(gnp({ preDNAT: true, applyOnForward: true, egress: [{ action: 'Allow' }] })),
    ).toThrow(/preDNAT policy cannot have egress/);
    expect(() => convertObject(gnp({ doNotTrack: true }))).toThrow(/applyOnForward: must be true/);
    expect(() => convertObject(np({}, 'Bad_Name'))).toThrow(/invalid policy name "Bad_Name"/);
    expect(() => convertObject({ ...np({}), metadata: { name: 'p' } })).toThrow(
      'NetworkPolicy p: metadata.namespace: required',
    );
  });
});

describe('tiers, network sets, host endpoints', () => {
  it('a tier without order sorts last; Pass default action', () => {
    expect(val(obj('Tier', 'late', { defaultAction: 'Pass' }))).toEqual({ defaultAction: 'Pass' });
    expect(() => convertObject(obj('Tier', 'a.b', {}))).toThrow(/invalid tier name/);
    expect(() => convertObject(obj('Tier', 't', { defaultAction: 'Allow' }))).toThrow(
      /expected Deny or Pass/,
    );
  });

  it('namespaced and global network sets', () => {
    const set = obj(
      'NetworkSet',
      'partners',
      { nets: ['198.51.100.7', '203.0.113.0/24'] },
      { namespace: 'prod', labels: { kind: 'partner' } },
    );
    expect(convertObject(set)).toEqual([
      {
        key: Keys.networkSet('prod/partners'),
        value: {
          nets: ['198.51.100.7/32', '203.0.113.0/24'],
          labels: { kind: 'partner', 'projectcalico.org/namespace': 'prod' },
          profileIds: ['kns.prod'],
        },
      },
    ]);
    expect(
      convertObject(obj('GlobalNetworkSet', 'bad-ips', { nets: ['fd00::1/64'] }, { labels: { l: 'v' } })),
    ).toEqual([{ key: Keys.networkSet('bad-ips'), value: { nets: ['fd00::/64'], labels: { l: 'v' } } }]);
    expect(() => convertObject(obj('GlobalNetworkSet', 'x', { nets: ['1.2.3'] }))).toThrow(
      'GlobalNetworkSet x: spec.nets[0]: invalid CIDR "1.2.3"',
    );
  });

  it('host endpoints: IPs split by family, named ports, node required', () => {
    const hep = obj('HostEndpoint', 'n1-eth0', {
      node: 'n1',
      interfaceName: 'eth0',
      expectedIPs: ['10.0.1.10', 'fd00::10'],
      profiles: ['projectcalico-default-allow'],
      ports: [{ name: 'bgp', port: 179, protocol: 'TCP' }],
    });
    expect(val(hep)).toEqual({
      name: 'eth0',
      expectedIPv4Addrs: ['10.0.1.10'],
      expectedIPv6Addrs: ['fd00::10'],
      labels: {},
      profileIds: ['projectcalico-default-allow'],
      ports: [{ name: 'bgp', protocol: 'tcp', port: 179 }],
    });
    expect(() => convertObject(obj('HostEndpoint', 'x', { interfaceName: 'eth0' }))).toThrow(
      'HostEndpoint x: spec.node: required',
    );
  });
});

describe('IP pools and IPAM objects', () => {
  it('an IPv6 pool: default block size 122, v6 key', () => {
    expect(one(obj('IPPool', 'v6', { cidr: 'fd00:10:244::/64' }))).toMatchObject({
      key: '/calico/v1/ipam/v6/pool/fd00:10:244::-64',
      value: { cidr: 'fd00:10:244::/64', blockSize: 122, ipipMode: 'Never' },
    });
  });

  it('refuses pools Calico would refuse', () => {
    const bad: [object, RegExp][] = [
      [{ cidr: '10.0.0.1/16' }, /strictly masked/],
      [{ cidr: '10.0.0.0/16', blockSize: 33 }, /between 20 and 32/],
      [{ cidr: '10.0.0.0/28' }, /smaller than its blocks/],
      [{ cidr: '10.0.0.0/16', ipipMode: 'Always', vxlanMode: 'Always' }, /cannot both be enabled/],
      [{ cidr: 'fd00::/64', ipipMode: 'Always' }, /IPIP is not supported on IPv6/],
      [{ cidr: '169.254.0.0/16' }, /link-local/],
      [{ cidr: '10.0.0.0/16', nodeSelector: 'rack ==' }, /spec.nodeSelector: /],
      [{ cidr: '10.0.0.0/16', allowedUses: ['Pods'] }, /unknown use "Pods"/],
      [{}, /spec.cidr: required/],
    ];
    for (const [spec, msg] of bad)
      expect(() => convertObject(obj('IPPool', 'p', spec)), JSON.stringify(spec)).toThrow(msg);
  });

  it('an IPAMBlock CRD becomes Calico’s allocation block', () => {
    const allocations = new Array(16).fill(null);
    allocations[0] = 0;
    allocations[3] = 1;
    const block = obj('IPAMBlock', '10-245-0-0-28', {
      cidr: '10.245.0.0/28',
      affinity: 'host:n1',
      allocations,
      unallocated: [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
      attributes: [
        {
          handle_id: 'k8s-pod-network.abc',
          secondary: { namespace: 'finance', node: 'n1', pod: 'ledger-1' },
        },
        { handle_id: 'ipip-tunnel-addr-n1', secondary: { node: 'n1', type: 'ipipTunnelAddress' } },
      ],
      deleted: false,
      strictAffinity: false,
      sequenceNumber: 7,
    });
    expect(one(block)).toEqual({
      key: Keys.ipamBlock('10.245.0.0/28'),
      value: {
        cidr: '10.245.0.0/28',
        affinity: 'host:n1',
        strictAffinity: false,
        allocations,
        unallocated: [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        attributes: [
          {
            handleId: 'k8s-pod-network.abc',
            secondary: { namespace: 'finance', node: 'n1', pod: 'ledger-1' },
          },
          { handleId: 'ipip-tunnel-addr-n1', secondary: { node: 'n1', type: 'ipipTunnelAddress' } },
        ],
        deleted: false,
        sequenceNumber: 7,
      },
    });
    expect(() => convertObject(obj('IPAMBlock', 'b', { cidr: '10.245.0.0/28', allocations: [0] }))).toThrow(
      /spec.allocations\[0\]: expected null or an attribute index/,
    );
    expect(() => convertObject(obj('IPAMBlock', 'b', { cidr: '10.245.0.0/28', allocations: [] }))).toThrow(
      /0 entries for a block of 16 addresses/,
    );
  });

  it('BlockAffinity: CRD string "deleted", host affinities only', () => {
    const aff = (spec: object) =>
      obj('BlockAffinity', 'n1-10-245-0-0-28', { node: 'n1', cidr: '10.245.0.0/28', ...spec });
    expect(convertObject(aff({ state: 'confirmed', deleted: 'false' }))).toEqual([
      { key: Keys.blockAffinity('n1', '10.245.0.0/28'), value: { state: 'confirmed', deleted: false } },
    ]);
    expect(val(aff({ state: 'pendingDeletion', deleted: true }))).toEqual({
      state: 'pendingDeletion',
      deleted: true,
    });
    expect(convertObject(aff({ state: 'confirmed', type: 'virtual' }))).toEqual([]);
    expect(() => convertObject(aff({ state: 'claimed' }))).toThrow(/spec.state: expected confirmed/);
  });
});

describe('Felix configuration and cluster information', () => {
  it('one string per field, named and formatted as Calico’s config processor does', () => {
    const kvs = convertObject(
      obj(
        'FelixConfiguration',
        'default',
        {
          ipipEnabled: true,
          bpfEnabled: false,
          vxlanVNI: 4096,
          logSeverityScreen: 'Warning',
          iptablesLockProbeInterval: '50ms',
          reportingInterval: '1m30s',
          routeRefreshInterval: '1000000s',
          wireguardKeepAlive: '25s',
          externalNodesList: ['10.1.0.0/16', '10.2.0.0/16'],
          failsafeInboundHostPorts: [
            { protocol: 'TCP', port: 22 },
            { protocol: 'UDP', port: 68, net: '0.0.0.0/0' },
          ],
          failsafeOutboundHostPorts: [],
          routeTableRanges: [{ min: 1, max: 250 }],
          healthTimeoutOverrides: [{ name: 'InternalDataplaneMainLoop', timeout: '90s' }],
          bpfLogFilters: { all: 'tcp port 80', eth0: 'icmp' },
          bpfConntrackTimeouts: { tcpEstablished: '1h', creationGracePeriod: '10s' },
          natPortRange: '32768:65000',
          interfacePrefix: '',
        },
        { annotations: { 'config.projectcalico.org/DebugCalcGraph': 'true', 'other.io/x': 'y' } },
      ),
    );
    expect(new Map(kvs.map((kv) => [kv.key.replace('/calico/v1/config/', ''), kv.value]))).toEqual(
      new Map<string, string>([
        ['IpInIpEnabled', 'true'],
        ['BPFEnabled', 'false'],
        ['VXLANVNI', '4096'],
        ['LogSeverityScreen', 'Warning'],
        ['IptablesLockProbeIntervalMillis', '50'],
        ['ReportingIntervalSecs', '90'],
        ['RouteRefreshInterval', '1e+06'],
        ['WireguardPersistentKeepAlive', '25'],
        ['ExternalNodesCIDRList', '10.1.0.0/16,10.2.0.0/16'],
        ['FailsafeInboundHostPorts', 'tcp:22,udp:0.0.0.0/0:68'],
        ['FailsafeOutboundHostPorts', 'none'],
        ['RouteTableRanges', '1-250'],
        ['HealthTimeoutOverrides', 'InternalDataplaneMainLoop=1m30s'],
        ['BPFLogFilters', 'all=tcp port 80,eth0=icmp,'],
        ['BPFConntrackTimeouts', 'CreationGracePeriod=10s,TCPEstablished=1h'],
        ['NATPortRange', '32768:65000'],
        ['DebugCalcGraph', 'true'],
      ]),
    );
  });

  it('node.<name> is per host; other names are selector-scoped and yield nothing', () => {
    expect(convertObject(obj('FelixConfiguration', 'node.n1', { logSeverityScreen: 'Debug' }))).toEqual([
      { key: Keys.hostConfig('n1', 'LogSeverityScreen'), value: 'Debug' },
    ]);
    expect(
      convertObject(
        obj('FelixConfiguration', 'edge-nodes', { nodeSelector: 'edge == "true"', bpfEnabled: true }),
      ),
    ).toEqual([]);
  });

  it('refuses unknown fields and ill-typed values', () => {
    expect(() => convertObject(obj('FelixConfiguration', 'default', { wireguardEnable: true }))).toThrow(
      'FelixConfiguration default: spec.wireguardEnable: unknown FelixConfiguration field',
    );
    expect(() => convertObject(obj('FelixConfiguration', 'default', { bpfEnabled: 'yes' }))).toThrow(
      /expected true or false/,
    );
    expect(() => convertObject(obj('FelixConfiguration', 'default', { reportingInterval: '10 s' }))).toThrow(
      /invalid duration/,
    );
  });

  it('ClusterInformation: config keys and the Ready flag', () => {
    const info = obj('ClusterInformation', 'default', {
      clusterGUID: 'abc',
      clusterType: 'k8s,bgp',
      calicoVersion: 'v3.31.0',
      datastoreReady: true,
    });
    expect(convertObject(info)).toEqual([
      { key: Keys.globalConfig('ClusterGUID'), value: 'abc' },
      { key: Keys.globalConfig('ClusterType'), value: 'k8s,bgp' },
      { key: Keys.globalConfig('CalicoVersion'), value: 'v3.31.0' },
      { key: Keys.readyFlag(), value: true },
    ]);
  });
});

describe('BGP resources', () => {
  it('refuses peers Calico would refuse', () => {
    const peer = (spec: object) => () => convertObject(obj('BGPPeer', 'p', spec));
    expect(peer({ peerIP: '10.0.1.1', asNumber: 'sixty' })).toThrow(
      'BGPPeer p: spec.asNumber: invalid AS number "sixty"',
    );
    expect(peer({ peerIP: '10.0.1.300', asNumber: 64512 })).toThrow(/spec.peerIP: invalid IP\[:port\]/);
    expect(peer({ peerSelector: 'has(rr)', asNumber: 64512 })).toThrow(
      /must be empty when peerSelector is set/,
    );
    expect(peer({ node: 'n1', nodeSelector: 'all()', peerIP: '10.0.0.1' })).toThrow(/node and nodeSelector/);
    expect(peer({ nodeSelector: 'rack == rack1', peerIP: '10.0.0.1' })).toThrow(/spec.nodeSelector: /);
    expect(
      convertObject(obj('BGPPeer', 'v6', { peerIP: '[fd00::1]:179', asNumber: '1.10' }))[0]!.value,
    ).toMatchObject({
      spec: { peerIP: '[fd00::1]:179', asNumber: 65546 },
    });
  });

  it('refuses a BGPConfiguration with a bad ASN, CIDR or community', () => {
    const conf = (spec: object) => () => convertObject(obj('BGPConfiguration', 'default', spec));
    expect(conf({ asNumber: -1 })).toThrow(/invalid AS number -1/);
    expect(conf({ serviceClusterIPs: [{ cidr: '10.96.0.0/99' }] })).toThrow(
      /serviceClusterIPs\[0\].cidr: invalid CIDR/,
    );
    expect(conf({ communities: [{ name: 'c', value: '70000:1' }] })).toThrow(/invalid community/);
    expect(conf({ prefixAdvertisements: [{ cidr: '10.0.0.0/8', communities: ['nope'] }] })).toThrow(
      /is not defined/,
    );
  });
});

describe('convertObject', () => {
  it('refuses unknown types and nameless objects', () => {
    const thing = {
      apiVersion: 'operator.tigera.io/v1',
      kind: 'Installation',
      metadata: { name: 'default' },
    };
    expect(() => convertObject(thing)).toThrow(
      'Installation default: unsupported resource type operator.tigera.io/v1 Installation',
    );
    expect(() => convertObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: '' } })).toThrow(
      'Pod ?: metadata.name: required',
    );
  });

  it('is pure: the input object is not modified', () => {
    const p = np({ selector: 'a == "b"', ingress: [{ action: 'Allow', source: { nets: ['10.0.0.1/8'] } }] });
    const before = JSON.stringify(p);
    convertObject(p);
    expect(JSON.stringify(p)).toBe(before);
  });
});

describe('properties', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
  const v6 = fc
    .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
    .map((g) => g.map((x) => x.toString(16)).join(':'));

  it('IP text round-trips through parse/format, and masking is idempotent', () => {
    fc.assert(
      fc.property(fc.oneof(v4, v6), fc.nat(128), (ip, len) => {
        const parsed = parseIp(ip)!;
        expect(parsed).toBeDefined();
        const prefix = Math.min(len, parsed.version === 4 ? 32 : 128);
        const c = parseCidr(`${ip}/${prefix}`)!;
        const m = formatCidr(masked(c));
        expect(formatCidr(masked(parseCidr(m)!))).toBe(m);
        expect(parseCidr(m)!.addr).toEqual(masked(c).addr);
      }),
    );
  });

  it('simplifyPorts covers exactly the ports it is given', () => {
    const port = fc.oneof(
      fc.integer({ min: 1, max: 200 }),
      fc
        .tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 20 }))
        .map(([a, n]) => `${a}:${a + n}`),
      fc.constantFrom('http', 'metrics'),
    );
    const expand = (ports: readonly (number | string)[]) => {
      const out = new Set<string>();
      for (const p of ports) {
        if (typeof p === 'number') out.add(String(p));
        else if (/^\d+:\d+$/.test(p)) {
          const [a, b] = p.split(':').map(Number);
          for (let i = a!; i <= b!; i++) out.add(String(i));
        } else out.add(p);
      }
      return out;
    };
    fc.assert(
      fc.property(fc.array(port, { maxLength: 12 }), (ports) => {
        const out = simplifyPorts(ports);
        expect(expand(out)).toEqual(expand(ports));
        expect(out.length).toBeLessThanOrEqual(ports.length);
      }),
    );
  });

  it('Go duration and float formatting', () => {
    expect(goFloat(90)).toBe('90');
    expect(goFloat(0.5)).toBe('0.5');
    expect(goFloat(123456)).toBe('123456');
    expect(goFloat(1e-5)).toBe('1e-05');
    expect(parseGoDuration('1h2m3.5s', 'd')).toBe(3723.5e9);
    expect(goDuration(parseGoDuration('1h2m3.5s', 'd'))).toBe('1h2m3.5s');
    expect(goDuration(1.5e6)).toBe('1.5ms');
    expect(goDuration(0)).toBe('0s');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), (ms) => {
        expect(parseGoDuration(goDuration(ms * 1e6), 'd')).toBeCloseTo(ms * 1e6, -1);
      }),
    );
  });
});
