// confd's BGP edge cases, each as its own small case (written for Tabby, checked against the
// semantics of confd's golden tests): implicitly confirmed affinities, an empty service CIDR
// entry, a /32 block, per-Service /32 advertisement.

import { describe, expect, it } from 'vitest';
import { type BgpModel, computeBgp } from '../../src/agent/calc/routing/bgp.js';
import type { RoutingState } from '../../src/agent/calc/routing/state.js';
import { renderBirdConfig } from '../../src/agent/dataplane/bird/render.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { affinity, bgpConfig, node, pool, stateOf } from './bgp-fixtures.js';

function model(state: RoutingState, name: string): BgpModel {
  const m = computeBgp(state, name);
  if (!m.available) throw new Error(m.message);
  return m;
}

const nodes = [node('n1', '10.0.0.1'), node('n2', '10.0.0.2')];

describe('block affinities', () => {
  it('state "" is confirmed (confd: older clusters have them): blackholed and aggregated', () => {
    const s = stateOf([
      ...nodes,
      pool('p', '192.168.0.0/16'),
      affinity('n1', '192.168.1.0/26', ''),
      affinity('n1', '192.168.2.0/26', 'confirmed'),
      affinity('n1', '192.168.3.0/26', 'pending'),
    ]);
    expect(model(s, 'n1').exports.blocks).toEqual(['192.168.1.0/26', '192.168.2.0/26']);
    const text = renderBirdConfig(model(s, 'n1'));
    expect(text).toContain('route 192.168.1.0/26 blackhole;');
    expect(text).toContain('if ( net = 192.168.1.0/26 ) then { accept; }');
    expect(text).not.toContain('192.168.3.0/26');
  });

  it('a /32 block is aggregated but never blackholed (confd bird_aggr.cfg), inside a pool or not', () => {
    const s = stateOf([
      ...nodes,
      pool('p', '192.168.0.0/16'),
      affinity('n1', '10.2.0.1/32'),
      affinity('n1', '192.168.9.9/32'),
      affinity('n1', '192.168.1.0/26'),
    ]);
    const text = renderBirdConfig(model(s, 'n1'));
    for (const c of ['10.2.0.1/32', '192.168.9.9/32']) {
      expect(text).toContain(`if ( net = ${c} ) then { accept; }`);
      expect(text).not.toContain(`route ${c} blackhole;`);
    }
    expect(text).toContain('route 192.168.1.0/26 blackhole;');
  });
});

describe('BGPConfiguration service CIDR lists', () => {
  const config = bgpConfig('default', {
    serviceClusterIPs: [{ cidr: '10.101.0.0/16' }, {}, { cidr: 'fd00:96::/112' }],
    serviceLoadBalancerIPs: [{ cidr: '80.15.0.0/24' }, { cidr: '' }],
  });

  it('an empty entry is ignored; the rest of the configuration applies', () => {
    expect(convertObject(config)).toHaveLength(1);
    const m = model(stateOf([...nodes, config]), 'n1');
    expect(m.exports.serviceRoutes).toEqual(['10.101.0.0/16', '80.15.0.0/24']);
  });

  it('a CIDR that does not parse still rejects the object', () => {
    expect(() =>
      convertObject(bgpConfig('default', { serviceClusterIPs: [{ cidr: '10.101.0.0/33' }] })),
    ).toThrow('spec.serviceClusterIPs[0].cidr: invalid CIDR "10.101.0.0/33"');
  });
});
