// IPAM utilisation from the routing view, like `calicoctl ipam show`: per pool the addresses
// it holds and how many are allocated (counted from the pool's IPAM blocks), per block its
// affine node and use, and the addresses borrowed from another node's block.

import { cidrContains, compareCidr, parseNet } from '../../../model/net/cidr.js';
import type { BlockInfo, PoolInfo, RoutingState } from './state.js';

export interface PoolUsage {
  readonly name: string;
  readonly cidr: string;
  /** Addresses in the pool (2^(bits − prefix); a Number, approximate beyond 2^53 for IPv6). */
  readonly size: number;
  readonly inUse: number;
  readonly free: number;
  /** inUse / size × 100. */
  readonly percentUsed: number;
  readonly blocks: number;
}

export interface BlockUsage {
  readonly cidr: string;
  /** The enclosing pool's name; undefined for a block outside every pool. */
  readonly pool?: string;
  readonly node?: string;
  readonly inUse: number;
  readonly size: number;
}

export interface BorrowedUsage {
  readonly ip: string;
  /** The node the address is allocated to. */
  readonly node: string;
  readonly block: string;
  readonly blockOwner?: string;
}

export interface IpamReport {
  readonly pools: readonly PoolUsage[];
  readonly blocks: readonly BlockUsage[];
  readonly borrowed: readonly BorrowedUsage[];
  /** Blocks in no pool (a pool deleted while its blocks remain). */
  readonly orphanBlocks: number;
}

const byCidr = <T extends { readonly cidr: string }>(a: T, b: T): number => {
  const [x, y] = [parseNet(a.cidr), parseNet(b.cidr)];
  if (x === undefined || y === undefined) return a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0;
  if (x.version !== y.version) return x.version - y.version;
  return compareCidr(x, y);
};

function poolOf(pools: readonly PoolInfo[], block: BlockInfo): PoolInfo | undefined {
  return pools.find((p) => p.net.prefix <= block.net.prefix && cidrContains(p.net, block.net));
}

export function ipamReport(state: RoutingState): IpamReport {
  // Most specific pool first, as IPAM assigns a block to exactly one pool.
  const pools = [...state.pools.values()].sort((a, b) => b.net.prefix - a.net.prefix);
  const blocks = [...state.blocks.values()].sort(byCidr);
  const inUse = new Map<string, number>();
  const count = new Map<string, number>();
  const blockRows: BlockUsage[] = [];
  const borrowed: BorrowedUsage[] = [];
  let orphanBlocks = 0;
  for (const b of blocks) {
    const pool = poolOf(pools, b);
    if (pool === undefined) orphanBlocks++;
    else {
      inUse.set(pool.name, (inUse.get(pool.name) ?? 0) + b.allocated);
      count.set(pool.name, (count.get(pool.name) ?? 0) + 1);
    }
    blockRows.push({ cidr: b.cidr, pool: pool?.name, node: b.node, inUse: b.allocated, size: b.size });
    for (const x of b.borrowed) borrowed.push({ ip: x.ip, node: x.node, block: b.cidr, blockOwner: b.node });
  }
  const poolRows = pools
    .map((p): PoolUsage => {
      const size = 2 ** ((p.net.version === 4 ? 32 : 128) - p.net.prefix);
      const used = inUse.get(p.name) ?? 0;
      return {
        name: p.name,
        cidr: p.cidr,
        size,
        inUse: used,
        free: size - used,
        percentUsed: (used / size) * 100,
        blocks: count.get(p.name) ?? 0,
      };
    })
    .sort(byCidr);
  return {
    pools: poolRows,
    blocks: blockRows,
    borrowed: borrowed.sort((a, b) => byCidr({ cidr: a.ip }, { cidr: b.ip })),
    orphanBlocks,
  };
}
