// `tabby status`: the fleet as the replicas see it. Asks each replica's /fleet (on its
// health/metrics port) and prints per replica the agents by syncer — current, behind (by how
// much), divergent (acknowledged state hash differs from the published one) — the worst by
// name, close reasons of the last minutes and whether its data is fresh. Exit 0 when every
// replica answers, is in sync and has no agent behind or divergent; 1 otherwise.

import { get } from 'node:http';
import { Command } from 'commander';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { type StatusConfig, statusSchema } from '../config/status-config.js';
import { parseHostPort } from '../model/address.js';
import type { AgentRow, FleetReport } from '../observability/fleet.js';

/** A /fleet answer larger than this is not one (10,000 agents with rows is about 4 MiB). */
const MAX_REPLY_BYTES = 64 << 20;

export type ReplicaStatus =
  | { address: string; ok: true; report: FleetReport }
  | { address: string; ok: false; error: string };

export function statusCommand(): Command {
  const cmd = new Command('status').description(
    'show the fleet as each replica sees it: agents current, behind and divergent, the worst by name, recent closes, data freshness',
  );
  addSchemaOptions(cmd, statusSchema.shape);
  cmd.action(async () => {
    const cfg = resolveConfig(cmd, statusSchema);
    process.exitCode = await status(cfg);
  });
  return cmd;
}

async function status(cfg: StatusConfig): Promise<number> {
  const addresses = cfg.server.split(',').map((a) => a.trim());
  const replicas = await Promise.all(addresses.map((a) => askReplica(a, cfg.agents, cfg.timeoutMs)));
  const totals = fleetTotals(replicas);
  if (cfg.json) process.stdout.write(`${JSON.stringify({ replicas, totals })}\n`);
  else process.stdout.write(renderStatus(replicas, totals, cfg.agents));
  return totals.healthy ? 0 : 1;
}

