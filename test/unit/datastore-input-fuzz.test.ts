// Generated invalid objects of every watched kind through the real conversion path
// (convertObject inside the ObjectSink that the kubernetes, file and simulated datastores
// share): a valid object of each kind has one field anywhere in it — selectors, CIDRs,
// ports, ASNs, IPs, labels, names — replaced by a hostile value (wrong type, bad syntax, out
// of range, NaN from YAML, deep, huge). Each result is either accepted or rejected with a
// ConversionError naming the object; a rejection is counted per kind, the other objects of
// the batch still sync, and a later valid version of the same object is accepted.

import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConversionError, convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { ObjectSink } from '../../src/datastore/kube/object-sink.js';
import { silentLogger } from '../../src/model/logger.js';
import type { KV } from '../../src/model/types.js';
import { nested } from './hostile-values.js';

const CRD = 'crd.projectcalico.org/v1';
const crd = (kind: string, name: string, spec: object, meta: object = {}): KubeObject => ({
  apiVersion: CRD,
  kind,
  metadata: { name, ...meta },
  spec,
});

/** Kinds the fixtures lack, written as the API server would hold them. */
const HANDWRITTEN: KubeObject[] = [
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'prod' },
    spec: {
      type: 'LoadBalancer',
      clusterIP: '10.96.5.5',
      clusterIPs: ['10.96.5.5'],
      externalIPs: ['192.168.100.7'],
      ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }],
    },
    status: { loadBalancer: { ingress: [{ ip: '192.168.200.7' }] } },
  } as KubeObject,
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-abcde', namespace: 'prod', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.244.1.5'], conditions: { ready: true }, nodeName: 'node-1' }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  } as KubeObject,
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'allow-web', namespace: 'prod' },
    spec: {
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }, { namespaceSelector: {} }],
          ports: [{ protocol: 'TCP', port: 80, endPort: 90 }],
        },
      ],
      egress: [
        { to: [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['b'] }] } }] },
      ],
    },
  } as KubeObject,
  crd(
    'NetworkSet',
    'ns1',
    { nets: ['10.0.0.0/8', 'fd00::/64'] },
    { namespace: 'prod', labels: { role: 'db' } },
  ),
  crd('GlobalNetworkSet', 'gns1', { nets: ['192.0.2.0/24'] }, { labels: { role: 'ext' } }),
  crd('IPAMBlock', '10-245-0-0-30', {
    cidr: '10.245.0.0/30',
    affinity: 'host:n1',
    allocations: [0, null, null, null],
    unallocated: [1, 2, 3],
    attributes: [{ handle_id: 'k8s-pod-network.abc', secondary: { node: 'n1' } }],
    deleted: false,
    strictAffinity: false,
  }),
  crd('BlockAffinity', 'n1-10-245-0-0-30', {
    node: 'n1',
    cidr: '10.245.0.0/30',
    state: 'confirmed',
    deleted: 'false',
  }),
  crd('BGPFilter', 'f1', {
    exportV4: [
      { action: 'Accept', matchOperator: 'In', cidr: '10.0.0.0/8', prefixLength: { min: 16, max: 24 } },
    ],
    importV6: [{ action: 'Reject', matchOperator: 'NotIn', cidr: 'fd00::/8' }],
  }),
  crd('ClusterInformation', 'default', {
    clusterGUID: 'abc',
    datastoreReady: true,
    calicoVersion: 'v3.28.0',
  }),
  crd(
    'HostEndpoint',
    'hep1',
    {
      node: 'n1',
      interfaceName: 'eth0',
      expectedIPs: ['192.0.2.10'],
      ports: [{ name: 'ssh', port: 22, protocol: 'TCP' }],
    },
    { labels: { role: 'host' } },
  ),
];

