// Pure: the rule model (built from a snapshot of calc output) as one nft table
// (`table ip tabby`): what iptables spreads over raw, mangle and filter in one table, entry
// chains as base chains, the sets the rules reference, and a hash of it all in the table's
// comment. Deterministic: same snapshot, same text.

import { createHash } from 'node:crypto';
import { type Render, renderer, type SetModel, type SetSpec, sortedMap } from '../rules/index.js';
import { BASE_CHAINS, nftChainName, TABLE_FAMILY, TABLE_NAME } from './names.js';
import { NFTABLES, ruleLines } from './translate.js';

/**
 * `ipv4_addr`: a selector set of IPv4 CIDRs (an interval set holds /0 as is);
 * `ipv4_addr . inet_proto . inet_service`: a named-port set (Felix's hash:ip,port) of
 * `addr . proto . port`.
 */
export type NftSetSpec = SetSpec<'ipv4_addr' | 'ipv4_addr . inet_proto . inet_service'>;

export interface RenderedNftables {
  /** Regular chain name -> rules, keys sorted; the base chain's rules are under BASE_CHAIN. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Set name -> spec, keys sorted; only sets the rendered rules reference. */
  readonly sets: ReadonlyMap<string, NftSetSpec>;
  /** The table definition (`table ip tabby { ... }`), carrying `hash` in its comment. */
  readonly text: string;
  /** A digest of the definition; the driver reads it back from the table comment. */
  readonly hash: string;
  readonly warnings: readonly string[];
}

const setSpec = (set: SetModel): NftSetSpec =>
  set.kind === 'net'
    ? { id: set.id, type: 'ipv4_addr', members: set.members }
    : {
        id: set.id,
        type: 'ipv4_addr . inet_proto . inet_service',
        members: set.members.map((m) => {
          const [addr, pp] = m.split(',') as [string, string];
          const [proto, port] = pp.split(':') as [string, string];
          return `${addr} . ${proto} . ${port}`;
        }),
      };

/** The model as one nft table; unchanged chains come back as the same arrays (see renderer). */
export const render: Render<RenderedNftables> = renderer({
  caps: NFTABLES,
  ruleLines,
  setSpec,
  assemble: ({ tables, sets }, model) => {
    // Policy chains sit in every table that jumps to them, with the same rules: one nft chain.
    const merged = new Map<string, readonly string[]>();
    for (const [table, chains] of tables)
      for (const [name, lines] of chains) {
        const nftName = nftChainName(table, name);
        if (!merged.has(nftName)) merged.set(nftName, lines);
      }
    const chains = sortedMap(merged);
    const body = tableBody(chains, sets);
    const hash = createHash('sha256').update(body.join('\n')).digest('base64url').slice(0, 22);
    return {
      chains,
      sets,
      text: [`table ${TABLE_FAMILY} ${TABLE_NAME} {`, `\tcomment "tabby:${hash}"`, ...body, '}', ''].join(
        '\n',
      ),
      hash,
      warnings: model.warnings,
    };
  },
});

/** The set elements line alone, so a membership change touches exactly one line per set. */
export const elementsLine = (members: readonly string[]): string =>
  members.length === 0 ? '' : `\t\telements = { ${members.join(', ')} }`;

function tableBody(chains: ReadonlyMap<string, readonly string[]>, sets: ReadonlyMap<string, NftSetSpec>) {
  const out: string[] = [];
  for (const [name, spec] of sets) {
    out.push(`\tset ${name} {`, `\t\ttype ${spec.type}`, '\t\tflags interval');
    // auto-merge is for plain intervals; a concatenated set keeps its elements as given.
    if (spec.type === 'ipv4_addr') out.push('\t\tauto-merge');
    if (spec.members.length > 0) out.push(elementsLine(spec.members));
    out.push('\t}');
  }
  // Base chains first, for reading; then the regular chains in name order.
  const bases = new Set(BASE_CHAINS.map((b) => b.name));
  for (const b of BASE_CHAINS)
    out.push(
      `\tchain ${b.name} {`,
      `\t\ttype filter ${b.spec}; policy accept;`,
      ...(chains.get(b.name) ?? []).map((r) => `\t\t${r}`),
      '\t}',
    );
  for (const [name, rules] of chains)
    if (!bases.has(name)) out.push(`\tchain ${name} {`, ...rules.map((r) => `\t\t${r}`), '\t}');
  return out;
}

/**
 * One `nft -f` transaction that replaces the table atomically: the bodiless `table` creates it
 * when absent (so the delete cannot fail), the delete drops the old one, the definition follows.
 */
export function renderReplace(rendered: RenderedNftables): string {
  return `table ${TABLE_FAMILY} ${TABLE_NAME}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n${rendered.text}`;
}

/** One transaction that removes the table (and nothing else), whether or not it exists. */
export function renderCleanup(): string {
  return `table ${TABLE_FAMILY} ${TABLE_NAME}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n`;
}

/** The hash a live table carries in its comment (`nft list table ip tabby` output), if any. */
export function parseTableHash(listing: string): string | undefined {
  return /comment "tabby:([A-Za-z0-9_-]+)"/.exec(listing)?.[1];
}
