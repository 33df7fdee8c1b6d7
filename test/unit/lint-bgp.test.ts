import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertObject } from '../../src/datastore/convert/index.js';
import { parseManifests } from '../../src/datastore/kube/manifests.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { type Finding, lint } from '../../src/lint/index.js';
import type { KV } from '../../src/model/types.js';

const FIX = new URL('../fixtures/lint/', import.meta.url).pathname;
const kvsOf = (objs: readonly KubeObject[]): KV[] => objs.flatMap((o) => convertObject(o));
const load = (...files: string[]): KV[] =>
  files.flatMap((f) => {
    const { objects, errors } = parseManifests(readFileSync(FIX + f, 'utf8'), f);
    expect(errors).toEqual([]);
    return kvsOf(objects);
  });
const v3 = (kind: string, name: string, spec: unknown, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'projectcalico.org/v3',
  kind,
  metadata: { name, ...(labels ? { labels } : {}) },
  spec,
});
const node = (name: string, bgp: Record<string, unknown>, labels?: Record<string, string>) =>
  v3('Node', name, { bgp }, labels);
const peer = (name: string, spec: Record<string, unknown>) => v3('BGPPeer', name, spec);
const byRule = (fs: readonly Finding[], rule: string) => fs.filter((f) => f.rule === rule);

describe('bgp-peer-asn-mismatch: the $180,000 incident (seeds)', () => {
  it('reports the new rack 7 peer with the wrong ASN, by name, as an error', () => {
    const findings = lint(load('incident/cluster.yaml', 'incident/new-peer.yaml'));
    const asn = byRule(findings, 'bgp-peer-asn-mismatch');
    expect(asn).toHaveLength(1);
    expect(asn[0]).toMatchObject({
      severity: 'error',
      resource: 'BGPPeer/rack7-tor-worker-7-03',
      related: ['BGPPeer/rack7-tor-worker-7-01', 'BGPPeer/rack7-tor-worker-7-02'],
    });
    expect(asn[0]!.message).toContain('expects AS 64512 at 10.0.7.1');
    expect(asn[0]!.message).toContain('AS 64513');
    expect(asn[0]!.fix).toContain('64513');
  });

  it('reports nothing once the ASN is fixed', () => {
    expect(lint(load('incident-fixed/cluster.yaml', 'incident-fixed/new-peer.yaml'))).toEqual([]);
  });

  it('a 1:1 disagreement reports both peers (the data cannot tell which is right)', () => {
    const findings = lint(
      kvsOf([
        peer('a', { peerIP: '10.0.7.1', asNumber: 64512 }),
        peer('b', { peerIP: '10.0.7.1:179', asNumber: 64513 }),
        peer('other-port', { peerIP: '10.0.7.1:1790', asNumber: 65000 }),
      ]),
    );
    expect(byRule(findings, 'bgp-peer-asn-mismatch').map((f) => f.resource)).toEqual([
      'BGPPeer/a',
      'BGPPeer/b',
    ]);
  });
});

describe('bgp-peer-asn-mismatch: target is a Calico node', () => {
  it("checks the node's own ASN (seeds' worker-rack2-01 is AS 64513) and the cluster default", () => {
    const findings = lint(load('node-asn.yaml'));
    const asn = byRule(findings, 'bgp-peer-asn-mismatch');
    expect(asn.map((f) => f.resource)).toEqual(['BGPPeer/to-rack2-wrong-asn']);
    expect(asn[0]!.related).toEqual(['Node/worker-rack2-01']);
    expect(asn[0]!.message).toContain('node worker-rack2-01, which uses AS 64513');
  });

  it('without an asNumber anywhere the node uses 64512', () => {
    const nodes = [node('n1', { ipv4Address: '10.1.0.1/24' })];
    expect(lint(kvsOf([...nodes, peer('p', { peerIP: '10.1.0.1', asNumber: 64512 })]))).toEqual([]);
    const bad = lint(kvsOf([...nodes, peer('p', { peerIP: '10.1.0.1', asNumber: 65001 })]));
    expect(bad.map((f) => f.rule)).toEqual(['bgp-peer-asn-mismatch']);
    expect(bad[0]!.message).toContain("Calico's default AS");
  });

  it('uses the default BGPConfiguration asNumber when the node has none', () => {
    const objs = [
      v3('BGPConfiguration', 'default', { asNumber: 65010 }),
      node('n1', { ipv4Address: '10.1.0.1/24' }),
      peer('p', { peerIP: '10.1.0.1', asNumber: 64512 }),
    ];
    const f = lint(kvsOf(objs));
    expect(f.map((x) => x.resource)).toEqual(['BGPPeer/p']);
    expect(f[0]!.message).toContain('uses AS 65010 (the default BGPConfiguration asNumber)');
  });

  it('accepts the AS a BGPPeer on the target node presents through localASNumber', () => {
    const objs = [
      node('n1', { ipv4Address: '10.1.0.1/24' }, { role: 'edge' }),
      peer('local', {
        nodeSelector: 'role == "edge"',
        peerIP: '10.9.9.9',
        asNumber: 65100,
        localASNumber: 65005,
      }),
      peer('p', { peerIP: '10.1.0.1', asNumber: 65005 }),
    ];
    expect(byRule(lint(kvsOf(objs)), 'bgp-peer-asn-mismatch')).toEqual([]);
  });

  it("peerSelector peerings (the seeds' route-reflector peers) are never flagged", () => {
    expect(lint(load('node-asn.yaml')).some((f) => f.resource === 'BGPPeer/peer-to-rr')).toBe(false);
  });

  it('matches IPv6 node addresses and bracketed peerIPs', () => {
    const objs = [
      node('v6', { ipv6Address: 'fd00::10/64', asNumber: 65020 }),
      peer('p6', { peerIP: '[fd00::10]:179', asNumber: 65021 }),
    ];
    expect(lint(kvsOf(objs)).map((f) => f.resource)).toEqual(['BGPPeer/p6']);
  });
});