/** One valid object of every kind the fixtures and the list above have, keyed by kind. */
function bases(): KubeObject[] {
  const dirs = ['seeds', 'calc', 'lint'].map((d) => new URL(`../fixtures/${d}/`, import.meta.url));
  const fromFiles = dirs.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) =>
        parseAllDocuments(readFileSync(new URL(f, dir), 'utf8'), { uniqueKeys: false }).map(
          (d) => d.toJS() as KubeObject,
        ),
      ),
  );
  const byKind = new Map<string, KubeObject>();
  for (const obj of [...HANDWRITTEN, ...fromFiles]) {
    const kind = `${obj?.apiVersion}/${obj?.kind}`;
    if (byKind.has(kind) || !obj?.metadata?.name) continue;
    try {
      if (convertObject(obj).length > 0) byKind.set(kind, obj);
    } catch {
      // an invalid fixture (some are on purpose): not a base
    }
  }
  return [...byKind.values()];
}
const BASES = bases();

/** Every path into an object: [] is the object, ['spec', 'ports', 0] one field. */
function paths(v: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(at);
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) paths(v[i], [...at, i], out);
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v))
      if (!(at.length === 1 && at[0] === 'metadata' && k === 'name')) paths(x, [...at, k], out);
  return out;
}

function withValue(obj: KubeObject, path: Array<string | number>, value: unknown): KubeObject {
  const copy = structuredClone(obj) as unknown as Record<string, unknown>;
  let o: Record<string | number, unknown> = copy;
  for (const p of path.slice(0, -1)) o = o[p] as Record<string | number, unknown>;
  o[path.at(-1)!] = value;
  return copy as unknown as KubeObject;
}

/** What a broken client, an old CRD or a YAML file can put in any field. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    1.5,
    65_536,
    4_294_967_296,
    2 ** 53,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    ' ',
    'x',
    '10.0.0.0/33',
    '300.1.2.3',
    '1.2.3',
    '::g',
    'fd00::/129',
    '10.0.0.1/8',
    '(( has(',
    "a == 'b",
    'all() &&',
    '!!',
    'a in {',
    '70000',
    '1:0',
    '80:70',
    'tcp',
    'ASN',
    '4294967296',
    '-5',
    'a'.repeat(70_000),
    'bad label/value!',
    [],
    {},
    [null],
    { '': 1 },
    [{}],
    { key: 'a', operator: 'Bogus', values: 7 },
  ),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 60, max: 120 }).map((d) => nested(d)),
);

/** A base object with one field replaced, and the object's name for the messages. */
const invalidish = fc
  .constantFrom(...BASES)
  .chain((base) =>
    fc.tuple(fc.constant(base), fc.constantFrom(...paths(base).filter((p) => p.length > 0)), hostile),
  )
  .map(([base, path, value]) => ({ base, path, obj: withValue(base, path, value) }));

/** "<Kind> <namespace>/<name>: " as ConversionError writes it ('?' for what the object lacks). */
function prefixOf(o: KubeObject): string {
  const m = o.metadata as Partial<KubeObject['metadata']> | null;
  const ns = typeof m?.namespace === 'string' && m.namespace !== '' ? `${m.namespace}/` : '';
  const name = typeof m?.name === 'string' && m.name !== '' ? m.name : '?';
  return `${typeof o.kind === 'string' ? o.kind : '?'} ${ns}${name}: `;
}
/** Fields that say which object this is: the sink tells objects apart by them (the API server always sets them). */
const IDENTITY = new Set(['apiVersion', 'kind', 'metadata', 'metadata.namespace']);

