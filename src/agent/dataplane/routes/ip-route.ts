// Pure helpers of the route driver: parse `ip -j route show`, diff the routes we own against
// the desired ones, and write the `ip -batch` lines. Kept apart from the driver so that the
// diff and the text can be tested without a kernel.

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';
import type { DesiredRoute, RouteType } from '../../calc/routing/routes.js';

/**
 * The route protocol number that marks Tabby's routes (rtm_protocol). Not in iproute2's
 * rt_protos (kernel 2, boot 3, static 4, bird 12, babel 42, openr 99, bgp 186…), and not
 * Felix's default DeviceRouteProtocol 80, so Tabby can run beside a Calico node without
 * either agent deleting the other's routes. Name it locally with
 * `echo "81 tabby" > /etc/iproute2/rt_protos.d/tabby.conf` if `ip route` should show "tabby".
 */
export const TABBY_ROUTE_PROTOCOL = 81;

/** A route as the kernel reports it, reduced to what we compare. */
export interface KernelRoute {
  readonly dst: string;
  readonly type: RouteType | string;
  readonly via?: string;
  readonly dev?: string;
  readonly onlink: boolean;
  readonly metric: number;
}

export class RouteSpecError extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.RouteSpec, message);
  }
}

/** `ip` prints host routes without their /32 and the default route as "default". */
export function normaliseDst(dst: string): string {
  if (dst === 'default') return '0.0.0.0/0';
  if (dst.includes('/')) return dst;
  return dst.includes(':') ? `${dst}/128` : `${dst}/32`;
}

interface IpJsonRoute {
  type?: string;
  dst?: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  flags?: string[];
}

export function parseIpRouteJson(text: string): KernelRoute[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const rows = JSON.parse(trimmed) as IpJsonRoute[];
  return rows
    .filter((r) => typeof r.dst === 'string')
    .map((r) => ({
      dst: normaliseDst(r.dst!),
      type: r.type ?? 'unicast',
      ...(r.gateway === undefined ? {} : { via: r.gateway }),
      ...(r.dev === undefined ? {} : { dev: r.dev }),
      onlink: r.flags?.includes('onlink') ?? false,
      metric: r.metric ?? 0,
    }));
}

/** True when the kernel's route already is what we want (fields we leave unset are not compared). */
export function routeMatches(want: DesiredRoute, have: KernelRoute): boolean {
  if (want.type !== have.type || want.via !== have.via) return false;
  if (want.dev !== undefined && want.dev !== have.dev) return false;
  return (want.onlink ?? false) === have.onlink;
}

export interface RouteDiff {
  readonly replace: readonly DesiredRoute[];
  readonly remove: readonly KernelRoute[];
  /** Desired routes whose destination another protocol already holds: left alone. */
  readonly conflicts: readonly { readonly route: DesiredRoute; readonly holder: KernelRoute }[];
  readonly unchanged: number;
}

/**
 * `ours`: the table's routes with our protocol; `others`: the table's other routes. We only
 * write with metric 0, so a foreign metric-0 route at the same destination would be replaced
 * by `ip route replace` — that is a conflict we report instead of overwriting.
 */
export function diffRoutes(
  desired: readonly DesiredRoute[],
  ours: readonly KernelRoute[],
  others: readonly KernelRoute[],
): RouteDiff {
  const have = new Map(ours.filter((r) => r.metric === 0).map((r) => [r.dst, r]));
  const foreign = new Map(others.filter((r) => r.metric === 0).map((r) => [r.dst, r]));
  const want = new Set<string>();
  const replace: DesiredRoute[] = [];
  const conflicts: { route: DesiredRoute; holder: KernelRoute }[] = [];
  let unchanged = 0;
  for (const r of desired) {
    if (want.has(r.dst)) throw new RouteSpecError(`route ${r.dst} is wanted twice`);
    want.add(r.dst);
    const cur = have.get(r.dst);
    if (cur !== undefined && routeMatches(r, cur)) unchanged++;
    else if (cur === undefined && foreign.has(r.dst))
      conflicts.push({ route: r, holder: foreign.get(r.dst)! });
    else replace.push(r);
  }
  // Ours at another metric were never written by this driver's current version: clean them too.
  const remove = ours.filter((r) => r.metric !== 0 || !want.has(r.dst));
  return { replace, remove, conflicts, unchanged };
}

const DEV = /^[A-Za-z0-9_.@:-]{1,15}$/;
const ADDR = /^[0-9A-Fa-f:.]+$/;
const CIDR = /^[0-9A-Fa-f:.]+\/\d{1,3}$/;

/** One `ip -batch` line replacing (or adding) `r`, validated so no text can smuggle a command. */
export function replaceLine(r: DesiredRoute, table: string, protocol: number): string {
  if (!CIDR.test(r.dst)) throw new RouteSpecError(`route ${r.dst}: bad destination`);
  if (r.via !== undefined && !ADDR.test(r.via)) throw new RouteSpecError(`route ${r.dst}: bad via ${r.via}`);
  if (r.dev !== undefined && !DEV.test(r.dev))
    throw new RouteSpecError(`route ${r.dst}: bad device ${r.dev}`);
  if (r.type === 'unicast' && r.via === undefined && r.dev === undefined)
    throw new RouteSpecError(`route ${r.dst}: a unicast route needs via or dev`);
  const parts = ['route', 'replace'];
  if (r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dst);
  if (r.via !== undefined) parts.push('via', r.via);
  if (r.dev !== undefined) parts.push('dev', r.dev);
  if (r.onlink) parts.push('onlink');
  parts.push('table', table, 'proto', String(protocol));
  return parts.join(' ');
}

/** Deletes only a route of our protocol: `ip route del` matches the protocol we name. */
export function deleteLine(r: KernelRoute, table: string, protocol: number): string {
  const metric = r.metric === 0 ? [] : ['metric', String(r.metric)];
  return ['route', 'del', r.dst, ...metric, 'table', table, 'proto', String(protocol)].join(' ');
}

/** Failures in `ip -force -batch` stderr: "Error: …" lines, then "Command failed -:N". */
export function parseBatchFailures(stderr: string): { line: number; message: string }[] {
  const out: { line: number; message: string }[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const l = raw.trim();
    const m = /Command failed -:(\d+)/.exec(l);
    if (m) {
      out.push({ line: Number(m[1]), message: pending.join('; ') || 'failed' });
      pending = [];
    } else if (l !== '') pending.push(l.replace(/^.*?: (?=Error:|RTNETLINK)/, ''));
  }
  return out;
}
