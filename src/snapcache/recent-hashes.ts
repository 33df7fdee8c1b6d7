// The state hash of each of the last N generations of a stream, so the server can judge an
// ACK's hash (PROTOCOL.md §13) even after the generation's changes left the catch-up window.
// Generations are consecutive, so a fixed ring indexed by generation number is enough.

export class RecentHashes {
  private readonly generations: number[];
  private readonly hashes: string[];

  constructor(readonly capacity = 1_024) {
    if (!(capacity > 0)) throw new RangeError('RecentHashes capacity must be positive');
    this.generations = new Array<number>(capacity).fill(-1);
    this.hashes = new Array<string>(capacity).fill('');
  }

  record(generation: number, hash: string): void {
    const i = generation % this.capacity;
    this.generations[i] = generation;
    this.hashes[i] = hash;
  }

  /** The hash published at `generation`, or undefined if it is older than the ring or unknown. */
  at(generation: number): string | undefined {
    if (!Number.isSafeInteger(generation) || generation < 0) return undefined;
    const i = generation % this.capacity;
    return this.generations[i] === generation ? this.hashes[i] : undefined;
  }
}
