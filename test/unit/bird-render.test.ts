// The BIRD 2 renderer: every rendered variant must pass the real `bird -p -c` (bird2), the
// text must be byte-identical for an equal model, and the seeds' BGP resources (ToR peering,
// route reflectors, per-node ASN) must render as Calico would configure them.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type BgpModel, computeBgp } from '../../src/agent/calc/routing/bgp.js';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import {
  type BirdRenderOptions,
  birdSymbol,
  FAST_TIMERS,
  renderBird,
  renderBirdConfig,
} from '../../src/agent/dataplane/bird/render.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { generateInitialState } from '../../src/testing/sim/index.js';
import {
  affinity,
  bgpConfig,
  bgpPeer,
  birdMissing,
  birdParse,
  kvsOf,
  node,
  pool,
  stateOf,
} from './bgp-fixtures.js';

const missing = birdMissing();
const required = process.env['CI'] === 'true';
if (missing !== undefined && !required)
  console.warn(`\n*** bird-render: bird -p checks SKIPPED: ${missing} ***\n`);

/** Asserts `bird -p` accepts the text — or, without bird, fails under CI=true and skips loudly otherwise. */
function expectParses(text: string, what: string): void {
  if (missing !== undefined) {
    if (required) throw new Error(`${what}: cannot check with bird -p under CI=true: ${missing}`);
    return;
  }
  const r = birdParse(text);
  expect(r.ok, `${what}: bird -p said: ${r.message}\n${text}`).toBe(true);
}

function model(state: RoutingState, name: string): BgpModel {
  const m = computeBgp(state, name);
  if (!m.available) throw new Error(m.message);
  return m;
}

const VARIANTS: Record<string, BirdRenderOptions> = {
  production: {},
  fast: {
    timers: FAST_TIMERS,
    kernelTable: 100,
    excludeInterfaces: ['eth9', 'bad"name'],
    originateBorrowed: true,
  },
};

/** Renders every node of a state under every option variant and checks each with bird -p. */
function checkAll(state: RoutingState, label: string): number {
  let n = 0;
  for (const name of state.nodes.keys()) {
    const m = computeBgp(state, name);
    if (!m.available) continue;
    for (const [v, opts] of Object.entries(VARIANTS)) {
      expectParses(renderBirdConfig(m, { ...opts, passwords: () => 'pw' }), `${label} ${name} ${v}`);
      n++;
    }
  }
  return n;
}