/** GET http://address/fleet; any failure becomes the replica's error, never an exception. */
export function askReplica(address: string, agents: boolean, timeoutMs: number): Promise<ReplicaStatus> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve) => {
    const fail = (error: string) => resolve({ address, ok: false, error });
    const req = get({ host, port, path: `/fleet${agents ? '?agents=1' : ''}`, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REPLY_BYTES) req.destroy(new Error(`reply larger than ${MAX_REPLY_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('error', (err) => fail(err.message));
      res.on('end', () => {
        if (res.statusCode === 404)
          return fail('no /fleet here: a tabby serve health port of an older version?');
        if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
        try {
          const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as FleetReport;
          if (!Array.isArray(report?.syncers) || typeof report.datastore !== 'object')
            return fail('the reply is not a fleet report');
          resolve({ address, ok: true, report });
        } catch {
          fail('the reply is not JSON');
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code?.startsWith('HPE_')
          ? 'not an HTTP answer: is this the sync port? tabby status reads the health/metrics port (--health-listen, 9098)'
          : err.message,
      ),
    );
  });
}

export interface FleetTotals {
  replicas: number;
  unreachable: number;
  notInSync: number;
  agents: number;
  current: number;
  behind: number;
  divergent: number;
  unacked: number;
  /** Every replica answers and is in sync, and no agent is behind or divergent. */
  healthy: boolean;
}

export function fleetTotals(replicas: readonly ReplicaStatus[]): FleetTotals {
  const t: FleetTotals = {
    replicas: replicas.length,
    unreachable: 0,
    notInSync: 0,
    agents: 0,
    current: 0,
    behind: 0,
    divergent: 0,
    unacked: 0,
    healthy: false,
  };
  for (const r of replicas) {
    if (!r.ok) {
      t.unreachable++;
      continue;
    }
    if (!r.report.datastore.inSync) t.notInSync++;
    for (const s of r.report.syncers) {
      t.agents += s.agents;
      t.current += s.current;
      t.behind += s.behind;
      t.divergent += s.divergent;
      t.unacked += s.unacked;
    }
  }
  t.healthy = t.unreachable === 0 && t.notInSync === 0 && t.behind === 0 && t.divergent === 0;
  return t;
}

/** "12 s", "3 min 4 s", "2 h 5 min". */
export function duration(ms: number): string {
  const sec = Math.max(0, Math.round(ms / 1000));
  const [h, m, s] = [Math.floor(sec / 3600), Math.floor(sec / 60) % 60, sec % 60];
  if (h > 0) return `${h} h ${m} min`;
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}

/** Left-aligned columns two spaces apart, like kubectl get. */
function columns(rows: readonly (readonly (string | number)[])[], indent = '  '): string {
  const widths: number[] = [];
  for (const r of rows)
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, String(c).length);
  return rows
    .map(
      (r) => `${indent}${r.map((c, i) => String(c).padEnd(i === r.length - 1 ? 0 : widths[i]!)).join('  ')}`,
    )
    .join('\n');
}

const lag = (a: Pick<AgentRow, 'lagMs' | 'lagGenerations'>): string =>
  a.lagMs === null ? '—' : `${duration(a.lagMs)} / ${a.lagGenerations} gen`;

function renderReplica(r: ReplicaStatus, withAgents: boolean): string {
  if (!r.ok) return `${r.address}: UNREACHABLE: ${r.error}\n`;
  const { report } = r;
  const d = report.datastore;
  const fresh = d.inSync
    ? 'datastore in sync'
    : `datastore NOT in sync (${Object.entries(d.statuses)
        .map(([s, v]) => `${s} ${v}`)
        .join(', ')}${d.api && !d.api.live ? `; API not answering: ${d.api.reason ?? '?'}` : ''}), data age ${
        d.dataAgeMs === null ? 'unknown: not in sync since start' : duration(d.dataAgeMs)
      }`;
  const out = [`${report.serverId} (${r.address}): ${fresh}`];
  out.push(
    columns([
      [
        'SYNCER',
        'STATUS',
        'GEN',
        'LAST CHANGE',
        'AGENTS',
        'CURRENT',
        'BEHIND',
        'DIVERGENT',
        'UNACKED',
        'NO HASH',
        'MAX LAG',
      ],
      ...report.syncers.map((s) => [
        s.syncer,
        s.status,
        s.headGeneration,
        `${duration(s.lastChangeAgeMs)} ago`,
        s.agents,
        s.current,
        s.behind,
        s.divergent,
        s.unacked,
        s.hashUnknown,
        lag({ lagMs: s.maxLagMs, lagGenerations: s.maxLagGenerations }),
      ]),
    ]),
  );
  const worst = report.syncers.flatMap((s) =>
    s.worst.map(
      (w) =>
        `${s.syncer} ${w.hostname || '(no hostname)'} ${w.state === 'divergent' ? 'divergent' : `behind ${lag(w)}`}`,
    ),
  );
  if (worst.length > 0) out.push(`  worst: ${worst.join('; ')}`);
  const reasons = report.closes.reasons.map((c) => `${c.syncer} ${c.reason} ${c.count}`);
  out.push(
    `  closes in the last ${duration(report.closes.coveredMs)}: ${reasons.length > 0 ? reasons.join('; ') : 'none'}`,
  );
  if (withAgents && report.agents)
    out.push(
      columns([
        ['HOSTNAME', 'SYNCER', 'ADDRESS', 'CONNECTED', 'ACKED GEN', 'LAG', 'BYTES SENT', 'HASH', 'STATE'],
        ...report.agents.map((a) => [
          a.hostname || '(none)',
          a.syncer,
          a.address,
          `${duration(report.atMs - a.connectedAtMs)} ago`,
          a.ackedGeneration ?? '—',
          lag(a),
          a.bytesSent,
          a.hash,
          a.state,
        ]),
      ]),
    );
  return `${out.join('\n')}\n`;
}

export function renderStatus(replicas: readonly ReplicaStatus[], t: FleetTotals, withAgents = false): string {
  const parts = replicas.map((r) => renderReplica(r, withAgents));
  const problems = [
    t.unreachable > 0 && `${t.unreachable} unreachable`,
    t.notInSync > 0 && `${t.notInSync} not in sync`,
  ].filter(Boolean);
  parts.push(
    `${t.replicas} replica${t.replicas === 1 ? '' : 's'}${problems.length > 0 ? ` (${problems.join(', ')})` : ''}: ` +
      `${t.agents} agents, ${t.current} current, ${t.behind} behind, ${t.divergent} divergent, ${t.unacked} unacked\n`,
  );
  return parts.join('\n');
}
