// The filter half of the BIRD 2 configuration: confd's bird_aggr.cfg and bird_ipam.cfg
// (aggregation of the node's blocks, export to BGP peers, kernel programming) rewritten for
// upstream BIRD 2 syntax. Pure text from the model; rendered in model order (already sorted).

import { createHash } from 'node:crypto';
import type { BgpFilterModel, BgpFilterRule, BgpModel, BgpPeerModel } from '../../calc/routing/bgp.js';

/** Calico's BirdIntMaxValue: local_pref = MAX - krt_metric carries route priority over BGP. */
export const BIRD_INT_MAX = 2147483647;
/** Preference that lets an elevated-priority BGP route beat a local workload route. */
const OVERRIDE_PREFERENCE = 200;
/** The static protocol that originates borrowed /32s (when asked); never sent to the kernel. */
export const BORROWED_PROTOCOL = 'calico_borrowed';

const ifs = (cidrs: readonly string[], action: string, indent = '  '): string[] =>
  cidrs.map((c) => `${indent}if ( net ~ ${c} ) then { ${action}; }`);

/** Interface patterns are quoted BIRD strings; anything that could break out is dropped. */
export const safePattern = (p: string): boolean => /^[A-Za-z0-9_.*?@:+-]+$/.test(p);

function communities(m: BgpModel): string[] {
  const out = ['function apply_communities()', '{'];
  for (const c of m.exports.communities) {
    out.push(`  if ( net ~ ${c.cidr} ) then {`);
    for (const [a, b] of c.standard) out.push(`    bgp_community.add((${a}, ${b}));`);
    for (const [a, b, x] of c.large) out.push(`    bgp_large_community.add((${a}, ${b}, ${x}));`);
    out.push('  }');
  }
  out.push('}');
  return out;
}

/** Export each confirmed block whole; more-specifics only at elevated priority (krt_metric). */
function aggregation(m: BgpModel): string[] {
  const prio = m.exports.normalRoutePriority;
  const out = [
    '# Aggregation of routes on this host; export the block, nothing beneath it.',
    'function calico_aggr()',
    '{',
  ];
  for (const b of m.exports.blocks)
    out.push(
      `  if ( net = ${b} ) then { accept; }`,
      `  if ( net ~ ${b} && krt_metric < ${prio} ) then { accept; }`,
      `  if ( net ~ ${b} ) then { reject; }`,
    );
  out.push('}');
  return out;
}

function exportToPeers(m: BgpModel): string[] {
  const e = m.exports;
  const tunnels = e.ibgpRejectInterfaces.map((p) => `(ifname ~ "${p}")`).join(' || ');
  const out = [
    'function reject_local_routes()',
    '{',
    '  # Routes learned from BPF devices never leave the node.',
    '  if ( defined(ifname) ) then { if ( ifname ~ "bpf*.cali" ) then { reject; } }',
    '}',
    '',
    'function calico_export_to_bgp_peers(bool internal_peer)',
    '{',
    ...ifs(
      e.pools.filter((p) => p.exportAction === 'reject').map((p) => p.cidr),
      'reject',
    ),
    '  if ( internal_peer ) then {',
    `    if ( defined(ifname) ) then { if ( ${tunnels} ) then { reject; } }`,
    '  }',
    '  reject_local_routes();',
    '  apply_communities();',
    '  calico_aggr();',
    ...ifs(e.serviceRoutes, 'accept'),
  ];
  const reflected = e.reflectedServiceRanges.filter((c) => !e.serviceRoutes.includes(c));
  if (reflected.length > 0)
    out.push(
      '  # Route reflector: pass on service ranges learned from clients.',
      ...ifs(reflected, 'accept'),
    );
  out.push(
    ...ifs(
      e.pools.filter((p) => p.exportAction === 'accept').map((p) => p.cidr),
      'accept',
    ),
    '}',
  );
  return out;
}

/** Import: the session's BGPFilter functions, then everything, raising preference for elevated-priority routes (live migration). */
function importBody(m: BgpModel, calls: readonly string[]): string[] {
  const threshold = BIRD_INT_MAX - m.exports.normalRoutePriority;
  return [
    ...calls.map((c) => `  ${c};`),
    `  if ( defined(bgp_local_pref) && bgp_local_pref > ${threshold} ) then preference = ${OVERRIDE_PREFERENCE};`,
    '  accept;',
  ];
}

