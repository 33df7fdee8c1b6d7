import { describe, expect, it } from 'vitest';
import { Keys, keyKind, SYNCER_TABLE, syncersForKey } from '../../src/model/keys.js';
import { generateInitialState } from '../../src/testing/sim/index.js';

describe('keys and the syncer table', () => {
  it('every key builder produces a key of its own kind', () => {
    const samples: Array<[string, string]> = [
      [Keys.node('n/1'), 'node'],
      [Keys.workloadEndpoint('n1', 'ns', 'pod'), 'workloadEndpoint'],
      [Keys.hostEndpoint('n1', 'eth0'), 'hostEndpoint'],
      [Keys.hostConfig('n1', 'LogLevel'), 'hostConfig'],
      [Keys.globalConfig('LogLevel'), 'globalConfig'],
      [Keys.tier('security'), 'tier'],
      [Keys.policy('NetworkPolicy', 'ns', 'p'), 'policy'],
      [Keys.policy('GlobalNetworkPolicy', '', 'p'), 'policy'],
      [Keys.profile('kns.ns'), 'profile'],
      [Keys.networkSet('ns/set'), 'networkSet'],
      [Keys.ipPool('10.244.0.0/16'), 'ipPool'],
      [Keys.ipReservation('r'), 'ipReservation'],
      [Keys.ipamBlock('10.244.0.0/26'), 'ipamBlock'],
      [Keys.blockAffinity('n1', '10.244.0.0/26'), 'blockAffinity'],
      [Keys.bgpConfiguration('default'), 'bgpConfiguration'],
      [Keys.bgpPeer('rr'), 'bgpPeer'],
      [Keys.bgpFilter('only-pods'), 'bgpFilter'],
      [Keys.wireguard('n1'), 'wireguard'],
      [Keys.readyFlag(), 'readyFlag'],
      [Keys.service('ns', 'svc'), 'service'],
      [Keys.endpointSlice('ns', 'svc-abcde'), 'endpointSlice'],
      [Keys.ipPool('fd00:10::/48'), 'ipPool'],
      [Keys.ipamBlock('fd00:10::/122'), 'ipamBlock'],
      [Keys.blockAffinity('n1', 'fd00:10::/122'), 'blockAffinity'],
    ];
    for (const [key, kind] of samples) expect(keyKind(key), key).toBe(kind);
    expect(new Set(samples.map(([, k]) => k))).toEqual(new Set(Object.keys(SYNCER_TABLE)));
  });

  it('IPAM keys carry the address family, as Calico writes them', () => {
    expect(Keys.ipPool('10.244.0.0/16')).toBe('/calico/v1/ipam/v4/pool/10.244.0.0-16');
    expect(Keys.ipPool('fd00:10::/48')).toBe('/calico/v1/ipam/v6/pool/fd00:10::-48');
    expect(Keys.ipamBlock('fd00:10::/122')).toBe('/calico/ipam/v2/assignment/ipv6/block/fd00:10::-122');
    expect(Keys.blockAffinity('n1', '10.244.0.0/26')).toBe(
      '/calico/ipam/v2/host/n1/ipv4/block/10.244.0.0-26',
    );
  });

  it('names cannot forge path segments', () => {
    expect(Keys.workloadEndpoint('n1', 'ns', 'a/endpoint/x')).toBe(
      '/calico/v1/host/n1/workload/k8s/ns%2Fa%2Fendpoint%2Fx/endpoint/eth0',
    );
    expect(keyKind(Keys.tier('../profile/x'))).toBe('tier');
  });

  it('the BGP syncer never receives pods, and every simulated key has a syncer', () => {
    const kvs = generateInitialState({ nodes: 8, pods: 40 });
    for (const { key } of kvs) expect(syncersForKey(key).length, key).toBeGreaterThan(0);
    const bgp = kvs.filter((kv) => syncersForKey(kv.key).includes('bgp')).map((kv) => keyKind(kv.key));
    expect(new Set(bgp)).toEqual(
      new Set(['node', 'ipPool', 'bgpConfiguration', 'bgpPeer', 'blockAffinity', 'service', 'endpointSlice']),
    );
    const kinds = new Set(kvs.map((kv) => keyKind(kv.key)));
    // Every kind the simulation can produce is in the table (hostEndpoint, networkSet and bgpFilter it does not write).
    for (const kind of Object.keys(SYNCER_TABLE))
      if (!['hostEndpoint', 'networkSet', 'wireguard', 'hostConfig', 'bgpFilter'].includes(kind))
        expect(kinds.has(kind as never), kind).toBe(true);
  });
});