describe('bgp-peer-self', () => {
  it("flags a peer for one node at that node's own address, not a global peer to it", () => {
    const self = byRule(lint(load('node-asn.yaml')), 'bgp-peer-self');
    expect(self.map((f) => f.resource)).toEqual(['BGPPeer/rack1-self']);
    const global = lint(
      kvsOf([
        node('rr', { ipv4Address: '10.1.0.1/24' }),
        peer('to-rr', { peerIP: '10.1.0.1', asNumber: 64512 }),
      ]),
    );
    expect(global).toEqual([]);
  });
});

describe('full-mesh-too-large', () => {
  const nodes = (n: number) =>
    Array.from({ length: n }, (_, i) => node(`n${i}`, { ipv4Address: `10.2.${i >> 8}.${i & 255}/16` }));

  it('warns above 100 BGP nodes with the mesh on by default, with sessions per node', () => {
    expect(byRule(lint(kvsOf(nodes(100))), 'full-mesh-too-large')).toEqual([]);
    const f = byRule(lint(kvsOf(nodes(101))), 'full-mesh-too-large');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ severity: 'warning', resource: 'BGPConfiguration/default' });
    expect(f[0]!.message).toContain('101 BGP nodes: every node holds 100 BGP sessions, 5,050 in the cluster');
    expect(f[0]!.fix).toContain('route reflectors');
  });

  it('is silent with the mesh off, and the threshold is configurable', () => {
    const off = [...nodes(120), v3('BGPConfiguration', 'default', { nodeToNodeMeshEnabled: false })];
    expect(byRule(lint(kvsOf(off)), 'full-mesh-too-large')).toEqual([]);
    expect(byRule(lint(kvsOf(nodes(11)), { maxMeshNodes: 10 }), 'full-mesh-too-large')).toHaveLength(1);
  });

  it('counts only nodes that run BGP', () => {
    const plain: KubeObject[] = Array.from({ length: 150 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: `k${i}` },
      status: { addresses: [{ type: 'InternalIP', address: `10.3.0.${i}` }] },
    }));
    expect(byRule(lint(kvsOf(plain)), 'full-mesh-too-large')).toEqual([]);
  });
});

describe('bgp-peer-filter-missing', () => {
  const filter = v3('BGPFilter', 'only-pods', {
    exportV4: [{ action: 'Accept', matchOperator: 'In', cidr: '10.244.0.0/16' }],
  });
  const tor = peer('tor', {
    peerIP: '192.0.2.1',
    asNumber: 65001,
    filters: ['only-pods', 'no-such', 'no-such'],
  });

  it('reports a BGPPeer naming a BGPFilter that does not exist (confd skips it: the session runs unfiltered)', () => {
    const found = byRule(lint(kvsOf([filter, tor])), 'bgp-peer-filter-missing');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      severity: 'error',
      resource: 'BGPPeer/tor',
      related: ['BGPFilter/no-such'],
    });
    expect(found[0]!.message).toContain('names BGPFilter no-such, which does not exist');
  });

  it('is quiet when every named filter exists, and clears when the filter appears', () => {
    expect(
      byRule(
        lint(kvsOf([filter, peer('tor', { peerIP: '192.0.2.1', asNumber: 65001, filters: ['only-pods'] })])),
        'bgp-peer-filter-missing',
      ),
    ).toEqual([]);
    const created = v3('BGPFilter', 'no-such', { importV4: [{ action: 'Reject' }] });
    expect(byRule(lint(kvsOf([filter, created, tor])), 'bgp-peer-filter-missing')).toEqual([]);
  });
});