/** Export: carry route priority in local_pref (krt_metric ↔ local_pref), the BGPFilter functions, then the pool filter. */
function exportBody(internal: boolean, m: BgpModel, calls: readonly string[]): string[] {
  const prio = m.exports.normalRoutePriority;
  return [
    '  if ( defined(source) && source = RTS_BGP && defined(bgp_local_pref) ) then {',
    `    krt_metric = ${BIRD_INT_MAX} - bgp_local_pref;`,
    '  } else {',
    `    if ( !defined(krt_metric) ) then { krt_metric = ${prio}; }`,
    `    bgp_local_pref = ${BIRD_INT_MAX} - krt_metric;`,
    '  }',
    ...calls.map((c) => `  ${c};`),
    `  calico_export_to_bgp_peers(${internal});`,
    '  reject;',
  ];
}

const named = (name: string, body: string[]): string[] => [`filter ${name}`, '{', ...body, '}'];

/** BIRD symbols are at most 64 characters; confd's TruncateAndHashName keeps long names unique. */
function truncateAndHash(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').toUpperCase().slice(0, 16);
  return `${name.slice(0, max - 17)}_${hash}`;
}

/** confd's BGPFilterFunctionName: 'bgp_<name>_importFilterV4' (a quoted BIRD symbol). */
export function filterFunctionName(filter: string, direction: 'import' | 'export'): string {
  const fixed = `bgp__${direction}FilterV4`;
  return `'bgp_${truncateAndHash(filter, 64 - fixed.length)}_${direction}FilterV4'`;
}

const peerTyped = (rules: readonly BgpFilterRule[]) => rules.some((r) => r.peerType !== undefined);

/** The call of a filter's function for one session (peer-type rules need the session's type). */
function filterCall(f: BgpFilterModel, direction: 'import' | 'export', ibgp: boolean): string {
  return `${filterFunctionName(f.name, direction)}(${peerTyped(f[direction]) ? String(ibgp) : ''})`;
}

const OPERATOR = { Equal: '=', NotEqual: '!=', In: '~', NotIn: '!~' } as const;
const community = (v: string, on: 'bgp_community' | 'bgp_large_community' | 'add'): string => {
  const parts = v.split(':');
  const tuple = `(${parts.join(', ')})`;
  const attr = parts.length === 3 ? 'bgp_large_community' : 'bgp_community';
  return on === 'add' ? `${attr}.add(${tuple});` : `(${tuple} ~ ${attr})`;
};

/** One rule as a BIRD statement (conditions joined with &&, then operations and the action). */
function ruleStatement(r: BgpFilterRule): string {
  const conds: string[] = [];
  if (r.cidr !== undefined && r.operator !== undefined) {
    const target = r.prefixLength ? `[ ${r.cidr}{${r.prefixLength[0]},${r.prefixLength[1]}} ]` : r.cidr;
    conds.push(`(net ${OPERATOR[r.operator]} ${target})`);
  }
  if (r.source === 'RemotePeers') conds.push('((defined(source))&&(source ~ [ RTS_BGP ]))');
  if (r.interface !== undefined) conds.push(`((defined(ifname))&&(ifname ~ "${r.interface}"))`);
  for (const c of r.communities) conds.push(community(c, 'bgp_community'));
  if (r.asPathPrefix.length > 0) conds.push(`(bgp_path ~ [= ${r.asPathPrefix.join(' ')} * =])`);
  if (r.priority !== undefined)
    conds.push(`(defined(bgp_local_pref)&&(bgp_local_pref = ${BIRD_INT_MAX - r.priority}))`);
  const body: string[] = [];
  for (const op of r.operations) {
    if (op.kind === 'addCommunity') body.push(community(op.value, 'add'));
    else if (op.kind === 'setPriority') body.push(`bgp_local_pref = ${BIRD_INT_MAX - op.value};`);
    // Prepending the last AS first leaves the prefix in the order written.
    else for (const asn of [...op.prefix].reverse()) body.push(`bgp_path.prepend(${asn});`);
  }
  body.push(`${r.action};`);
  const stmt = conds.length > 0 ? `if (${conds.join('&&')}) then { ${body.join(' ')} }` : body.join(' ');
  if (r.peerType === undefined) return stmt;
  return `if (${r.peerType === 'iBGP' ? '' : '!'}is_same_as) then { ${stmt} }`;
}

