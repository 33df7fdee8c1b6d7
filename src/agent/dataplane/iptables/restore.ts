// Pure text in and out of the kernel tools: iptables-restore --noflush input that rewrites
// only changed Tabby chains (each rule tagged with a Felix-style hash comment, so what the
// kernel holds is compared by hashes, not by re-parsing iptables-save's normalised text),
// the hook rule, cleanup scripts, and ipset restore input that rebuilds changed sets off
// to the side and swaps them in atomically.

import type { Table } from '../rules/model.js';
import { CHAIN_PREFIX, SET_PREFIX } from '../rules/names.js';
import { ruleHash, TEMP_SET_PREFIX, tempSetName } from './names.js';
import type { IpSetSpec, RenderedDataplane } from './render.js';

/** Chain name -> the hashes of its rules, in order. */
export type ChainDigests = ReadonlyMap<string, readonly string[]>;

/** What Tabby owns in the filter table right now (parsed from iptables-save). */
export interface TableState {
  readonly chains: ChainDigests;
  /** Rules in built-in chains that jump to a Tabby chain, as saved (`-A FORWARD ...`). */
  readonly hookRules: readonly string[];
  /** Each built-in chain's rules in order (to check the hook is first). */
  readonly builtinRules: ReadonlyMap<string, readonly string[]>;
}

const HASH_COMMENT = /--comment "?tabby:([A-Za-z0-9_-]{16})"?/;

function hashed(chain: string, rules: readonly string[]): { hash: string; rule: string }[] {
  let prev = '';
  return rules.map((rule) => {
    prev = ruleHash(chain, prev, rule);
    return { hash: prev, rule };
  });
}

const sameList = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a === b || (a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));

const hashesOf = (chain: string, rules: readonly string[]): string[] =>
  hashed(chain, rules).map((h) => h.hash);

export function digests(
  chains: ReadonlyMap<string, readonly string[]>,
  cache?: ChainHashCache,
  table: Table = 'filter',
): Map<string, readonly string[]> {
  if (cache !== undefined) return cache.digests(table, chains);
  const out = new Map<string, readonly string[]>();
  for (const [name, rules] of chains) out.set(name, hashesOf(name, rules));
  return out;
}

/**
 * Rule hashes per (table, chain), kept across renders of one node: a chain whose rules are
 * the same array as last time, or equal to it, keeps its hashes (comparing strings is far
 * cheaper than hashing them). Bounded: each table keeps only the chains of its last digest.
 */
export class ChainHashCache {
  readonly #tables = new Map<Table, Map<string, { rules: readonly string[]; hashes: readonly string[] }>>();
  /** Chains whose hashes were computed / reused, since construction. */
  hashed = 0;
  reused = 0;

  digests(table: Table, chains: ReadonlyMap<string, readonly string[]>): Map<string, readonly string[]> {
    const old = this.#tables.get(table);
    const next = new Map<string, { rules: readonly string[]; hashes: readonly string[] }>();
    const out = new Map<string, readonly string[]>();
    for (const [name, rules] of chains) {
      let entry = old?.get(name);
      if (entry !== undefined && (entry.rules === rules || sameList(entry.rules, rules))) this.reused++;
      else {
        // A frozen array (the render cache's) can be trusted by identity; others are copied.
        const kept = Object.isFrozen(rules) ? rules : [...rules];
        entry = { rules: kept, hashes: Object.freeze(hashesOf(name, rules)) };
        this.hashed++;
      }
      next.set(name, entry);
      out.set(name, entry.hashes);
    }
    this.#tables.set(table, next);
    return out;
  }
}

/** Tables in restore order: raw and mangle first, so filter never refers to missing marks' setters. */
export const TABLES: readonly Table[] = ['raw', 'mangle', 'filter'];

/** What Tabby owns in each table (a missing table: nothing). */
export type TablesState = ReadonlyMap<Table, TableState>;

/** A table's chains; the filter table's are `chains` (what callers edit and compare). */
const chainsOf = (r: RenderedDataplane, table: Table): ReadonlyMap<string, readonly string[]> =>
  table === 'filter' ? r.chains : (r.tables.get(table) ?? new Map());

