// The filter half of the BIRD 2 configuration: confd's bird_aggr.cfg and bird_ipam.cfg
// (aggregation of the node's blocks, export to BGP peers, kernel programming) rewritten for
// upstream BIRD 2 syntax. Pure text from the model; rendered in model order (already sorted).

import type { BgpModel } from '../../calc/routing/bgp.js';

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

/** Import: everything, raising preference for elevated-priority routes (live migration). */
function importFilter(m: BgpModel): string[] {
  const threshold = BIRD_INT_MAX - m.exports.normalRoutePriority;
  return [
    'filter calico_import',
    '{',
    `  if ( defined(bgp_local_pref) && bgp_local_pref > ${threshold} ) then preference = ${OVERRIDE_PREFERENCE};`,
    '  accept;',
    '}',
  ];
}

/** Export: carry route priority in local_pref (krt_metric ↔ local_pref), then the pool filter. */
function exportFilter(name: string, internal: boolean, m: BgpModel): string[] {
  const prio = m.exports.normalRoutePriority;
  return [
    `filter ${name}`,
    '{',
    '  if ( defined(source) && source = RTS_BGP && defined(bgp_local_pref) ) then {',
    `    krt_metric = ${BIRD_INT_MAX} - bgp_local_pref;`,
    '  } else {',
    `    if ( !defined(krt_metric) ) then { krt_metric = ${prio}; }`,
    `    bgp_local_pref = ${BIRD_INT_MAX} - krt_metric;`,
    '  }',
    `  calico_export_to_bgp_peers(${internal});`,
    '  reject;',
    '}',
  ];
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
    ...importFilter(m),
    '',
    ...exportFilter('calico_export_ibgp', true, m),
    '',
    ...exportFilter('calico_export_ebgp', false, m),
    '',
    ...kernelProgramming(m, originateBorrowed),
  ];
}