describe('datastore input: generated invalid objects of every kind', () => {
  it('covers every kind Tabby converts', () => {
    const kinds = new Set(BASES.map((o) => o.kind));
    for (const k of [
      'Pod',
      'Namespace',
      'ServiceAccount',
      'Node',
      'Service',
      'EndpointSlice',
      'NetworkPolicy',
      'GlobalNetworkPolicy',
      'Tier',
      'NetworkSet',
      'GlobalNetworkSet',
      'HostEndpoint',
      'IPPool',
      'IPReservation',
      'IPAMBlock',
      'BlockAffinity',
      'BGPConfiguration',
      'BGPPeer',
      'BGPFilter',
      'FelixConfiguration',
      'ClusterInformation',
    ])
      expect(kinds, k).toContain(k);
  });

  it('each is accepted or rejected with a ConversionError naming it, never another error', () => {
    fc.assert(
      fc.property(invalidish, ({ obj, path }) => {
        let kvs: KV[];
        try {
          kvs = convertObject(obj);
        } catch (err) {
          if (!(err instanceof ConversionError))
            throw new Error(`${prefixOf(obj)}${path.join('.')}: ${String(err)} (not a ConversionError)`, {
              cause: err,
            });
          expect(err.message.startsWith(prefixOf(obj))).toBe(true);
          return;
        }
        // Accepted: plain JSON values only (what the state hash and the wire need).
        for (const kv of kvs) expect(JSON.parse(JSON.stringify(kv.value))).toEqual(kv.value);
      }),
      { numRuns: Number(process.env['TABBY_FUZZ_DATASTORE_RUNS'] ?? 3_000), seed: 14 },
    );
  });

  // Fields with a known syntax or range: an invalid value is never let through as data.
  const MUST_REJECT: Array<[string, string, unknown[]]> = [
    ['projectcalico.org/v3/IPPool', 'spec.cidr', ['10.0.0.0/33', '300.1.2.3/8', 'x', 5, '']],
    ['projectcalico.org/v3/IPPool', 'spec.blockSize', [33, -1, 'big', 1.5, Number.NaN]],
    ['projectcalico.org/v3/IPPool', 'spec.nodeSelector', ['(( has(', 5, "a == 'b"]],
    ['projectcalico.org/v3/IPReservation', 'spec.reservedCIDRs.0', ['10.0.0.0/33', 'x', 7]],
    ['projectcalico.org/v3/BGPConfiguration', 'spec.asNumber', [-1, 4_294_967_296, 'x', 1.5, Number.NaN]],
    ['projectcalico.org/v3/BGPPeer', 'spec.nodeSelector', ['(( has(', 5]],
    ['projectcalico.org/v3/BGPPeer', 'spec.peerSelector', ['!!', [], {}]],
    ['projectcalico.org/v3/GlobalNetworkPolicy', 'spec.selector', ['(( has(', 5]],
    [
      'projectcalico.org/v3/GlobalNetworkPolicy',
      'spec.egress.0.destination.nets.0',
      ['1.2.3', '10.0.0.0/33', 5],
    ],
    ['projectcalico.org/v3/GlobalNetworkPolicy', 'spec.egress.0.action', ['Bogus', 5]],
    ['projectcalico.org/v3/GlobalNetworkPolicy', 'spec.order', ['x', Number.NaN, Number.POSITIVE_INFINITY]],
    ['projectcalico.org/v3/NetworkPolicy', 'spec.selector', ['(( has(', 5]],
    ['networking.k8s.io/v1/NetworkPolicy', 'spec.ingress.0.ports.0.port', [70_000, -1, 1.5, '']],
    ['networking.k8s.io/v1/NetworkPolicy', 'spec.ingress.0.from.0.ipBlock.cidr', ['x', '10.0.0.0/33', 5]],
    ['crd.projectcalico.org/v1/NetworkSet', 'spec.nets.0', ['x', '10.0.0.0/33', 5]],
    ['crd.projectcalico.org/v1/HostEndpoint', 'spec.expectedIPs.0', ['300.1.1.1', 'x', 5]],
    ['crd.projectcalico.org/v1/HostEndpoint', 'spec.ports.0.port', [70_000, -1, 'x', 1.5]],
    ['v1/Service', 'spec.ports.0.port', [70_000, -1, 'x', 1.5, 0]],
    ['discovery.k8s.io/v1/EndpointSlice', 'endpoints.0.addresses.0', ['x', '300.1.1.1', 5]],
    ['discovery.k8s.io/v1/EndpointSlice', 'ports.0.port', [70_000, -1, 'x', 1.5]],
    ['crd.projectcalico.org/v1/BGPFilter', 'spec.exportV4.0.cidr', ['10.0.0.0/33', 'fd00::/8', 5]],
    ['crd.projectcalico.org/v1/IPAMBlock', 'spec.cidr', ['x', '10.0.0.0/33']],
    ['crd.projectcalico.org/v1/BlockAffinity', 'spec.cidr', ['x', '10.0.0.0/33']],
    // (A number or boolean label value is the string calicoctl reads from it: api-defaults.ts.)
    [
      'v1/Pod',
      'metadata.labels',
      ['app', [1], { app: null }, { app: {} }, { 'bad key!': 'v' }, { app: 'bad value!' }],
    ],
    ['projectcalico.org/v3/Tier', 'spec.order', ['x', Number.NaN]],
  ];
  for (const [type, field, values] of MUST_REJECT)
    it(`${type} ${field}: ${values.map((v) => JSON.stringify(v)?.slice(0, 12) ?? String(v)).join(', ')} → rejected by name`, () => {
      const base = BASES.find((o) => `${o.apiVersion}/${o.kind}` === type);
      expect(base, type).toBeDefined();
      const path = field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      const accepted: unknown[] = [];
      for (const v of values) {
        try {
          convertObject(withValue(base!, path, v));
          accepted.push(v);
        } catch (err) {
          expect(err).toBeInstanceOf(ConversionError);
          expect((err as Error).message.startsWith(prefixOf(base!))).toBe(true);
        }
      }
      expect(accepted).toEqual([]);
    });

  it('an AS number written as a YAML float is rejected, not read as asdot (1.10 is not AS 1.10 = 65546)', () => {
    // Found by the table above: the number 1.5 became "1.5", asdot for 65541. calicoctl's
    // ASNumber takes a JSON number only as a uint32, so YAML `asNumber: 1.10` (the float 1.1)
    // is an error there, not AS 65537.
    const [doc] = parseAllDocuments(
      'apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {asNumber: 1.10}\n',
    );
    expect(() => convertObject(doc!.toJS() as KubeObject)).toThrow(
      'BGPConfiguration default: spec.asNumber: invalid AS number 1.1',
    );
    expect(
      convertObject(withValue(doc!.toJS() as KubeObject, ['spec', 'asNumber'], '1.10'))[0]!.value,
    ).toMatchObject({ spec: { asNumber: 65546 } });
  });

  it('a rejected object is counted by kind, the rest of its batch syncs, and its next valid version is accepted', () => {
    fc.assert(
      fc.property(invalidish, fc.constantFrom(...BASES), ({ base, obj, path }, other) => {
        fc.pre(!IDENTITY.has(path.join('.')));
        let rejected = false;
        try {
          convertObject(obj);
        } catch {
          rejected = true;
        }
        fc.pre(rejected && `${other.kind}/${other.metadata.name}` !== `${base.kind}/${base.metadata.name}`);
        const out: KV[] = [];
        const sink = new ObjectSink(
          { onUpdates: (kvs: readonly KV[]) => out.push(...kvs), onStatus() {} } as never,
          convertObject,
          silentLogger,
        );
        sink.apply([
          { type: 'ADDED', object: other },
          { type: 'ADDED', object: { ...obj, metadata: { ...obj.metadata, resourceVersion: '1' } } },
        ]);
        expect(sink.conversionErrors.get(obj.kind)).toBe(1);
        expect(sink.rejected.size).toBe(1);
        for (const kv of convertObject(other)) expect(out).toContainEqual(kv);
        // The same object fixed: accepted, its keys synced, no longer counted as rejected.
        out.length = 0;
        sink.apply([
          { type: 'MODIFIED', object: { ...base, metadata: { ...base.metadata, resourceVersion: '2' } } },
        ]);
        expect(sink.rejected.size).toBe(0);
        for (const kv of convertObject(base)) expect(out).toContainEqual(kv);
      }),
      { numRuns: 300, seed: 15 },
    );
  });
});
