// A thin seeded PRNG over pure-rand's xoroshiro128+. Each concern (building, IPAM, churn)
// draws from its own stream, a fixed number of 2^64-step jumps from the seed, so adding a
// draw in one place never shifts the values another place sees.

import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

export const RngStream = { Build: 0, Ipam: 1, Churn: 2 } as const;
export type RngStream = (typeof RngStream)[keyof typeof RngStream];

export class Rng {
  private constructor(private readonly gen: JumpableRandomGenerator) {}

  static stream(seed: number, stream: RngStream): Rng {
    const gen = xoroshiro128plus(seed | 0);
    for (let i = 0; i < stream; i++) gen.jump();
    return new Rng(gen);
  }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    return uniformInt(this.gen, min, max);
  }

  /** Integer in [0, n). */
  below(n: number): number {
    return uniformInt(this.gen, 0, n - 1);
  }

  /** Float in [0, 1). */
  float(): number {
    return uniformFloat64(this.gen);
  }

  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.below(items.length)]!;
  }

  /** n characters drawn from `alphabet`. */
  chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.below(alphabet.length)];
    return s;
  }

  /** n lowercase hex digits, 8 per draw (cheaper than chars() for container IDs). */
  hex(n: number): string {
    let s = '';
    while (s.length < n) s += (this.gen.next() >>> 0).toString(16).padStart(8, '0');
    return s.length === n ? s : s.slice(0, n);
  }

  /** Index into `cumulative` (running totals of positive weights), weight-proportionally. */
  weighted(cumulative: readonly number[]): number {
    const total = cumulative[cumulative.length - 1] ?? 0;
    const x = this.float() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
