// The replica ladder of `tabby sizing`: enough replicas that the cluster's connections fit
// the per-replica budget with the spare replicas down, never fewer than the minimum, never
// fewer for more nodes; README's table is the command's output.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LADDER_NODES, ladderTable, size } from '../../src/cli/sizing.js';
import { sizingSchema } from '../../src/config/sizing-config.js';

const defaults = sizingSchema.parse({});

describe('tabby sizing', () => {
  it('fits every connection in budget with the spare replicas down, and grows with the cluster', () => {
    const ladder = fc.record({
      syncersPerNode: fc.integer({ min: 1, max: 2 }),
      connectionsPerReplica: fc.integer({ min: 50, max: 5000 }),
      minReplicas: fc.integer({ min: 1, max: 5 }),
      spareReplicas: fc.integer({ min: 0, max: 2 }),
      workers: fc.integer({ min: 1, max: 8 }),
    });
    fc.assert(
      fc.property(ladder, fc.integer({ min: 1, max: 20_000 }), (o, nodes) => {
        const s = size(nodes, o);
        expect(s.replicas).toBeGreaterThanOrEqual(o.minReplicas);
        const serving = s.replicas - o.spareReplicas;
        expect(serving).toBeGreaterThanOrEqual(1);
        expect(serving * o.connectionsPerReplica).toBeGreaterThanOrEqual(nodes * o.syncersPerNode);
        expect(s.connectionsPerReplica).toBeLessThanOrEqual(o.connectionsPerReplica);
        expect(size(nodes + 1, o).replicas).toBeGreaterThanOrEqual(s.replicas);
        expect(size(nodes, { ...o, workers: o.workers + 1 }).memoryRequestMiB).toBeGreaterThan(
          s.memoryRequestMiB,
        );
      }),
    );
  });

  it('at the defaults: 3 replicas up to 1,000 nodes, one more per 500 nodes after', () => {
    expect(size(1000, defaults).replicas).toBe(3);
    expect(size(1001, defaults).replicas).toBe(4);
    expect(size(5000, defaults)).toMatchObject({
      replicas: 11,
      connectionsPerReplica: 1000,
      typhaReplicas: 27,
    });
  });

  it('counts each worker process in the memory request, not one process', () => {
    const one = size(1000, { ...defaults, workers: 1 });
    const two = size(1000, { ...defaults, workers: 2 });
    const four = size(1000, { ...defaults, workers: 4 });
    // One process: the measured base and 5 KiB per connection, rounded up to 64 Mi.
    expect(one.memoryRequestMiB).toBe(256);
    // Each worker: its own process (171 MiB) and copy of the state (21 MiB).
    expect(two.memoryRequestMiB).toBe(Math.ceil((192 + 2 * 192 + (1000 * 5) / 1024) / 64) * 64);
    expect(four.memoryRequestMiB).toBeGreaterThanOrEqual(two.memoryRequestMiB + 2 * 192);
    expect(four.cpuRequestMillicores).toBe(one.cpuRequestMillicores);
  });

  it('README shows the ladder the command prints', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain(ladderTable(LADDER_NODES.map((n) => size(n, defaults))));
  });
});
