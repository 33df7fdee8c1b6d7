// Pure: the rule model (built from a snapshot of calc output) as Tabby's iptables chains per
// table, the IP sets they reference, and the hook rules. Deterministic: same snapshot, same text.

import { type Render, renderer, type SetModel, type SetSpec, type Table } from '../rules/index.js';
import { IPTABLES, ruleLines } from './translate.js';

/**
 * Members: for hash:net IPv4 CIDRs (a /0 split into two /1s, as hash:net cannot hold /0); for
 * hash:ip,port `addr,proto:port` (Felix's named-port sets).
 */
export type IpSetSpec = SetSpec<'hash:net' | 'hash:ip,port'>;

export interface RenderedDataplane {
  /** The filter table's chains: name -> rule specs (without `-A <chain>`), keys sorted. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Every table's chains (raw, mangle, filter; filter is `chains`). */
  readonly tables: ReadonlyMap<Table, ReadonlyMap<string, readonly string[]>>;
  /** Kernel set name -> spec, keys sorted; only sets the rendered rules reference. */
  readonly ipSets: ReadonlyMap<string, IpSetSpec>;
  /** The rules in built-in chains that hook Tabby in (each inserted at the top of its chain). */
  readonly hooks: readonly { readonly table: Table; readonly chain: string; readonly rule: string }[];
  /** Rules or endpoints left out, and why. */
  readonly warnings: readonly string[];
}

/** hash:net cannot hold /0: two /1s instead. */
function hashNetMembers(members: readonly string[]): readonly string[] {
  if (!members.some((m) => m.endsWith('/0'))) return members;
  const out = new Set<string>();
  for (const m of members)
    if (m.endsWith('/0')) {
      out.add('0.0.0.0/1');
      out.add('128.0.0.0/1');
    } else out.add(m);
  return [...out].sort();
}

const setSpec = (set: SetModel): IpSetSpec =>
  set.kind === 'net'
    ? { id: set.id, type: 'hash:net', members: hashNetMembers(set.members) }
    : { id: set.id, type: 'hash:ip,port', members: set.members };

/** The model in iptables' tables; unchanged chains come back as the same arrays (see renderer). */
export const render: Render<RenderedDataplane> = renderer({
  caps: IPTABLES,
  ruleLines,
  setSpec,
  assemble: ({ tables, sets }, model) => ({
    chains: tables.get('filter')!,
    tables,
    ipSets: sets,
    hooks: model.entries.map((e) => ({
      table: e.table,
      chain: e.builtin,
      rule: ruleLines({ match: [], action: { t: 'jump', chain: e.chain }, comment: 'tabby hook' })[0]!,
    })),
    warnings: model.warnings,
  }),
});
