// The BIRD 2 configuration of one node, rendered from its BGP model (agent/calc/routing/bgp)
// as confd renders bird.cfg, bird_aggr.cfg and bird_ipam.cfg, but as one file in upstream
// BIRD 2 syntax (channels, `local … port`). Pure and deterministic: an unchanged model gives
// byte-identical text, which is how the driver knows to skip `birdc configure`.

import type { BgpModel, BgpPeerModel, SecretRef } from '../../calc/routing/bgp.js';
import { BORROWED_PROTOCOL, renderFilters, safePattern, sessionFilters } from './render-filters.js';

export interface BirdTimers {
  readonly connectDelaySeconds: number;
  readonly connectRetrySeconds: number;
  readonly errorWaitSeconds: readonly [number, number];
  /** undefined = BIRD's default (240 s). */
  readonly holdSeconds?: number;
  /** undefined = BIRD's default (hold / 3). */
  readonly keepaliveSeconds?: number;
}

/** Calico's bgp_template: connect delay 2, connect retry 5, error wait 5,30; BIRD's hold. */
export const PRODUCTION_TIMERS: BirdTimers = Object.freeze({
  connectDelaySeconds: 2,
  connectRetrySeconds: 5,
  errorWaitSeconds: [5, 30] as const,
});

/** machine-notes §2: Established in under a second, recovery after an error in seconds. */
export const FAST_TIMERS: BirdTimers = Object.freeze({
  connectDelaySeconds: 1,
  connectRetrySeconds: 2,
  errorWaitSeconds: [1, 5] as const,
  holdSeconds: 9,
  keepaliveSeconds: 3,
});

export interface BirdRenderOptions {
  readonly timers?: BirdTimers;
  /** Resolves a BGP password secret (the agent reads mounted secret files); undefined = missing. */
  readonly passwords?: (ref: SecretRef) => string | undefined;
  readonly deviceScanSeconds?: number;
  readonly kernelScanSeconds?: number;
  /** Kernel routing table for `protocol kernel` (default: main). */
  readonly kernelTable?: number;
  /** More interface patterns kept out of `protocol direct` (on top of cali*, kube-ipvs*). */
  readonly excludeInterfaces?: readonly string[];
  /**
   * Advertise borrowed /32s from a static protocol instead of relying on BIRD learning the
   * workload routes from the kernel (Calico's way). Off by default.
   */
  readonly originateBorrowed?: boolean;
}

export interface BirdPasswordProblem {
  readonly peer: string;
  readonly ref: SecretRef;
  readonly problem: 'missing' | 'unrepresentable';
}

export interface BirdRender {
  readonly text: string;
  /** Peers rendered without their password (as confd does when a secret cannot be read). */
  readonly passwordProblems: readonly BirdPasswordProblem[];
}

/** BIRD symbols: letters, digits, underscores, not starting with a digit, at most 64 chars. */
export function birdSymbol(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, '_');
  return (/^[0-9]/.test(s) ? `_${s}` : s).slice(0, 64);
}

function debugLine(m: BgpModel, indent: string): string[] {
  if (m.debug === 'none') return [];
  return [`${indent}${m.debug === 'all' ? 'debug all;' : 'debug { states };'}`];
}

function staticProtocol(m: BgpModel): string[] {
  const routes = [
    // A /32 block is aggregated but not blackholed (confd bird_aggr.cfg).
    ...m.exports.blocks.filter((c) => !c.endsWith('/32')).map((c) => `  route ${c} blackhole;`),
    ...m.exports.serviceRoutes.map((c) => `  route ${c} blackhole;`),
    ...m.peers
      .filter((p) => p.reachableBy !== undefined)
      .map((p) => `  route ${p.ip}/32 via ${p.reachableBy};`),
  ];
  if (routes.length === 0) return ['# No IP blocks or static routes for this host.'];
  return [
    '# IP blocks and advertised service ranges of this host.',
    'protocol static calico_static {',
    '  ipv4;',
    ...routes,
    '}',
  ];
}

function borrowedProtocol(m: BgpModel): string[] {
  if (m.exports.borrowed.length === 0) return [];
  return [
    '',
    `protocol static ${BORROWED_PROTOCOL} {`,
    '  ipv4;',
    ...m.exports.borrowed.map((c) => `  route ${c} blackhole;`),
    '}',
  ];
}

function template(m: BgpModel, t: BirdTimers): string[] {
  const local = [
    'local',
    m.listenAddress,
    m.listenPort !== undefined ? `port ${m.listenPort}` : undefined,
    `as ${m.asNumber}`,
  ]
    .filter(Boolean)
    .join(' ');
  return [
    'template bgp bgp_template {',
    ...debugLine(m, '  '),
    '  description "Connection to BGP peer";',
    `  ${local};`,
    ...(m.listenAddress !== undefined ? ['  strict bind on;'] : []),
    '  graceful restart;',
    `  connect delay time ${t.connectDelaySeconds};`,
    `  connect retry time ${t.connectRetrySeconds};`,
    `  error wait time ${t.errorWaitSeconds[0]},${t.errorWaitSeconds[1]};`,
    ...(t.holdSeconds !== undefined ? [`  hold time ${t.holdSeconds};`] : []),
    ...(t.keepaliveSeconds !== undefined ? [`  keepalive time ${t.keepaliveSeconds};`] : []),
    '}',
  ];
}