describe('bird -p accepts every rendered variant', () => {
  it('mesh, ASN overrides, listen port, bind mode, debug, communities, ignored interfaces', () => {
    const s = stateOf([
      node('a', '10.0.0.1'),
      node('b', '10.0.0.2', { asn: 65002 }),
      node('c', '10.0.0.3'),
      pool('p', '10.244.0.0/16'),
      pool('vx', '10.245.0.0/16', { vxlanMode: 'Always' }),
      pool('quiet', '10.246.0.0/16', { disableBGPExport: true }),
      affinity('a', '10.244.1.0/26'),
      affinity('b', '10.244.2.0/26'),
      bgpConfig('default', {
        asNumber: 65000,
        listenPort: 1790,
        bindMode: 'NodeIP',
        logSeverityScreen: 'Debug',
        ignoredInterfaces: ['eth7', 'vxlan*'],
        nodeMeshPassword: { secretKeyRef: { name: 's', key: 'mesh' } },
        nodeMeshMaxRestartTime: '120s',
        communities: [{ name: 'pods', value: '65000:100' }],
        prefixAdvertisements: [{ cidr: '10.244.0.0/16', communities: ['pods', '65000:1:2'] }],
      }),
      bgpConfig('node.c', { listenPort: 1791, logSeverityScreen: 'Fatal' }),
    ]);
    expect(checkAll(s, 'mesh')).toBe(6);
    const text = renderBirdConfig(model(s, 'a'), { passwords: () => 'pw' });
    expect(text).toContain('local 10.0.0.1 port 1790 as 65000;');
    expect(text).toContain('strict bind on;');
    expect(text).toContain('interface -"eth7", -"vxlan*", -"cali*", -"kube-ipvs*", "*";');
    expect(text).toContain('bgp_large_community.add((65000, 1, 2));');
    expect(text).toContain('neighbor 10.0.0.3 port 1791 as 65000;');
    expect(text).toContain('debug all;');
    expect(text).toContain('graceful restart time 120;');
  });

  it('route reflectors, ToR (eBGP/iBGP), selectors, every BGPPeer field, services', () => {
    const s = stateOf([
      node('rr1', '10.0.0.1', { rr: '224.0.0.1', labels: { rr: 'true' } }),
      node('rr2', '10.0.0.2', { rr: '224.0.0.1', labels: { rr: 'true' } }),
      node('w1', '10.0.1.11', { labels: { rack: 'rack1' } }),
      node('w2', '10.0.2.12', { asn: 64513, labels: { rack: 'rack2' } }),
      pool('p', '10.244.0.0/16'),
      affinity('w1', '10.244.1.0/26'),
      bgpConfig('default', {
        nodeToNodeMeshEnabled: false,
        serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
        serviceExternalIPs: [{ cidr: '192.168.100.0/24' }, { cidr: '192.168.100.7/32' }],
        serviceLoadBalancerIPs: [{ cidr: '192.168.200.0/24' }],
      }),
      bgpPeer('peer-to-rr', { nodeSelector: '!has(rr)', peerSelector: 'has(rr)', nextHopMode: 'Self' }),
      bgpPeer('rr-mesh', { nodeSelector: 'has(rr)', peerSelector: 'has(rr)', ttlSecurity: 1 }),
      bgpPeer('rack1-tor', {
        nodeSelector: 'rack == "rack1"',
        peerIP: '10.0.1.1:1790',
        asNumber: 64512,
        password: { secretKeyRef: { name: 'bgp', key: 'tor' } },
        keepaliveTime: '2s',
        maxRestartTime: '30s',
      }),
      bgpPeer('rack2-tor', {
        nodeSelector: 'rack == "rack2"',
        peerIP: '10.0.2.1',
        asNumber: 65000,
        localASNumber: 64600,
        keepOriginalNextHop: true,
        numAllowedLocalASNumbers: 1,
        reachableBy: '10.0.2.254',
        sourceAddress: 'None',
      }),
    ]);
    expect(checkAll(s, 'rr')).toBe(8);
    const rr = renderBirdConfig(model(s, 'rr1'));
    expect(rr).toMatch(
      /protocol bgp Node_10_0_1_11 from bgp_template \{[^}]*rr client;\n {2}rr cluster id 224\.0\.0\.1;/,
    );
    // Single addresses are not advertised from every node, but a reflector passes them on.
    expect(rr).toMatch(
      /# Route reflector: pass on service ranges learned from clients.\n {2}if \( net ~ 192\.168\.100\.7\/32 \)/,
    );
    const w2 = renderBirdConfig(model(s, 'w2'));
    expect(w2).toContain('route 10.0.2.1/32 via 10.0.2.254;');
    expect(w2).toMatch(/local as 64600;\n {2}neighbor 10\.0\.2\.1 as 65000;/);
    expect(w2).toContain('export filter calico_export_ebgp; next hop keep;');
  });

  it('the simulated cluster (seed BGP resources, borrowing, mesh on and off)', () => {
    for (const mesh of [true, false]) {
      const s = new RoutingState();
      s.apply(generateInitialState({ nodes: 12, pods: 120, borrowRate: 0.05, nodeToNodeMesh: mesh }));
      expect(checkAll(s, `sim mesh=${mesh}`)).toBe(24);
    }
  });
});

describe('passwords', () => {
  const s = stateOf([
    node('a', '10.0.0.1'),
    bgpPeer('tor', {
      peerIP: '10.0.9.1',
      asNumber: 65000,
      password: { secretKeyRef: { name: 'bgp', key: 'tor' } },
    }),
  ]);
  const m = model(s, 'a');

  it('resolves the secret reference through the agent’s resolver', () => {
    const seen: unknown[] = [];
    const r = renderBird(m, {
      passwords: (ref) => {
        seen.push(ref);
        return 's3cret';
      },
    });
    expect(seen).toEqual([{ name: 'bgp', key: 'tor' }]);
    expect(r.text).toContain('password "s3cret";');
    expect(r.passwordProblems).toEqual([]);
    expectParses(r.text, 'password');
  });

  it('renders the peer without a password (as confd does) and reports a missing or unwritable one', () => {
    const none = renderBird(m, { passwords: () => undefined });
    expect(none.text).not.toContain('password');
    expect(none.passwordProblems).toEqual([
      { peer: 'Global_10_0_9_1', ref: { name: 'bgp', key: 'tor' }, problem: 'missing' },
    ]);
    const quote = renderBird(m, { passwords: () => 'a"b' });
    expect(quote.text).not.toContain('password');
    expect(quote.passwordProblems[0]?.problem).toBe('unrepresentable');
    expectParses(quote.text, 'unrepresentable password');
  });
});