const hooksOf = (desired: RenderedDataplane, table: Table) => desired.hooks.filter((h) => h.table === table);

/** A table's hooks are in place when each is the first rule of its chain and there is no other. */
export function hookInPlace(
  desired: RenderedDataplane,
  state: TableState | undefined,
  table: Table,
): boolean {
  const hooks = hooksOf(desired, table);
  if ((state?.hookRules.length ?? 0) !== hooks.length) return false;
  // iptables-save prints the hook exactly as written (a comment and a jump, nothing to normalise).
  return hooks.every((h) => state?.builtinRules.get(h.chain)?.[0] === `-A ${h.chain} ${h.rule}`);
}

export interface RestorePlan {
  /** iptables-restore --noflush input, or '' when nothing changed. */
  readonly text: string;
  /** Chains written / deleted: filter chains by name, others as `<table>:<name>`. */
  readonly written: readonly string[];
  readonly deleted: readonly string[];
  readonly hookRewritten: boolean;
}

const label = (table: Table, chain: string): string => (table === 'filter' ? chain : `${table}:${chain}`);

/**
 * iptables-restore --noflush input that, per table, (re)writes the chains that differ from
 * `current` (all of them when it is undefined), deletes Tabby chains no longer wanted, and
 * (re)inserts the hooks when they are not the first rules of their chains. Declaring a chain
 * flushes it. Each table's block commits atomically; unchanged tables are left out.
 */
export function renderRestore(
  desired: RenderedDataplane,
  current?: TablesState,
  cache?: ChainHashCache,
): RestorePlan {
  const lines: string[] = [];
  const written: string[] = [];
  const deleted: string[] = [];
  let hookRewritten = false;
  for (const table of TABLES) {
    const chains = chainsOf(desired, table);
    const state = current?.get(table);
    const want = digests(chains, cache, table);
    const w = [...chains.keys()].filter((c) => !sameList(state?.chains.get(c), want.get(c)!));
    const d = [...(state?.chains.keys() ?? [])].filter((c) => !chains.has(c)).sort();
    const hooks = current === undefined || !hookInPlace(desired, state, table);
    if (w.length === 0 && d.length === 0 && !hooks) continue;
    written.push(...w.map((c) => label(table, c)));
    deleted.push(...d.map((c) => label(table, c)));
    hookRewritten ||= hooks;
    lines.push(`*${table}`);
    for (const c of [...w, ...d]) lines.push(`:${c} - [0:0]`);
    if (hooks) for (const r of state?.hookRules ?? []) lines.push(r.replace(/^-A /, '-D '));
    for (const c of w) {
      const hashes = want.get(c)!;
      for (const [i, rule] of chains.get(c)!.entries())
        lines.push(`-A ${c} -m comment --comment "tabby:${hashes[i]}" ${rule}`);
    }
    if (hooks) for (const h of hooksOf(desired, table)) lines.push(`-I ${h.chain} 1 ${h.rule}`);
    for (const c of d) lines.push(`-X ${c}`);
    lines.push('COMMIT');
  }
  if (lines.length === 0) return { text: '', written, deleted, hookRewritten };
  lines.push('');
  return { text: lines.join('\n'), written, deleted, hookRewritten };
}

