// The only iptables code that touches the OS, through a small shim (tests replace it): reads
// what Tabby owns (iptables-save of raw, mangle and filter; ipset save), then applies the difference: sets first (new
// ones filled, changed ones swapped atomically), then one atomic iptables-restore --noflush of
// the changed chains and the hook, then destroys sets the rules no longer reference. A failed
// restore leaves the previous rules in force and is reported as a DataplaneError.

import type { Shim } from '../exec-shim.js';

export { type ExecShimOptions, execShim, type Shim, type ShimResult } from '../exec-shim.js';

import { type DataplaneError, dataplaneError, type Table } from '../rules/index.js';
import type { RenderedDataplane } from './render.js';
import {
  ChainHashCache,
  parseIpsetSave,
  parseIptablesSave,
  renderCleanup,
  renderIpSets,
  renderRestore,
  TABLES,
  type TableState,
} from './restore.js';

export interface ApplyResult {
  readonly chainsWritten: readonly string[];
  readonly chainsDeleted: readonly string[];
  readonly hookRewritten: boolean;
  readonly setsWritten: readonly string[];
  readonly setsDestroyed: readonly string[];
  /** Non-fatal problems (a set that could not be destroyed yet). */
  readonly warnings: readonly string[];
}

export class IptablesDriver {
  /** The last dataplane applied successfully. */
  lastApplied: RenderedDataplane | undefined;
  lastError: DataplaneError | undefined;
  /** Rule hashes of the chains last diffed, so only changed chains are hashed again. */
  readonly #hashes = new ChainHashCache();

  constructor(private readonly shim: Shim) {}

  async readState(): Promise<{ tables: Map<Table, TableState>; sets: Map<string, string[]> }> {
    const [sets, ...saves] = await Promise.all([
      this.shim.run('ipset', ['save']),
      ...TABLES.map((t) => this.shim.run('iptables-save', ['-t', t])),
    ]);
    const tables = new Map(TABLES.map((t, i) => [t, parseIptablesSave(saves[i]!.stdout)]));
    return { tables, sets: parseIpsetSave(sets.stdout) };
  }

  async apply(desired: RenderedDataplane): Promise<ApplyResult> {
    try {
      const result = await this.#apply(desired);
      this.lastApplied = desired;
      this.lastError = undefined;
      return result;
    } catch (err) {
      this.lastError = dataplaneError(err, 'apply');
      throw this.lastError;
    }
  }

  async #apply(desired: RenderedDataplane): Promise<ApplyResult> {
    const { tables, sets } = await this.readState();
    const setPlan = renderIpSets(desired.ipSets, sets);
    if (setPlan.update !== '') await this.#run('ipset', ['restore'], setPlan.update, 'ipset update');
    const restore = renderRestore(desired, tables, this.#hashes);
    if (restore.text !== '')
      await this.#run('iptables-restore', ['-w', '5', '--noflush'], restore.text, 'iptables-restore');
    const warnings: string[] = [];
    if (setPlan.destroy !== '') {
      try {
        await this.shim.run('ipset', ['restore'], setPlan.destroy);
      } catch (err) {
        warnings.push(`destroying unused sets: ${(err as Error).message}`);
      }
    }
    return {
      chainsWritten: restore.written,
      chainsDeleted: restore.deleted,
      hookRewritten: restore.hookRewritten,
      setsWritten: setPlan.written,
      setsDestroyed: warnings.length === 0 ? setPlan.destroyed : [],
      warnings,
    };
  }

  /** Removes every hook, chain and set Tabby owns; rules it does not own are untouched. */
  async cleanup(): Promise<void> {
    const { tables, sets } = await this.readState();
    const text = renderCleanup(tables);
    if (text !== '') await this.#run('iptables-restore', ['-w', '5', '--noflush'], text, 'cleanup');
    if (sets.size > 0)
      await this.#run(
        'ipset',
        ['restore'],
        [...sets.keys()].map((n) => `destroy ${n}\n`).join(''),
        'cleanup',
      );
    this.lastApplied = undefined;
  }

  async #run(cmd: string, args: readonly string[], stdin: string, what: string): Promise<void> {
    try {
      await this.shim.run(cmd, args, stdin);
    } catch (err) {
      throw dataplaneError(err, what);
    }
  }
}
