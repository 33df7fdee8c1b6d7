// Objects read without an API server get the API server's defaults (and calicoctl's reading
// of unquoted label values) before conversion: the file datastore, explain --path and lint -f
// then see what a cluster would store.

import { describe, expect, it } from 'vitest';
import { computeBgp } from '../../src/agent/calc/routing/bgp.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { Keys } from '../../src/model/keys.js';
import { bgpConfig, bgpPeer, stateOf } from './bgp-fixtures.js';

const knp = (spec: object): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'np', namespace: 'prod' },
  spec,
});
const typesOf = (obj: KubeObject) => (convertObject(obj)[0]!.value as { types: string[] }).types;

describe('NetworkPolicy policyTypes default (SetDefaults_NetworkPolicy)', () => {
  it('egress rules without policyTypes: Ingress and Egress', () => {
    const egress = [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }];
    expect(typesOf(knp({ podSelector: {}, egress }))).toEqual(['ingress', 'egress']);
    expect(typesOf(knp({ podSelector: {}, egress, policyTypes: [] }))).toEqual(['ingress', 'egress']);
  });

  it('no egress rules: Ingress only; declared types are kept as declared', () => {
    expect(typesOf(knp({ podSelector: {} }))).toEqual(['ingress']);
    expect(typesOf(knp({ podSelector: {}, egress: [] }))).toEqual(['ingress']);
    expect(typesOf(knp({ podSelector: {}, egress: [{}], policyTypes: ['Ingress'] }))).toEqual(['ingress']);
    expect(typesOf(knp({ podSelector: {}, policyTypes: ['Egress'] }))).toEqual(['egress']);
  });
});

describe('Namespace kubernetes.io/metadata.name label', () => {
  const ns = (labels?: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'shop', ...(labels ? { labels } : {}) },
  });
  const labelsOf = (obj: KubeObject) =>
    (convertObject(obj)[0]!.value as { labels: Record<string, string> }).labels;

  it('is set on every namespace, so namespaceSelectors on it match', () => {
    expect(labelsOf(ns())['pcns.kubernetes.io/metadata.name']).toBe('shop');
    expect(labelsOf(ns({ team: 'a' }))).toMatchObject({
      'pcns.kubernetes.io/metadata.name': 'shop',
      'pcns.team': 'a',
    });
    // The API server owns it: a different value is overwritten with the name.
    expect(labelsOf(ns({ 'kubernetes.io/metadata.name': 'other' }))['pcns.kubernetes.io/metadata.name']).toBe(
      'shop',
    );
    expect(convertObject(ns())[0]!.key).toBe(Keys.profile('kns.shop'));
  });
});

describe('unquoted label values (calicoctl reads `routeReflector: true` as "true")', () => {
  // A reflector topology by label: clients peer with the reflector, which peers back.
  const calicoNode = (name: string, ip: string, labels: Record<string, unknown>, rr?: string): KubeObject =>
    ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'Node',
      metadata: { name, labels },
      spec: { bgp: { ipv4Address: `${ip}/24`, ...(rr ? { routeReflectorClusterID: rr } : {}) } },
    }) as unknown as KubeObject;

  it('a boolean label still selects the node: the reflector has its 2 sessions, each client 1', () => {
    const state = stateOf([
      calicoNode('rr1', '10.0.0.1', { routeReflector: true }, '224.0.0.1'),
      calicoNode('c1', '10.0.0.2', {}),
      calicoNode('c2', '10.0.0.3', {}),
      bgpConfig('default', { nodeToNodeMeshEnabled: false }),
      bgpPeer('to-rr', { nodeSelector: '!has(routeReflector)', peerSelector: "routeReflector == 'true'" }),
    ]);
    const sessions = (n: string) => {
      const m = computeBgp(state, n);
      if (!m.available) throw new Error(m.message);
      return m.peers.map((p) => p.ip);
    };
    expect(state.nodes.get('rr1')?.labels).toEqual({ routeReflector: 'true' });
    expect(sessions('rr1')).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(sessions('c1')).toEqual(['10.0.0.1']);
    expect(sessions('c2')).toEqual(['10.0.0.1']);
  });
});
