// Link, routes and the routing rule around the WireGuard device, through `ip -j` reads and
// diffs. We own: the device's MTU/state/addresses, the routes of the WireGuard table that carry
// our protocol number, and the `not fwmark M/M lookup T` rule(s) of that table. Nothing else
// is read for writing or removed.

import { WireguardError } from './errors.js';
import type { WireguardShim } from './shim.js';

export interface TableRoute {
  readonly cidr: string;
  readonly type: 'device' | 'throw';
}

export interface RuleSpec {
  readonly table: number;
  readonly priority: number;
  readonly firewallMark: number;
}

interface IpRoute {
  readonly type?: string;
  readonly dst: string;
  readonly dev?: string;
  readonly protocol?: string;
}

interface IpRule {
  readonly priority: number;
  readonly not?: null;
  readonly fwmark?: string;
  readonly fwmask?: string;
  readonly table?: string;
}

interface IpAddr {
  readonly mtu: number;
  readonly flags: readonly string[];
  readonly addr_info?: readonly { family: string; local: string; prefixlen: number }[];
}

/** `ip -j` prints a single address without "/32"; routes we compare in full CIDR text. */
const full = (dst: string) => (dst.includes('/') ? dst : `${dst}/32`);

export class Netlink {
  constructor(private readonly shim: WireguardShim) {}

  async #json<T>(args: readonly string[]): Promise<T[]> {
    const out = (await this.shim.run('ip', ['-j', ...args])).stdout.trim();
    return out === '' ? [] : (JSON.parse(out) as T[]);
  }

  async #batch(lines: readonly string[], stage: 'link' | 'routes' | 'rule' | 'cleanup'): Promise<void> {
    if (lines.length === 0) return;
    try {
      await this.shim.run('ip', ['-batch', '-'], `${lines.join('\n')}\n`);
    } catch (err) {
      throw new WireguardError(stage, (err as Error).message, { cause: err });
    }
  }

  /** MTU, admin up, and exactly `address`/32 as the device's IPv4 address (Felix's rule). */
  async ensureLink(dev: string, mtu: number, address: string | undefined): Promise<string[]> {
    let link: IpAddr | undefined;
    try {
      [link] = await this.#json<IpAddr>(['addr', 'show', 'dev', dev]);
    } catch (err) {
      throw new WireguardError('link', `reading ${dev}: ${(err as Error).message}`, { cause: err });
    }
    if (link === undefined) throw new WireguardError('link', `device ${dev} vanished`);
    const cmds: string[] = [];
    if (link.mtu !== mtu) cmds.push(`link set dev ${dev} mtu ${mtu}`);
    const v4 = (link.addr_info ?? []).filter((a) => a.family === 'inet');
    for (const a of v4)
      if (a.local !== address || a.prefixlen !== 32)
        cmds.push(`addr del ${a.local}/${a.prefixlen} dev ${dev}`);
    if (address !== undefined && !v4.some((a) => a.local === address && a.prefixlen === 32))
      cmds.push(`addr add ${address}/32 dev ${dev}`);
    if (!link.flags.includes('UP')) cmds.push(`link set dev ${dev} up`);
    await this.#batch(cmds, 'link');
    return cmds;
  }

  /** Our routes in `table` (those with protocol `proto`). */
  async readRoutes(table: number, proto: number): Promise<Map<string, TableRoute & { dev?: string }>> {
    let routes: IpRoute[];
    try {
      routes = await this.#json<IpRoute>(['route', 'show', 'table', String(table)]);
    } catch (err) {
      // The kernel creates a table with its first route; before that, it has none.
      if (/FIB table does not exist/.test((err as Error).message)) return new Map();
      throw new WireguardError('routes', `reading table ${table}: ${(err as Error).message}`, { cause: err });
    }
    const ours = new Map<string, TableRoute & { dev?: string }>();
    for (const r of routes)
      if (r.protocol === String(proto))
        ours.set(full(r.dst), {
          cidr: full(r.dst),
          type: r.type === 'throw' ? 'throw' : 'device',
          dev: r.dev,
        });
    return ours;
  }

  /** Makes our routes in `table` exactly `desired`; returns the commands it ran. */
  async syncRoutes(
    table: number,
    proto: number,
    dev: string,
    desired: readonly TableRoute[],
  ): Promise<string[]> {
    const have = await this.readRoutes(table, proto);
    const want = new Map(desired.map((r) => [r.cidr, r]));
    const tail = `table ${table} proto ${proto}`;
    const cmds: string[] = [];
    // Replace in place first (a CIDR moving between device and throw never lacks a route),
    // then delete what is no longer wanted.
    for (const r of want.values()) {
      const h = have.get(r.cidr);
      if (h !== undefined && h.type === r.type && (r.type === 'throw' || h.dev === dev)) continue;
      cmds.push(
        r.type === 'throw'
          ? `route replace throw ${r.cidr} ${tail}`
          : `route replace ${r.cidr} dev ${dev} ${tail}`,
      );
    }
    for (const h of have.values())
      if (!want.has(h.cidr)) cmds.push(`route del ${h.type === 'throw' ? 'throw ' : ''}${h.cidr} ${tail}`);
    await this.#batch(cmds, 'routes');
    return cmds;
  }

  /** Our rules: those that send unmarked traffic to `table`. */
  async #ourRules(table: number): Promise<IpRule[]> {
    try {
      const rules = await this.#json<IpRule>(['rule', 'show']);
      return rules.filter((r) => r.table === String(table) && 'not' in r && r.fwmark !== undefined);
    } catch (err) {
      throw new WireguardError('rule', `reading rules: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Ensures the single rule `not fwmark M/M lookup T priority P`; returns the commands run. */
  async ensureRule(spec: RuleSpec): Promise<string[]> {
    const mark = `0x${spec.firewallMark.toString(16)}`;
    const rules = await this.#ourRules(spec.table);
    const right = (r: IpRule) =>
      r.priority === spec.priority &&
      Number(r.fwmark) === spec.firewallMark &&
      Number(r.fwmask) === spec.firewallMark;
    const cmds: string[] = [];
    if (!rules.some(right))
      cmds.push(`rule add not fwmark ${mark}/${mark} lookup ${spec.table} priority ${spec.priority}`);
    let kept = false;
    for (const r of rules) {
      if (right(r) && !kept) {
        kept = true;
        continue;
      }
      cmds.push(`rule del priority ${r.priority} not fwmark ${r.fwmark}/${r.fwmask} lookup ${spec.table}`);
    }
    await this.#batch(cmds, 'rule');
    return cmds;
  }

  /** Removes our rule(s) and our routes of `table`. */
  async cleanup(table: number, proto: number): Promise<string[]> {
    const cmds = (await this.#ourRules(table)).map(
      (r) => `rule del priority ${r.priority} not fwmark ${r.fwmark}/${r.fwmask} lookup ${table}`,
    );
    await this.#batch(cmds, 'cleanup');
    const routes = await this.readRoutes(table, proto);
    const del = [...routes.values()].map(
      (h) => `route del ${h.type === 'throw' ? 'throw ' : ''}${h.cidr} table ${table} proto ${proto}`,
    );
    await this.#batch(del, 'cleanup');
    return [...cmds, ...del];
  }
}