/** iptables-restore --noflush input that removes every hook and chain Tabby owns. */
export function renderCleanup(states: TablesState): string {
  const lines: string[] = [];
  for (const table of TABLES) {
    const state = states.get(table);
    if (state === undefined || (state.chains.size === 0 && state.hookRules.length === 0)) continue;
    const chains = [...state.chains.keys()].sort();
    lines.push(
      `*${table}`,
      ...chains.map((c) => `:${c} - [0:0]`),
      ...state.hookRules.map((r) => r.replace(/^-A /, '-D ')),
      ...chains.map((c) => `-X ${c}`),
      'COMMIT',
    );
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** What the kernel holds once `r` is applied (as the driver would read it back). */
export function appliedState(r: RenderedDataplane, cache?: ChainHashCache): Map<Table, TableState> {
  const out = new Map<Table, TableState>();
  for (const table of TABLES) {
    const hooks = hooksOf(r, table);
    const hookRules = hooks.map((h) => `-A ${h.chain} ${h.rule}`);
    const builtinRules = new Map<string, string[]>();
    for (const rule of hookRules) {
      const chain = rule.split(' ')[1]!;
      builtinRules.set(chain, [...(builtinRules.get(chain) ?? []), rule]);
    }
    out.set(table, { chains: digests(chainsOf(r, table), cache, table), hookRules, builtinRules });
  }
  return out;
}

/** Tabby's part of one table's `iptables-save -t <table>` output. */
export function parseIptablesSave(text: string): TableState {
  const chains = new Map<string, string[]>();
  const builtinRules = new Map<string, string[]>();
  const hookRules: string[] = [];
  for (const line of text.split('\n')) {
    const decl = /^:(\S+) /.exec(line);
    if (decl?.[1]?.startsWith(CHAIN_PREFIX)) chains.set(decl[1], []);
    const rule = /^-A (\S+) /.exec(line);
    if (rule === null) continue;
    const chain = rule[1]!;
    if (chain.startsWith(CHAIN_PREFIX)) {
      // A rule without our hash (edited by hand) gets a hash that matches nothing.
      chains.get(chain)?.push(HASH_COMMENT.exec(line)?.[1] ?? '?');
    } else {
      const list = builtinRules.get(chain) ?? [];
      list.push(line);
      builtinRules.set(chain, list);
      if (/ -[jg] tabby-/.test(line)) hookRules.push(line);
    }
  }
  return { chains, hookRules, builtinRules };
}

/** Tabby's sets in `ipset save` output: name -> sorted members (as CIDRs). */
export function parseIpsetSave(text: string): Map<string, string[]> {
  const sets = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const name = words[1];
    if (name === undefined || !(name.startsWith(SET_PREFIX) || name.startsWith(TEMP_SET_PREFIX))) continue;
    if (words[0] === 'create') sets.set(name, []);
    else if (words[0] === 'add' && words[2] !== undefined)
      // hash:ip,port members (`10.0.0.1,tcp:80`) are kept as ipset prints them.
      sets.get(name)?.push(words[2].includes('/') || words[2].includes(',') ? words[2] : `${words[2]}/32`);
  }
  for (const m of sets.values()) m.sort();
  return sets;
}

export interface IpSetPlan {
  /** `ipset restore` input creating/updating sets, or ''. Run before the rules. */
  readonly update: string;
  /** `ipset restore` input destroying sets nothing references any more, or ''. Run after the rules. */
  readonly destroy: string;
  readonly written: readonly string[];
  readonly destroyed: readonly string[];
}

const createOpts = (type: IpSetSpec['type']): string => `${type} family inet maxelem 1048576`;

/** New sets are filled in place; changed ones are rebuilt in a temp set and swapped in. */
export function renderIpSets(
  desired: ReadonlyMap<string, IpSetSpec>,
  current: ReadonlyMap<string, readonly string[]>,
): IpSetPlan {
  const update: string[] = [];
  const written: string[] = [];
  for (const [name, spec] of desired) {
    const have = current.get(name);
    if (have !== undefined && sameList(have, spec.members)) continue;
    written.push(name);
    const target = have === undefined ? name : tempSetName(name);
    update.push(`create ${target} ${createOpts(spec.type)} -exist`, `flush ${target}`);
    for (const m of spec.members) update.push(`add ${target} ${m}`);
    if (have !== undefined) update.push(`swap ${target} ${name}`, `destroy ${target}`);
  }
  const destroyed = [...current.keys()].filter((n) => !desired.has(n)).sort();
  const text = (lines: string[]) => (lines.length === 0 ? '' : `${lines.join('\n')}\n`);
  return { update: text(update), destroy: text(destroyed.map((n) => `destroy ${n}`)), written, destroyed };
}
