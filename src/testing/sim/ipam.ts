// Calico-style block IPAM for the simulator: pools are carved into blocks, a node claims
// (becomes affine to) a block and assigns from it, claims another when it is full, and
// borrows single IPs from another node's block when it cannot claim one (or, at a small
// rate, to model claim contention). Reserved CIDRs are never handed out.

import {
  formatRange,
  intToIp,
  ipToInt,
  parseRange,
  type Range4,
  rangeContains,
  rangesOverlap,
} from './ipv4.js';
import type { Rng } from './rng.js';

export interface PoolDef {
  readonly name: string;
  readonly cidr: string;
  readonly blockSize: number;
}

/** Who holds an address: Calico's allocation attribute (handle + secondary attributes). */
export interface AllocationOwner {
  readonly handleId: string;
  readonly namespace: string;
  readonly pod: string;
  readonly node: string;
}

export interface Block {
  readonly cidr: string;
  readonly range: Range4;
  readonly pool: string;
  /** The affine node (`host:<node>`). */
  readonly node: string;
  /** Per ordinal: index into `attributes`, or null when free. */
  readonly allocations: (number | null)[];
  readonly attributes: AllocationOwner[];
  /** Free ordinals in Calico's order: initially ascending, released ones go to the back. */
  readonly unallocated: number[];
  readonly reserved: ReadonlySet<number>;
  /** Free ordinals that are not reserved. */
  free: number;
  /** Bumped on every change, like Calico's block sequence number. */
  sequenceNumber: number;
}

export interface Assignment {
  readonly ip: string;
  readonly block: Block;
  /** The node claimed a new block for this assignment (a new affinity appears). */
  readonly claimed: boolean;
  /** The block is affine to another node. */
  readonly borrowed: boolean;
}

interface PoolState {
  readonly def: PoolDef;
  readonly range: Range4;
  readonly blockAddrs: number;
  readonly blockCount: number;
  nextIndex: number;
  readonly blocks: Map<number, Block>;
}

export class Ipam {
  private readonly pools = new Map<string, PoolState>();
  private readonly byNode = new Map<string, Block[]>();
  private readonly claimOrder: Block[] = [];
  private readonly reserved: readonly Range4[];

  constructor(
    pools: readonly PoolDef[],
    reservedCidrs: readonly string[],
    private readonly rng: Rng,
  ) {
    for (const def of pools) {
      const range = parseRange(def.cidr);
      const blockAddrs = 2 ** (32 - def.blockSize);
      if (def.blockSize < range.prefix) throw new RangeError(`${def.name}: blockSize < pool prefix`);
      this.pools.set(def.name, {
        def,
        range,
        blockAddrs,
        blockCount: range.size / blockAddrs,
        nextIndex: 0,
        blocks: new Map(),
      });
    }
    this.reserved = reservedCidrs.map(parseRange);
  }

  /** All claimed blocks, in claim order. */
  blocks(): readonly Block[] {
    return this.claimOrder;
  }

  /**
   * Assigns one address to `owner` from the first of `poolNames` that can serve it, the way
   * Calico's autoAssign does: affine blocks first, then a newly claimed block, then borrowing.
   * `preferBorrow` jumps straight to borrowing. Undefined when the pools are full.
   */
  assign(owner: AllocationOwner, poolNames: readonly string[], preferBorrow = false): Assignment | undefined {
    if (preferBorrow) {
      const lender = this.pickLender(owner.node, poolNames);
      if (lender !== undefined) return this.take(lender, owner, false);
    }
    const mine = this.byNode.get(owner.node) ?? [];
    for (const pool of poolNames) {
      for (const block of mine)
        if (block.pool === pool && block.free > 0) return this.take(block, owner, false);
    }
    for (const pool of poolNames) {
      const block = this.claim(pool, owner.node);
      if (block !== undefined) return this.take(block, owner, true);
    }
    const lender = this.pickLender(owner.node, poolNames);
    return lender === undefined ? undefined : this.take(lender, owner, false);
  }

