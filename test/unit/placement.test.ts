import { describe, expect, it } from 'vitest';
import { Cooldowns, rankReplicas } from '../../src/client/placement.js';

const replicas = ['10.0.0.1:5473', '10.0.0.2:5473', '10.0.0.3:5473'];
const nodes = Array.from({ length: 3000 }, (_, i) => `node-${i}`);
const first = (node: string, addrs: readonly string[]) => rankReplicas(node, addrs)[0];

describe('rendezvous ranking', () => {
  it('ranks every address once, the same way for the same node whatever the input order', () => {
    const r = rankReplicas('node-1', replicas);
    expect([...r].sort()).toEqual([...replicas].sort());
    expect(rankReplicas('node-1', [...replicas].reverse())).toEqual(r);
    expect(rankReplicas('node-1', [...replicas, replicas[0]!])).toEqual(r);
  });

  it('spreads nodes evenly over the replicas', () => {
    const count = new Map<string, number>();
    for (const n of nodes) count.set(first(n, replicas)!, (count.get(first(n, replicas)!) ?? 0) + 1);
    for (const r of replicas) expect(Math.abs(count.get(r)! - 1000)).toBeLessThan(150);
  });

  it('a replica leaving moves only the nodes that ranked it first, to their second choice', () => {
    const gone = replicas[2]!;
    const rest = replicas.slice(0, 2);
    let moved = 0;
    for (const n of nodes) {
      const before = rankReplicas(n, replicas);
      const after = first(n, rest);
      if (before[0] === gone) {
        moved++;
        expect(after).toBe(before[1]);
      } else expect(after).toBe(before[0]);
    }
    expect(moved).toBeGreaterThan(850);
    expect(moved).toBeLessThan(1150);
  });

  it('a replica joining takes nodes only from the others, about 1/n of them', () => {
    const joined = [...replicas, '10.0.0.4:5473'];
    let moved = 0;
    for (const n of nodes) {
      const after = first(n, joined);
      if (after !== first(n, replicas)) {
        moved++;
        expect(after).toBe('10.0.0.4:5473');
      }
    }
    expect(moved).toBeGreaterThan(600);
    expect(moved).toBeLessThan(900);
  });
});

describe('cooldowns', () => {
  it('keep an address out until its time is up, and say how long the wait is', () => {
    const c = new Cooldowns();
    c.add('a:1', 1_000, 0);
    expect(c.cooling('a:1', 999)).toBe(true);
    expect(c.cooling('b:1', 0)).toBe(false);
    expect(c.waitMs(['a:1'], 400)).toBe(600);
    expect(c.waitMs(['a:1', 'b:1'], 400)).toBe(0);
    expect(c.cooling('a:1', 1_000)).toBe(false);
  });
});
