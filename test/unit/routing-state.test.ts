import { describe, expect, it } from 'vitest';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { Keys } from '../../src/model/keys.js';
import { generateInitialState } from '../../src/testing/sim/index.js';

describe('RoutingState', () => {
  const kvs = generateInitialState({ nodes: 20, pods: 600, borrowRate: 0.05 });
  const state = new RoutingState();
  const update = state.apply(kvs);

  it('reads every node, pool, block and affinity of the simulated cluster', () => {
    expect(update.invalid).toEqual([]);
    expect(state.nodes.size).toBe(kvs.filter((kv) => kv.key.startsWith(Keys.node(''))).length);
    expect(state.pools.size).toBeGreaterThan(0);
    expect(state.blocks.size).toBeGreaterThan(0);
    for (const n of state.nodes.values()) {
      expect(n.ipv4).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(n.bgpEnabled).toBe(true);
    }
    // Every block the IPAM lists as affine to a node has that node's confirmed affinity.
    for (const b of state.blocks.values())
      if (b.node) expect(state.confirmedBlocks(b.node)).toContain(b.cidr);
  });

  it('finds borrowed addresses inside the lending block and outside the borrower’s own blocks', () => {
    const borrowed = [...state.blocks.values()].flatMap((b) => b.borrowed.map((x) => ({ ...x, block: b })));
    expect(borrowed.length).toBeGreaterThan(0);
    for (const { ip, node, block } of borrowed) {
      expect(node).not.toBe(block.node);
      expect(ip.split('.').slice(0, 3).join('.')).toBe(block.cidr.split('.').slice(0, 3).join('.'));
    }
  });

  it('reports what changed and forgets deletions', () => {
    const [name] = state.nodes.keys();
    const u = state.apply([{ key: Keys.node(name!), value: null }]);
    expect([...u.changed]).toEqual(['nodes']);
    expect(state.nodes.has(name!)).toBe(false);
    expect(state.apply([{ key: Keys.node(name!), value: null }]).changed.size).toBe(0);
  });

  it('treats an unparseable value as deleted and names its key', () => {
    const key = Keys.ipPool('10.99.0.0/16');
    const u = state.apply([{ key, value: { cidr: 'not-a-cidr', blockSize: 26 } }]);
    expect(u.invalid).toEqual([key]);
    expect(state.pools.has('10.99.0.0-16')).toBe(false);
  });

  it('layers host Felix config over global', () => {
    state.apply([
      { key: Keys.globalConfig('WireguardListeningPort'), value: '51820' },
      { key: Keys.hostConfig('n1', 'WireguardListeningPort'), value: '51999' },
    ]);
    expect(state.config('WireguardListeningPort', 'n1')).toBe('51999');
    expect(state.config('WireguardListeningPort', 'n2')).toBe('51820');
  });
});