  /** Frees `ip`; returns its block. Throws if the address is not allocated (a sim bug). */
  release(ip: string): Block {
    const addr = ipToInt(ip);
    const block = this.blockContaining(addr);
    const ordinal = block === undefined ? -1 : addr - block.range.base;
    const attrIndex = block?.allocations[ordinal];
    if (block === undefined || attrIndex === null || attrIndex === undefined) {
      throw new Error(`release of unallocated address ${ip}`);
    }
    block.allocations[ordinal] = null;
    block.unallocated.push(ordinal);
    block.attributes.splice(attrIndex, 1);
    // Calico compacts attributes the same way: later indices shift down by one.
    for (let i = 0; i < block.allocations.length; i++) {
      const a = block.allocations[i];
      if (a !== null && a !== undefined && a > attrIndex) block.allocations[i] = a - 1;
    }
    block.free++;
    block.sequenceNumber++;
    return block;
  }

  blockContaining(addr: number): Block | undefined {
    for (const pool of this.pools.values()) {
      if (rangeContains(pool.range, addr)) {
        return pool.blocks.get(Math.floor((addr - pool.range.base) / pool.blockAddrs));
      }
    }
    return undefined;
  }

  private take(block: Block, owner: AllocationOwner, claimed: boolean): Assignment {
    const at = block.unallocated.findIndex((ord) => !block.reserved.has(ord));
    const ordinal = block.unallocated[at]!;
    block.unallocated.splice(at, 1);
    block.attributes.push(owner);
    block.allocations[ordinal] = block.attributes.length - 1;
    block.free--;
    block.sequenceNumber++;
    return { ip: intToIp(block.range.base + ordinal), block, claimed, borrowed: block.node !== owner.node };
  }

  /** Claims the next unclaimed block of `poolName` that has at least one usable address. */
  private claim(poolName: string, node: string): Block | undefined {
    const pool = this.pools.get(poolName);
    if (pool === undefined) throw new RangeError(`unknown pool ${poolName}`);
    // Calico walks blocks in a host-seeded random order; ascending order reads better in a sim.
    while (pool.nextIndex < pool.blockCount) {
      const index = pool.nextIndex++;
      const range: Range4 = {
        base: pool.range.base + index * pool.blockAddrs,
        prefix: pool.def.blockSize,
        size: pool.blockAddrs,
      };
      const reserved = this.reservedOrdinals(range);
      if (reserved.size === range.size) continue;
      const block: Block = {
        cidr: formatRange(range),
        range,
        pool: poolName,
        node,
        allocations: new Array<number | null>(range.size).fill(null),
        attributes: [],
        unallocated: Array.from({ length: range.size }, (_, i) => i),
        reserved,
        free: range.size - reserved.size,
        sequenceNumber: 0,
      };
      pool.blocks.set(index, block);
      this.claimOrder.push(block);
      const mine = this.byNode.get(node);
      if (mine === undefined) this.byNode.set(node, [block]);
      else mine.push(block);
      return block;
    }
    return undefined;
  }

  private reservedOrdinals(range: Range4): Set<number> {
    const out = new Set<number>();
    for (const r of this.reserved) {
      if (!rangesOverlap(r, range)) continue;
      const from = Math.max(r.base, range.base);
      const to = Math.min(r.base + r.size, range.base + range.size);
      for (let a = from; a < to; a++) out.add(a - range.base);
    }
    return out;
  }

  private pickLender(node: string, poolNames: readonly string[]): Block | undefined {
    const candidates: Block[] = [];
    for (const name of poolNames) {
      const pool = this.pools.get(name);
      if (pool === undefined) continue;
      for (const b of pool.blocks.values()) if (b.node !== node && b.free > 0) candidates.push(b);
    }
    return candidates.length === 0 ? undefined : this.rng.pick(candidates);
  }
}
