// nft names: the one `ip tabby` table, its base chains at the raw, mangle and filter hooks, and
// the model's per-table chain names mapped into that one table.

import type { Table } from '../rules/index.js';

/**
 * Family `ip`, not `inet`: the renderer (as the iptables one) expresses IPv4 only. In an inet
 * table, forwarded IPv6 would also walk the endpoint chains and meet their final drops with
 * every IPv6 rule missing; the iptables dataplane leaves IPv6 alone, and so does this one.
 */
export const TABLE_FAMILY = 'ip';
export const TABLE_NAME = 'tabby';
/** The base chain hooked at forward (the iptables dataplane's tabby-FORWARD). */
export const BASE_CHAIN = 'forward';

/** Base chains: the iptables dataplane's hooked entry chains, by (table, built-in chain). */
export const BASE_CHAINS: readonly {
  readonly table: Table;
  readonly builtin: string;
  readonly name: string;
  readonly spec: string;
}[] = [
  { table: 'raw', builtin: 'PREROUTING', name: 'raw-prerouting', spec: 'hook prerouting priority raw' },
  { table: 'raw', builtin: 'OUTPUT', name: 'raw-output', spec: 'hook output priority raw' },
  {
    table: 'mangle',
    builtin: 'PREROUTING',
    name: 'mangle-prerouting',
    spec: 'hook prerouting priority mangle',
  },
  { table: 'filter', builtin: 'INPUT', name: 'input', spec: 'hook input priority filter' },
  { table: 'filter', builtin: 'FORWARD', name: BASE_CHAIN, spec: 'hook forward priority filter' },
  { table: 'filter', builtin: 'OUTPUT', name: 'output', spec: 'hook output priority filter' },
];

const ENTRY: Readonly<Record<string, string>> = {
  'raw/tabby-PREROUTING': 'raw-prerouting',
  'raw/tabby-OUTPUT': 'raw-output',
  'mangle/tabby-PREROUTING': 'mangle-prerouting',
  'filter/tabby-INPUT': 'input',
  'filter/tabby-FORWARD': BASE_CHAIN,
  'filter/tabby-OUTPUT': 'output',
};

/**
 * One table holds what iptables spreads over raw, mangle and filter (as Felix's nft mode):
 * raw and mangle chains get the table as a prefix, entry chains become base chains, and
 * policy and profile chains (pure matches and verdicts) are shared by all of them.
 */
export function nftChainName(table: Table, name: string): string {
  const entry = ENTRY[`${table}/${name}`];
  if (entry !== undefined) return entry;
  if (table === 'filter' || /^tabby-(pi|po|pri|pro)-/.test(name)) return name;
  return `${table}-${name}`;
}