describe('determinism', () => {
  it('an equal model renders byte-identical text whatever order the KVs arrived in', () => {
    const kvs = generateInitialState({ nodes: 40, pods: 400, borrowRate: 0.05 });
    const a = new RoutingState();
    a.apply(kvs);
    const b = new RoutingState();
    b.apply([...kvs].reverse());
    for (const name of ['node-000', 'node-007', 'worker-rack2-01']) {
      const t1 = renderBirdConfig(model(a, name), { timers: FAST_TIMERS });
      expect(renderBirdConfig(model(b, name), { timers: FAST_TIMERS })).toBe(t1);
      expect(renderBirdConfig(model(a, name), { timers: FAST_TIMERS })).toBe(t1);
    }
  });

  it('names are valid BIRD symbols (IPv6 colons escaped, no leading digit)', () => {
    expect(birdSymbol('Global_fd00::1')).toBe('Global_fd00__1');
    expect(birdSymbol('1abc')).toBe('_1abc');
    expect(birdSymbol('x'.repeat(80))).toHaveLength(64);
  });
});

describe('the seeds’ BGP section (test/fixtures/seeds/bgp.yaml) through the converters', () => {
  const text = readFileSync(new URL('../fixtures/seeds/bgp.yaml', import.meta.url), 'utf8');
  const seed = parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
  // The seed names worker-01 (a reflector without an address) and worker-rack2-01; the lab adds
  // a rack1 worker and gives the reflector an address so that every peering has two ends.
  const lab = [
    node('worker-rack1-01', '10.0.1.10', { labels: { rack: 'rack1' } }),
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'Node',
      metadata: { name: 'rr-01', labels: { 'calico-route-reflector': 'true' } },
      spec: { bgp: { ipv4Address: '10.0.1.5/24', routeReflectorClusterID: '224.0.0.1' } },
    } as KubeObject,
  ];
  const state = new RoutingState();
  // Documents apply in order: the second BGPConfiguration `default` replaces the first.
  state.apply([...kvsOf(seed), ...kvsOf(lab)]);

  it('worker-01 (a reflector with no address in the seed) has no IPv4 BGP', () => {
    expect(computeBgp(state, 'worker-01')).toMatchObject({ available: false, reason: 'no-ipv4' });
  });

  it('mesh off; rack1 peers with its ToR (iBGP 64512) and the reflector', () => {
    const m = model(state, 'worker-rack1-01');
    expect(m.meshEnabled).toBe(false);
    expect(m.peers.map((p) => [p.name, p.asNumber, p.ibgp])).toEqual([
      ['Node_10_0_1_1', 64512, true],
      ['Node_10_0_1_5', 64512, true],
    ]);
    expect(m.exports.serviceRoutes).toEqual(['10.96.0.0/12', '192.168.100.0/24', '192.168.200.0/24']);
    expect(m.exports.communities).toEqual([{ cidr: '10.244.0.0/16', standard: [[64512, 100]], large: [] }]);
  });

  it('worker-rack2-01 runs AS 64513, so its session to the reflector is eBGP', () => {
    const m = model(state, 'worker-rack2-01');
    expect(m).toMatchObject({ asNumber: 64513, asSource: 'node', routerId: '10.0.2.10' });
    expect(m.peers.map((p) => [p.name, p.asNumber, p.ibgp])).toEqual([['Node_10_0_1_5', 64512, false]]);
  });

  it('the reflector serves rack1 as an RR client, rack2 as an eBGP peer', () => {
    const m = model(state, 'rr-01');
    expect(m.peers.map((p) => [p.name, p.rrClusterId ?? null])).toEqual([
      ['Node_10_0_1_10', '224.0.0.1'],
      ['Node_10_0_2_10', null],
    ]);
    expect(m.exports.reflectedServiceRanges).toEqual(['192.168.100.0/24', '192.168.200.0/24']);
  });

  it('every seed node renders a config bird accepts', () => {
    expect(checkAll(state, 'seed')).toBe(6);
  });
});