/** One BIRD function per BGPFilter and direction with IPv4 rules (confd BGPFilterBIRDFuncs). */
function bgpFilterFunctions(m: BgpModel): string[] {
  if (m.filters.length === 0) return [];
  const out = ["# BGPFilters used by this node's sessions: first matching rule wins."];
  for (const f of m.filters) {
    out.push(`# BGPFilter ${f.name}`);
    for (const direction of ['import', 'export'] as const) {
      const rules = f[direction];
      if (rules.length === 0) continue;
      const param = peerTyped(rules) ? 'bool is_same_as' : '';
      out.push(`function ${filterFunctionName(f.name, direction)}(${param}) {`);
      for (const r of rules) out.push(`  ${ruleStatement(r)}`);
      out.push('}');
    }
  }
  out.push('');
  return out;
}

/** Per-session import/export filters for sessions with BGPFilters; others use the shared ones. */
export function sessionFilters(
  m: BgpModel,
  p: BgpPeerModel,
  symbol: string,
): { lines: string[]; importFilter: string; exportFilter: string } {
  const shared = p.ibgp ? 'calico_export_ibgp' : 'calico_export_ebgp';
  const byName = new Map(m.filters.map((f) => [f.name, f]));
  const calls = (names: readonly string[] | undefined, direction: 'import' | 'export') =>
    (names ?? []).flatMap((n) => {
      const f = byName.get(n);
      return f === undefined ? [] : [filterCall(f, direction, p.ibgp)];
    });
  const imports = calls(p.importFilters, 'import');
  const exports = calls(p.exportFilters, 'export');
  const lines: string[] = [];
  let importFilter = 'calico_import';
  let exportFilter = shared;
  if (imports.length > 0) {
    importFilter = `${symbol.slice(0, 57)}_import`;
    lines.push(...named(importFilter, importBody(m, imports)), '');
  }
  if (exports.length > 0) {
    exportFilter = `${symbol.slice(0, 57)}_export`;
    lines.push(...named(exportFilter, exportBody(p.ibgp, m, exports)), '');
  }
  return { lines, importFilter, exportFilter };
}

function kernelProgramming(m: BgpModel, originateBorrowed: boolean): string[] {
  const e = m.exports;
  const prio = e.normalRoutePriority;
  // BIRD 1 (Calico's) never exported interface routes to the kernel; BIRD 2 would.
  const out = ['filter calico_kernel_programming', '{', '  if ( source = RTS_DEVICE ) then { reject; }'];
  if (originateBorrowed) out.push(`  if ( proto = "${BORROWED_PROTOCOL}" ) then { reject; }`);
  if (e.serviceRejects.length > 0)
    out.push('  # Service ranges are advertised, never programmed.', ...ifs(e.serviceRejects, 'reject'));
  out.push(
    '  if ( defined(source) && source = RTS_BGP && !defined(krt_metric) ) then {',
    `    krt_metric = ${prio};`,
    `    if ( defined(bgp_local_pref) ) then { krt_metric = ${BIRD_INT_MAX} - bgp_local_pref; }`,
    `    if ( krt_metric < ${prio} ) then { preference = ${OVERRIDE_PREFERENCE}; }`,
    '  }',
  );
  for (const hop of e.kernelRejectNextHops)
    out.push(
      `  if ( defined(bgp_next_hop) && bgp_next_hop = ${hop} ) then { reject; } # WireGuard: Felix routes it`,
    );
  for (const p of e.pools)
    out.push(`  if ( net ~ ${p.cidr} ) then { ${p.kernelAction}; }${p.reason ? ` # ${p.reason}` : ''}`);
  out.push('  accept;', '}');
  return out;
}

/** Every function and filter the protocols refer to. */
export function renderFilters(m: BgpModel, originateBorrowed: boolean): string[] {
  return [
    ...communities(m),
    '',
    ...aggregation(m),
    '',
    ...exportToPeers(m),
    '',
    ...named('calico_import', importBody(m, [])),
    '',
    ...named('calico_export_ibgp', exportBody(true, m, [])),
    '',
    ...named('calico_export_ebgp', exportBody(false, m, [])),
    '',
    ...bgpFilterFunctions(m),
    ...kernelProgramming(m, originateBorrowed),
  ];
}
