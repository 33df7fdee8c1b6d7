// Behaviour of the simulated cluster: determinism, sizes, valid API objects that all convert,
// IPAM consistency on the objects and on the converted KVs (also after long churn), the seed
// lab's resources as agents see them, and the source's status/timer lifecycle.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { convertObject } from '../../src/datastore/convert/index.js';
import { type KubeObject, objectId } from '../../src/datastore/kube/object.js';
import { type ObjectEvent, ObjectSink } from '../../src/datastore/kube/object-sink.js';
import { resourceTypeOf } from '../../src/datastore/kube/resources.js';
import { Keys, keyKind } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import type { JsonValue, KV, SyncStatus } from '../../src/model/types.js';
import {
  ChurnGenerator,
  generateInitialState,
  generateObjects,
  SimOptionsError,
  SimulatedCluster,
} from '../../src/testing/sim/index.js';

type Obj = Record<string, JsonValue>;
const SMALL = { seed: 7, nodes: 12, pods: 400, namespaces: 4 };
const RESERVED = ['10.244.0.1/32', '10.244.0.2/32', '10.244.100.0/24'];
const WEP_KEY = /^\/calico\/v1\/host\/([^/]+)\/workload\/k8s\/([^/]+)\/endpoint\/eth0$/;

const ipToInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const inCidr = (ip: string, cidr: string) => {
  const [base, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  const a = ipToInt(ip);
  return a >= ipToInt(base!) && a < ipToInt(base!) + size;
};
const toMap = (kvs: readonly KV[]) => new Map(kvs.map((kv) => [kv.key, kv.value]));
const byKind = (state: Map<string, JsonValue>, kind: string) =>
  [...state].filter(([k]) => keyKind(k) === kind) as [string, Obj][];
const spec = (o: KubeObject) => o.spec as Obj;

/** Applies a batch like a cache would, failing on a delete of a missing key. */
function apply(state: Map<string, JsonValue>, kvs: readonly KV[]): void {
  for (const kv of kvs) {
    if (kv.value === null) {
      expect(state.has(kv.key), `delete of missing ${kv.key}`).toBe(true);
      state.delete(kv.key);
    } else {
      state.set(kv.key, kv.value);
    }
  }
}

/** An ObjectSink into a KV map; object events must name objects consistently. */
function objectState(initial: readonly KubeObject[]) {
  const state = new Map<string, JsonValue>();
  const objects = new Map<string, KubeObject>();
  const sink = new ObjectSink(
    { onUpdates: (kvs) => apply(state, kvs), onStatus: () => {} },
    convertObject,
    silentLogger,
  );
  const feed = (events: readonly ObjectEvent[]) => {
    for (const ev of events) {
      const id = objectId(ev.object);
      if (ev.type === 'ADDED') expect(objects.has(id), `ADDED existing ${id}`).toBe(false);
      else expect(objects.has(id), `${ev.type} of missing ${id}`).toBe(true);
      if (ev.type === 'DELETED') objects.delete(id);
      else objects.set(id, ev.object);
    }
    sink.apply(events);
    expect(sink.conversionErrors.size, [...sink.conversionErrors.keys()].join()).toBe(0);
  };
  feed(initial.map((object) => ({ type: 'ADDED' as const, object })));
  return { state, objects, feed };
}

/** Checks IPAM and endpoint consistency over a whole KV state; returns a few figures. */
function checkInvariants(state: Map<string, JsonValue>) {
  const pools = byKind(state, 'ipPool').map(([, v]) => v['cidr'] as string);
  const owners = new Map<string, { block: Obj; attr: Obj }>();
  for (const [key, block] of byKind(state, 'ipamBlock')) {
    const cidr = block['cidr'] as string;
    expect(key).toBe(Keys.ipamBlock(cidr));
    expect(pools.some((p) => inCidr(cidr.split('/')[0]!, p))).toBe(true);
    const node = (block['affinity'] as string).replace(/^host:/, '');
    expect(state.get(Keys.blockAffinity(node, cidr))).toEqual({ state: 'confirmed', deleted: false });
    const allocations = block['allocations'] as (number | null)[];
    const attributes = block['attributes'] as Obj[];
    expect(allocations).toHaveLength(2 ** (32 - Number(cidr.split('/')[1])));
    const used = allocations.filter((a) => a !== null);
    expect(new Set(used).size).toBe(attributes.length);
    expect(used).toHaveLength(attributes.length);
    const base = ipToInt(cidr.split('/')[0]!);
    allocations.forEach((a, ord) => {
      if (a === null) return;
      const ip = [24, 16, 8, 0].map((s) => ((base + ord) >>> s) & 255).join('.');
      owners.set(ip, { block, attr: attributes[a]!['secondary'] as Obj });
    });
  }
  const seen = new Set<string>();
  let borrowed = 0;
  const weps = byKind(state, 'workloadEndpoint');
  for (const [key, wep] of weps) {
    const [, node, id] = WEP_KEY.exec(key)!;
    const [ns, pod] = decodeURIComponent(id!).split('/');
    const nets = wep['ipv4Nets'] as string[];
    expect(nets).toHaveLength(1);
    const ip = nets[0]!.replace('/32', '');
    expect(seen.has(ip), `duplicate ${ip}`).toBe(false);
    seen.add(ip);
    expect(
      RESERVED.some((r) => inCidr(ip, r)),
      `${ip} is reserved`,
    ).toBe(false);
    const owner = owners.get(ip);
    expect(owner, `${ip} of ${key} not allocated`).toBeDefined();
    expect(owner!.attr).toEqual({ namespace: ns, pod, node: decodeURIComponent(node!) });
    if (owner!.block['affinity'] !== `host:${decodeURIComponent(node!)}`) borrowed++;
    for (const p of wep['profileIds'] as string[]) expect(state.has(Keys.profile(p)), p).toBe(true);
    if (ns === 'finance') expect(inCidr(ip, '10.245.0.0/24')).toBe(true);
  }
  expect(owners.size).toBe(weps.length);
  return { weps: weps.length, borrowed, blocks: byKind(state, 'ipamBlock').length };
}

/** The same IPAM consistency, on the objects: every running pod's IP is allocated to it. */
function checkObjectInvariants(objects: Iterable<KubeObject>) {
  const allocated = new Map<string, Obj>();
  const pods: KubeObject[] = [];
  for (const o of objects) {
    if (o.kind === 'Pod') pods.push(o);
    if (o.kind !== 'IPAMBlock') continue;
    const s = spec(o);
    const [base, len] = (s['cidr'] as string).split('/');
    expect(o.metadata.name).toBe((s['cidr'] as string).replace(/[./]/g, '-'));
    expect((s['allocations'] as unknown[]).length).toBe(2 ** (32 - Number(len)));
    (s['allocations'] as (number | null)[]).forEach((a, ord) => {
      if (a === null) return;
      const n = ipToInt(base!) + ord;
      const ip = [24, 16, 8, 0].map((sh) => (n >>> sh) & 255).join('.');
      allocated.set(ip, (s['attributes'] as Obj[])[a]!['secondary'] as Obj);
    });
  }
  for (const p of pods) {
    const ip = (p.status as Obj)['podIP'] as string;
    expect(allocated.get(ip), `${p.metadata.name} ${ip}`).toEqual({
      namespace: p.metadata.namespace,
      pod: p.metadata.name,
      node: spec(p)['nodeName'],
    });
  }
  expect(allocated.size).toBe(pods.length);
  return pods.length;
}

describe('generateObjects', () => {
  it('is a pure function of its options', () => {
    const a = generateObjects(SMALL);
    expect(generateObjects(SMALL)).toEqual(a);
    expect(generateObjects({ ...SMALL, seed: 8 })).not.toEqual(a);
    expect(generateInitialState(SMALL)).toEqual(generateInitialState(SMALL));
  });

  it('makes valid API objects of watched types, each converting without error', () => {
    const objects = generateObjects(SMALL);
    const ids = new Set<string>();
    for (const o of objects) {
      const type = resourceTypeOf(o.apiVersion, o.kind);
      expect(type, `${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect(o.metadata.namespace !== undefined, `${o.kind} ${o.metadata.name}`).toBe(type!.namespaced);
      expect(o.metadata.resourceVersion).toBeUndefined();
      ids.add(objectId(o));
      expect(() => convertObject(o)).not.toThrow();
    }
    expect(ids.size).toBe(objects.length);
    expect(generateInitialState(SMALL)).toEqual(objects.flatMap(convertObject));
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of [
      'Pod',
      'Node',
      'IPAMBlock',
      'BlockAffinity',
      'Service',
      'EndpointSlice',
      'ClusterInformation',
    ])
      expect(kinds.has(k), k).toBe(true);
  });

  it('keeps IPAM consistent on the objects: every pod IP is allocated to that pod', () => {
    expect(checkObjectInvariants(generateObjects(SMALL))).toBe(SMALL.pods);
  });
});

describe('generateInitialState', () => {
  it('makes the nodes and pods asked for, with default options as documented', () => {
    const kinds = (kvs: KV[], kind: string) => kvs.filter((kv) => keyKind(kv.key) === kind).length;
    const small = generateInitialState({ nodes: 9, pods: 77, namespaces: 0 });
    expect(kinds(small, 'node')).toBe(9);
    expect(kinds(small, 'workloadEndpoint')).toBe(77);
    const def = generateInitialState();
    expect(kinds(def, 'node')).toBe(50);
    expect(kinds(def, 'workloadEndpoint')).toBe(1500);
    expect(kinds(def, 'policy')).toBeGreaterThanOrEqual(50);
    expect(kinds(def, 'policy')).toBeLessThanOrEqual(100);
    expect(kinds(def, 'service')).toBe(6);
    expect(kinds(def, 'endpointSlice')).toBe(6);
  });

  it('keeps IPAM consistent: affine or recorded-borrow IPs, no reserved or duplicate IPs', () => {
    const figures = checkInvariants(toMap(generateInitialState()));
    expect(figures.weps).toBe(1500);
    expect(figures.borrowed).toBeGreaterThan(0);
    expect(figures.blocks).toBeGreaterThan(50); // some nodes needed a second block
  });

  it('spills big clusters into the scale pool', () => {
    const state = toMap(generateInitialState({ nodes: 1100, pods: 4000, namespaces: 2 }));
    expect(state.has(Keys.ipPool('172.16.0.0/12'))).toBe(true);
    checkInvariants(state);
    const ips = byKind(state, 'workloadEndpoint').map(([, v]) => (v['ipv4Nets'] as string[])[0]!);
    expect(ips.some((ip) => ip.startsWith('172.'))).toBe(true);
  });

  it('rejects bad options at once', () => {
    expect(() => generateInitialState({ nodes: 2 })).toThrow(SimOptionsError);
    expect(() => generateInitialState({ pods: 1 })).toThrow(SimOptionsError);
    expect(() => generateInitialState({ nodes: 4, pods: 1000 })).toThrow(/pods/);
    expect(() => generateInitialState({ churnPerSec: -1 })).toThrow(SimOptionsError);
    expect(() => generateObjects({ nodez: 3 } as never)).toThrow(/unknown option nodez/);
  });
});

describe('seed resources', () => {
  const state = toMap(generateInitialState());

  it('has the seed tiers, pools and reservation', () => {
    expect(state.get(Keys.tier('security'))).toEqual({ order: 100, defaultAction: 'Deny' });
    expect(state.get(Keys.tier('platform'))).toEqual({ order: 200, defaultAction: 'Deny' });
    expect(state.get(Keys.tier('application'))).toEqual({ order: 300, defaultAction: 'Deny' });
    expect(state.get(Keys.tier('default'))).toEqual({ order: 1_000_000, defaultAction: 'Deny' });
    expect(state.get(Keys.ipPool('10.244.0.0/16'))).toEqual({
      name: 'default-pool',
      cidr: '10.244.0.0/16',
      blockSize: 26,
      ipipMode: 'Never',
      vxlanMode: 'Never',
      natOutgoing: true,
      disabled: false,
      disableBGPExport: false,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    });
    expect(state.get(Keys.ipPool('10.245.0.0/24'))).toMatchObject({ name: 'finance-pool', blockSize: 28 });
    expect((state.get(Keys.ipReservation('reserved-ips')) as Obj)['spec']).toEqual({
      reservedCIDRs: RESERVED,
    });
  });

  it('has the seed policies as model values', () => {
    const policy = (kind: string, ns: string, name: string) => state.get(Keys.policy(kind, ns, name));
    expect(policy('GlobalNetworkPolicy', '', 'security.block-metadata')).toEqual({
      tier: 'security',
      order: 10,
      selector: 'all()',
      inboundRules: [],
      outboundRules: [{ action: 'deny', dstNets: ['169.254.169.254/32'] }, { action: 'next-tier' }],
      types: ['egress'],
      applyOnForward: false,
    });
    expect((policy('GlobalNetworkPolicy', '', 'platform.allow-dns') as Obj)['outboundRules']).toEqual([
      { action: 'allow', protocol: 'udp', dstPorts: [53] },
      { action: 'allow', protocol: 'tcp', dstPorts: [53] },
      { action: 'next-tier' },
    ]);
    expect(policy('NetworkPolicy', 'frontend', 'application.frontend-policy')).toEqual({
      namespace: 'frontend',
      tier: 'application',
      order: 10,
      selector: `(app == "frontend") && projectcalico.org/namespace == 'frontend'`,
      inboundRules: [],
      outboundRules: [
        {
          action: 'allow',
          protocol: 'tcp',
          // The rule's namespaceSelector ANDs with its selector (pcns.-prefixed).
          dstSelector: '(pcns.projectcalico.org/name == "backend") && (app == "api")',
          dstPorts: [80],
          originalDstSelector: 'app == "api"',
          originalDstNamespaceSelector: 'projectcalico.org/name == "backend"',
        },
        { action: 'deny' },
      ],
      types: ['egress'],
      // Current Calico (networkpolicyprocessor.go) sets false for namespaced policies.
      applyOnForward: false,
    });
    expect(policy('NetworkPolicy', 'backend', 'application.api-policy')).toMatchObject({ order: 20 });
    expect((policy('NetworkPolicy', 'database', 'application.db-policy') as Obj)['inboundRules']).toEqual([
      {
        action: 'allow',
        protocol: 'tcp',
        srcSelector: '(pcns.projectcalico.org/name == "backend") && (app == "api")',
        originalSrcSelector: 'app == "api"',
        originalSrcNamespaceSelector: 'projectcalico.org/name == "backend"',
        dstPorts: [80],
      },
      { action: 'deny' },
    ]);
    const np = policy('NetworkPolicy', 'app', 'allow-frontend-to-api') as Obj;
    expect(np).toMatchObject({
      tier: 'default',
      selector: `(app == "web-api") && projectcalico.org/namespace == 'app'`,
    });
    expect(np['order']).toBeUndefined();
    expect((np['inboundRules'] as Obj[])[0]).toMatchObject({
      srcSelector: `(projectcalico.org/namespace == 'app') && (app == "frontend")`,
      dstPorts: [8080],
    });
    expect(policy('KubernetesNetworkPolicy', 'finance', 'default-deny-ingress')).toEqual({
      namespace: 'finance',
      tier: 'default',
      order: 1000,
      selector: `(projectcalico.org/orchestrator == 'k8s') && projectcalico.org/namespace == 'finance'`,
      inboundRules: [],
      outboundRules: [],
      types: ['ingress'],
      applyOnForward: false,
    });
  });

  it('has the seed BGP resources and node roles', () => {
    const specOf = (key: string) => (state.get(key) as Obj)['spec'] as Obj;
    expect(specOf(Keys.bgpConfiguration('default'))).toMatchObject({
      asNumber: 64512,
      nodeToNodeMeshEnabled: true,
      serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
      serviceExternalIPs: [{ cidr: '192.168.100.0/24' }],
      serviceLoadBalancerIPs: [{ cidr: '192.168.200.0/24' }],
    });
    expect(specOf(Keys.bgpPeer('rack1-tor'))).toEqual({
      nodeSelector: 'rack == "rack1"',
      peerIP: '10.0.1.1',
      asNumber: 64512,
    });
    expect(specOf(Keys.bgpPeer('peer-to-rr'))).toMatchObject({
      nodeSelector: '!has(calico-route-reflector)',
    });
    const nodes = byKind(state, 'node').map(([, v]) => v);
    const rrs = nodes.filter(
      (n) => ((n['metadata'] as Obj)['labels'] as Obj)['calico-route-reflector'] === 'true',
    );
    expect(rrs).toHaveLength(2);
    for (const rr of rrs)
      expect((rr['spec'] as Obj)['bgp']).toMatchObject({ routeReflectorClusterID: '224.0.0.1' });
    expect(specOf(Keys.node('worker-rack2-01'))['bgp']).toEqual({
      ipv4Address: '10.0.2.11/24',
      asNumber: 64513,
    });
    for (const n of nodes) {
      const labels = (n['metadata'] as Obj)['labels'] as Obj;
      const s = n['spec'] as Obj;
      const ip = String((s['bgp'] as Obj)['ipv4Address']);
      expect(ip).toMatch(new RegExp(`^10\\.0\\.${String(labels['rack']).slice(4)}\\.\\d+/24$`));
      expect(s['addresses']).toEqual([
        { address: ip, type: 'CalicoNodeIP' },
        { address: ip.replace('/24', ''), type: 'InternalIP' },
      ]);
      expect(s).not.toHaveProperty('wireguard');
    }
    expect(byKind(state, 'wireguard')).toHaveLength(0);
    expect(state.get(Keys.globalConfig('WireguardEnabled'))).toBe('false');
    expect(state.get(Keys.globalConfig('ReportingIntervalSecs'))).toBe('0');
    expect(state.get(Keys.readyFlag())).toBe(true);
  });

  it('has the seed pods with the lab labels, and the profiles they name', () => {
    const wep = [...state].find(([k]) => k.includes('/workload/k8s/frontend%2Ffrontend/'))![1] as Obj;
    expect(wep).toMatchObject({
      state: 'active',
      profileIds: ['kns.frontend', 'ksa.frontend.default'],
      ports: [{ name: 'http', protocol: 'tcp', port: 80 }],
      ipv6Nets: [],
      labels: {
        app: 'frontend',
        tier: 'web',
        'projectcalico.org/namespace': 'frontend',
        'projectcalico.org/orchestrator': 'k8s',
        'projectcalico.org/serviceaccount': 'default',
      },
    });
    expect(wep['name']).toMatch(/^cali[0-9a-f]{11}$/);
    expect(wep).not.toHaveProperty('mac'); // Calico's Kubernetes datastore never knows it
    expect(state.get(Keys.profile('kns.finance'))).toMatchObject({
      labels: { 'pcns.projectcalico.org/name': 'finance', 'pcns.team': 'finance' },
    });
  });

  it('has the platform services, a Local LoadBalancer among them', () => {
    expect(state.get(Keys.service('ingress-nginx', 'ingress-nginx-controller'))).toMatchObject({
      type: 'LoadBalancer',
      loadBalancerIPs: ['192.168.200.10'],
      externalTrafficPolicy: 'Local',
    });
    expect(state.get(Keys.service('monitoring', 'grafana'))).toMatchObject({
      externalIPs: ['192.168.100.10'],
    });
    const slices = byKind(state, 'endpointSlice').map(([, v]) => v);
    const dns = slices.find((s) => s['serviceName'] === 'kube-dns')!;
    expect(dns['endpoints']).toHaveLength(2);
    for (const e of dns['endpoints'] as Obj[]) {
      const ip = (e['addresses'] as string[])[0]!;
      const wep = byKind(state, 'workloadEndpoint').find(
        ([, w]) => (w['ipv4Nets'] as string[])[0] === `${ip}/32`,
      );
      expect(wep?.[0]).toContain(`/host/${e['nodeName']}/workload/k8s/kube-system%2Fcoredns-`);
    }
  });
});

describe('ChurnGenerator', () => {
  it('is deterministic', () => {
    expect(new ChurnGenerator(SMALL).next(500)).toEqual(new ChurnGenerator(SMALL).next(500));
    expect(new ChurnGenerator({ ...SMALL, seed: 9 }).next(50)).not.toEqual(
      new ChurnGenerator(SMALL).next(50),
    );
  });

  it('keeps objects and KVs consistent over 5000 events, mostly pod churn', () => {
    const initial = generateObjects(SMALL);
    const frozen = JSON.stringify(initial);
    const { state, objects, feed } = objectState(initial);
    const churn = new ChurnGenerator(SMALL);
    const emitted: [ObjectEvent[], string][] = [];
    for (let i = 0; i < 5; i++) {
      const events = churn.next(1000);
      emitted.push([events, JSON.stringify(events)]);
      feed(events);
      const { weps } = checkInvariants(state);
      expect(checkObjectInvariants(objects.values())).toBe(weps);
      expect(weps).toBeGreaterThan(SMALL.pods * 0.8);
      expect(weps).toBeLessThan(SMALL.pods * 1.2);
    }
    const c = churn.counts;
    expect(Object.values(c).reduce((a, b) => a + b, 0)).toBe(5000);
    expect(c['pod-create'] + c['pod-delete']).toBeGreaterThan(3000);
    expect(c['policy-update']).toBeGreaterThan(0);
    expect(c['node-label']).toBeGreaterThan(0);
    // Objects already emitted are never mutated by later churn.
    expect(JSON.stringify(initial)).toBe(frozen);
    for (const [events, json] of emitted) expect(JSON.stringify(events)).toBe(json);
    // The same objects, converted afresh, give the state the sink built incrementally.
    expect(toMap([...objects.values()].flatMap(convertObject))).toEqual(state);
    // Seed pods are never deleted.
    for (const pod of ['frontend%2Ffrontend', 'backend%2Fapi', 'database%2Fdb']) {
      expect([...state.keys()].some((k) => k.includes(`/workload/k8s/${pod}/`))).toBe(true);
    }
  });
});

describe('SimulatedCluster', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const recorder = () => {
    const events: ({ status: SyncStatus } | { kvs: readonly KV[] })[] = [];
    return {
      events,
      sink: {
        onUpdates: (kvs: readonly KV[]) => events.push({ kvs }),
        onStatus: (status: SyncStatus) => events.push({ status }),
      },
    };
  };
  const opts = { ...SMALL, initialBatchSize: 100, churnPerSec: 20, churnTickMs: 100 };

  it('reports wait, resync, the objects in pages, in-sync, then churns until stopped', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const sim = new SimulatedCluster(opts);
    const { events, sink } = recorder();
    await sim.start(sink);
    const statuses = events.flatMap((e) => ('status' in e ? [e.status] : []));
    expect(statuses).toEqual(['wait-for-datastore', 'resync', 'in-sync']);
    expect(events[0]).toEqual({ status: 'wait-for-datastore' });
    expect(events[1]).toEqual({ status: 'resync' });
    const batches = events.slice(2, -1).map((e) => ('kvs' in e ? e.kvs : []));
    const objects = generateObjects(opts);
    expect(batches).toHaveLength(Math.ceil(objects.length / 100));
    expect(batches.every((b) => b.length > 0)).toBe(true);
    expect(batches.flat()).toEqual(generateInitialState(opts));
    expect(sim.health().conversionErrors.size).toBe(0);

    const before = events.length;
    vi.advanceTimersByTime(1000);
    const churned = events.slice(before).map((e) => ('kvs' in e ? e.kvs : []));
    expect(churned).toHaveLength(10);
    // The same events through a fresh sink give the same KVs.
    const reference = new ChurnGenerator(opts);
    const expected: KV[][] = [];
    const ref = new ObjectSink(
      { onUpdates: (kvs) => expected.push([...kvs]), onStatus: () => {} },
      convertObject,
      silentLogger,
    );
    ref.apply(objects.map((object) => ({ type: 'ADDED', object })));
    expected.length = 0;
    for (let i = 0; i < 10; i++) ref.apply(reference.next(2));
    expect(churned).toEqual(expected);

    await sim.stop();
    expect(vi.getTimerCount()).toBe(0);
    const after = events.length;
    vi.advanceTimersByTime(1000);
    expect(events.length).toBe(after);
  });

  it('starts no timer without churn, and stops cleanly in the middle of the initial state', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const quiet = new SimulatedCluster({ ...opts, churnPerSec: 0 });
    await quiet.start(recorder().sink);
    expect(vi.getTimerCount()).toBe(0);
    await quiet.stop();

    const sim = new SimulatedCluster(opts);
    const { events, sink } = recorder();
    const started = sim.start(sink);
    await sim.stop();
    await started;
    expect(events.some((e) => 'status' in e && e.status === 'in-sync')).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    await expect(sim.start(sink)).rejects.toThrow(/cannot start/);
  });
});
