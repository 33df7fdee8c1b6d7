// The only nftables code that touches the OS, through the dataplane shim (tests replace it). Reads the hash the live table carries in its comment; when it differs from the
// desired one, replaces the whole table in one `nft -f` transaction. A failed transaction
// leaves the previous table in force and is reported as a DataplaneError. Only `ip tabby`.

import type { Shim } from '../exec-shim.js';
import { type DataplaneError, dataplaneError } from '../rules/index.js';
import { TABLE_FAMILY, TABLE_NAME } from './names.js';
import { parseTableHash, type RenderedNftables, renderCleanup, renderReplace } from './render.js';

export interface NftApplyResult {
  /** False when the live table already carried the desired hash (nothing was sent). */
  readonly applied: boolean;
  /** Chains / sets that differ from the last applied state (all of them when unknown). */
  readonly chainsChanged: readonly string[];
  readonly setsChanged: readonly string[];
}

const same = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

export class NftablesDriver {
  /** The last table applied (or found in place) successfully. */
  lastApplied: RenderedNftables | undefined;
  lastError: DataplaneError | undefined;

  constructor(private readonly shim: Shim) {}

  /** The hash in the live table's comment; undefined when the table (or the comment) is absent. */
  async liveHash(): Promise<string | undefined> {
    try {
      const { stdout } = await this.shim.run('nft', ['list', 'table', TABLE_FAMILY, TABLE_NAME]);
      return parseTableHash(stdout);
    } catch (err) {
      if (/No such file or directory/.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  async apply(desired: RenderedNftables): Promise<NftApplyResult> {
    try {
      const prev = this.lastApplied;
      const applied = (await this.liveHash()) !== desired.hash;
      if (applied) await this.#run(renderReplace(desired), 'nft -f (replace table)');
      this.lastApplied = desired;
      this.lastError = undefined;
      if (!applied) return { applied, chainsChanged: [], setsChanged: [] };
      return {
        applied,
        chainsChanged: [...desired.chains].filter(([n, r]) => !same(prev?.chains.get(n), r)).map(([n]) => n),
        setsChanged: [...desired.sets]
          .filter(([n, s]) => !same(prev?.sets.get(n)?.members, s.members))
          .map(([n]) => n),
      };
    } catch (err) {
      this.lastError = dataplaneError(err, 'apply');
      throw this.lastError;
    }
  }

  /** Deletes Tabby's table; no other table is touched. */
  async cleanup(): Promise<void> {
    await this.#run(renderCleanup(), 'nft -f (delete table)');
    this.lastApplied = undefined;
  }

  async #run(script: string, what: string): Promise<void> {
    try {
      await this.shim.run('nft', ['-f', '-'], script);
    } catch (err) {
      throw dataplaneError(err, what);
    }
  }
}
