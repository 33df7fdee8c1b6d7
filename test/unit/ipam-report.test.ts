import { describe, expect, it } from 'vitest';
import { ipamReport } from '../../src/agent/calc/routing/ipam-report.js';
import { renderIpamReport } from '../../src/agent/calc/routing/ipam-report-text.js';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { buildCluster, generateInitialState } from '../../src/testing/sim/index.js';

describe('ipamReport', () => {
  const opts = { nodes: 12, pods: 400, borrowRate: 0.05 };
  const state = new RoutingState();
  state.apply(generateInitialState(opts));
  const report = ipamReport(state);
  // The simulator's own IPAM, built from the same seed and options: the ground truth.
  const sim = buildCluster(opts).ipam.blocks();

  it('counts per pool what the simulator allocated', () => {
    expect(report.pools.map((p) => p.name).sort()).toEqual(['default-pool', 'finance-pool']);
    for (const p of report.pools) {
      const mine = sim.filter((b) => b.pool === p.name);
      const used = mine.reduce((n, b) => n + b.allocations.filter((a) => a !== null).length, 0);
      expect(p.inUse).toBe(used);
      expect(p.blocks).toBe(mine.length);
      expect(p.free).toBe(p.size - used);
      expect(p.size).toBe(2 ** (32 - Number(p.cidr.split('/')[1])));
    }
    expect(report.orphanBlocks).toBe(0);
  });

  it('lists blocks with their nodes, and every borrowed address with lender and borrower', () => {
    expect(report.blocks.map((b) => [b.cidr, b.node, b.inUse]).sort()).toEqual(
      sim.map((b) => [b.cidr, b.node, b.allocations.filter((a) => a !== null).length]).sort(),
    );
    const expected = sim.flatMap((b) =>
      b.allocations.flatMap((a, ord) => {
        if (a === null || b.attributes[a]!.node === b.node) return [];
        const base = b.cidr.split('/')[0]!.split('.').map(Number);
        const ip = [...base.slice(0, 3), base[3]! + ord].join('.');
        return [{ ip, node: b.attributes[a]!.node, block: b.cidr, blockOwner: b.node }];
      }),
    );
    expect(expected.length).toBeGreaterThan(0);
    expect([...report.borrowed].sort((x, y) => (x.ip < y.ip ? -1 : 1))).toEqual(
      expected.sort((x, y) => (x.ip < y.ip ? -1 : 1)),
    );
  });

  it('renders aligned tables', () => {
    const text = renderIpamReport(report, { showBlocks: true, showBorrowed: true });
    const [header, ...rows] = text.split('\n\n')[0]!.trim().split('\n');
    expect(header).toMatch(/^POOL\s+CIDR\s+BLOCKS\s+IPS\s+IN USE\s+FREE$/);
    // Right-aligned numbers: every row is as long as the header's widest layout.
    for (const r of rows) expect(r.length).toBe(rows[0]!.length);
    expect(text).toContain('BORROWING NODE');
    expect(text).toMatch(/^BLOCK\s+POOL\s+NODE\s+IN USE\s+SIZE$/m);
    expect(text.split('\n').every((l) => l === l.trimEnd())).toBe(true);
  });
});
