import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertObject } from '../../src/datastore/convert/index.js';
import { parseManifests } from '../../src/datastore/kube/manifests.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { type Finding, lint } from '../../src/lint/index.js';
import type { KV } from '../../src/model/types.js';

const FIX = new URL('../fixtures/lint/', import.meta.url).pathname;
const kvsOf = (objs: readonly KubeObject[]): KV[] => objs.flatMap((o) => convertObject(o));
const load = (f: string): KV[] => kvsOf(parseManifests(readFileSync(FIX + f, 'utf8'), f).objects);
const v3 = (kind: string, name: string, spec: unknown): KubeObject => ({
  apiVersion: 'projectcalico.org/v3',
  kind,
  metadata: { name },
  spec,
});
const pool = (name: string, cidr: string, extra: Record<string, unknown> = {}) =>
  v3('IPPool', name, { cidr, ...extra });
const byRule = (fs: readonly Finding[], rule: string) => fs.filter((f) => f.rule === rule);

describe('ippool-overlap', () => {
  it('names both enabled pools; a disabled pool overlapping is fine', () => {
    const f = byRule(lint(load('ippools.yaml')), 'ippool-overlap');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({
      severity: 'error',
      resource: 'IPPool/finance-pool',
      related: ['IPPool/default-pool'],
    });
    expect(f[0]!.message).toContain('finance-pool (10.244.128.0/24) and default-pool (10.244.0.0/16)');
  });

  it('disjoint pools and different families do not overlap', () => {
    const objs = [pool('a', '10.244.0.0/17'), pool('b', '10.244.128.0/17'), pool('v6', 'fd00::/48')];
    expect(lint(kvsOf(objs))).toEqual([]);
  });

  it('two pools with the same CIDR (one model key) are caught from the KV list', () => {
    const f = byRule(lint(kvsOf([pool('a', '10.50.0.0/16'), pool('b', '10.50.0.0/16')])), 'ippool-overlap');
    expect(f.map((x) => [x.resource, x.related[0]])).toEqual([['IPPool/b', 'IPPool/a']]);
    expect(f[0]!.message).toContain('same CIDR');
  });
});

describe('ippool-overlaps-network', () => {
  it("flags a pool in a node's subnet (spec.bgp.ipv4Address 10.0.1.5/24)", () => {
    const f = byRule(lint(load('ippools.yaml')), 'ippool-overlaps-network').filter(
      (x) => x.resource === 'IPPool/host-net-pool',
    );
    expect(f).toHaveLength(1);
    expect(f[0]!.related).toEqual(['Node/worker-01']);
    expect(f[0]!.message).toContain('10.0.1.0/24, the subnet of node worker-01');
  });

  it('flags a pool in BGPConfiguration serviceClusterIPs', () => {
    const f = byRule(lint(load('ippools.yaml')), 'ippool-overlaps-network').filter(
      (x) => x.resource === 'IPPool/service-range-pool',
    );
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toContain('10.96.0.0/12, the service cluster IP range');
  });

  it('flags a pool in the --service-cidr given as an option, not otherwise', () => {
    const objs = [pool('p', '10.96.0.0/16')];
    expect(lint(kvsOf(objs))).toEqual([]);
    const f = lint(kvsOf(objs), { serviceCidrs: ['10.96.0.0/12'] });
    expect(f.map((x) => [x.rule, x.resource])).toEqual([['ippool-overlaps-network', 'IPPool/p']]);
    expect(f[0]!.message).toContain('--service-cidr');
  });

  it('groups the nodes of one subnet into one finding, and checks bare InternalIPs', () => {
    const nodes: KubeObject[] = [1, 2, 3].map((i) =>
      v3('Node', `w${i}`, { bgp: { ipv4Address: `10.7.0.${i}/24` } }),
    );
    const k8s: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'plain' },
      status: { addresses: [{ type: 'InternalIP', address: '10.8.0.9' }] },
    };
    const f = lint(kvsOf([...nodes, k8s, pool('p', '10.7.0.0/16'), pool('q', '10.8.0.0/24')]));
    expect(f.map((x) => [x.resource, x.related])).toEqual([
      ['IPPool/p', ['Node/w1', 'Node/w2', 'Node/w3']],
      ['IPPool/q', ['Node/plain']],
    ]);
  });

  it('ignores disabled pools, and LoadBalancer pools in the node subnet', () => {
    const objs = [
      v3('Node', 'w', { bgp: { ipv4Address: '10.7.0.1/24' } }),
      pool('off', '10.7.0.0/24', { disabled: true }),
      pool('lb', '10.7.0.128/25', { allowedUses: ['LoadBalancer'] }),
    ];
    expect(lint(kvsOf(objs))).toEqual([]);
  });

  it('rejects a bad --service-cidr up front', () => {
    expect(() => lint([], { serviceCidrs: ['10.96.0.0/40'] })).toThrow(/invalid CIDR/);
  });
});

describe('seeds: IPAM section', () => {
  it("the seeds' pools (10.244.0.0/16 and finance 10.245.0.0/24) are clean", () => {
    const kvs = kvsOf(
      parseManifests(readFileSync(new URL('../fixtures/seeds/ipam.yaml', import.meta.url), 'utf8'), 'ipam')
        .objects,
    );
    expect(lint(kvs, { serviceCidrs: ['10.96.0.0/12'] })).toEqual([]);
  });
});
