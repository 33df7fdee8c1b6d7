import { describe, expect, it } from 'vitest';
import { chooseToShed, shareOf } from '../../src/server/rebalance.js';

describe('rebalance choice', () => {
  it("a replica's share is an even split with slack", () => {
    expect(shareOf(300, 3, 0.1)).toBe(110);
    expect(shareOf(300, 2, 0)).toBe(150);
  });

  it('sheds clients that ranked it lowest first, oldest among equals, never a rank-0 one', () => {
    const conns = [
      { id: 1, rank: 0 },
      { id: 2, rank: 1 },
      { id: 3, rank: 2 },
      { id: 4, rank: undefined },
      { id: 5, rank: 1 },
    ];
    expect(chooseToShed(conns, 3).map((c) => c.id)).toEqual([3, 2, 4]);
    expect(chooseToShed(conns, 10).map((c) => c.id)).toEqual([3, 2, 4, 5]);
    expect(chooseToShed(conns, 0)).toEqual([]);
  });
});