/** BIRD strings have no escapes: a password with a quote, backslash or control char cannot be written. */
const representable = (s: string): boolean => s !== '' && !/["\\\p{Cc}]/u.test(s);

function peerProtocol(
  m: BgpModel,
  p: BgpPeerModel,
  opts: BirdRenderOptions,
  problems: BirdPasswordProblem[],
): string[] {
  const name = birdSymbol(p.name);
  const filters = sessionFilters(m, p, name);
  const lines = [...filters.lines, `protocol bgp ${name} from bgp_template {`];
  if (p.localAsNumber !== undefined) lines.push(`  local as ${p.localAsNumber};`);
  lines.push(`  neighbor ${p.ip}${p.port !== undefined ? ` port ${p.port}` : ''} as ${p.asNumber};`);
  if (p.sourceAddress !== undefined) lines.push(`  source address ${p.sourceAddress};`);
  if (p.ttlSecurityHops !== undefined) lines.push('  ttl security on;', `  multihop ${p.ttlSecurityHops};`);
  else lines.push('  ttl security off;', '  multihop;');
  if (p.passive) lines.push('  passive on; # the peer connects to us');
  if (p.restartSeconds !== undefined) lines.push(`  graceful restart time ${p.restartSeconds};`);
  if (p.keepaliveSeconds !== undefined) lines.push(`  keepalive time ${p.keepaliveSeconds};`);
  if (p.rrClusterId !== undefined) lines.push('  rr client;', `  rr cluster id ${p.rrClusterId};`);
  if (p.password !== undefined) {
    const secret = opts.passwords?.(p.password);
    if (secret === undefined) problems.push({ peer: name, ref: p.password, problem: 'missing' });
    else if (!representable(secret))
      problems.push({ peer: name, ref: p.password, problem: 'unrepresentable' });
    else lines.push(`  password "${secret}";`);
  }
  if (p.allowLocalAs !== undefined) lines.push(`  allow local as ${p.allowLocalAs};`);
  const channel = [
    'gateway recursive;',
    'add paths on;',
    `import filter ${filters.importFilter};`,
    `export filter ${filters.exportFilter};`,
    ...(p.nextHop !== undefined ? [`next hop ${p.nextHop};`] : []),
  ];
  lines.push(`  ipv4 { ${channel.join(' ')} };`, '}');
  return lines;
}

/** The configuration text plus the passwords it had to leave out. */
export function renderBird(m: BgpModel, opts: BirdRenderOptions = {}): BirdRender {
  const t = opts.timers ?? PRODUCTION_TIMERS;
  const problems: BirdPasswordProblem[] = [];
  const excluded = [...m.ignoredInterfaces, ...(opts.excludeInterfaces ?? [])].filter(safePattern);
  const directIfs = [...new Set(excluded)].map((p) => `-"${p}"`).concat('-"cali*"', '-"kube-ipvs*"', '"*"');
  const lines = [
    `# BIRD 2 configuration for node ${m.node}, generated by tabby; do not edit.`,
    `router id ${m.routerId};`,
    '',
    ...renderFilters(m, opts.originateBorrowed === true),
    '',
    ...staticProtocol(m),
    ...(opts.originateBorrowed ? borrowedProtocol(m) : []),
    '',
    '# Synchronise BIRD routes with the kernel.',
    'protocol kernel calico_kernel {',
    '  learn;   # alien routes: workloads, borrowed addresses',
    '  persist; # keep routes when BIRD stops',
    `  scan time ${opts.kernelScanSeconds ?? 2};`,
    ...(opts.kernelTable !== undefined ? [`  kernel table ${opts.kernelTable};`] : []),
    '  graceful restart;',
    '  merge paths on;',
    '  ipv4 { import all; export filter calico_kernel_programming; };',
    '}',
    '',
    'protocol device {',
    ...debugLine(m, '  '),
    `  scan time ${opts.deviceScanSeconds ?? 2};`,
    '}',
    '',
    'protocol direct {',
    ...debugLine(m, '  '),
    '  ipv4;',
    `  interface ${directIfs.join(', ')};`,
    '}',
    '',
    ...template(m, t),
  ];
  if (m.peers.length === 0) lines.push('', '# No BGP peers configured for this node.');
  for (const p of m.peers) lines.push('', ...peerProtocol(m, p, opts, problems));
  return { text: `${lines.join('\n')}\n`, passwordProblems: problems };
}

/** The configuration text (see renderBird for the passwords it could not include). */
export function renderBirdConfig(m: BgpModel, opts: BirdRenderOptions = {}): string {
  return renderBird(m, opts).text;
}
