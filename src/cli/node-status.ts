// `tabby node status` (like `calicoctl node status`): whether BIRD answers on its control socket,
// the BGP peers it runs (type from the protocol name, state, since, info — including errors such
// as `Bad peer AS`) and, with --wireguard-interface, the WireGuard peers with their latest
// handshake and transfer. Exit code 0 when BIRD answers, 1 when it does not.

import { Command } from 'commander';
import { BirdClient, BirdError } from '../agent/dataplane/bird/birdc.js';
import {
  type BgpPeerRow,
  type BirdProtocol,
  type BirdStatus,
  parseProtocols,
  parseStatus,
  peerRows,
} from '../agent/dataplane/bird/status.js';
import { execShim } from '../agent/dataplane/exec-shim.js';
import { parseWgDump, type WgInterfaceStatus } from '../agent/dataplane/wireguard/status.js';
import { type NodeStatusConfig, nodeStatusSchema } from '../config/node-status-config.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';

export function nodeCommand(): Command {
  const node = new Command('node').description('inspect this node (BGP sessions, WireGuard peers)');
  const status = new Command('status').description(
    'show whether BIRD runs, its BGP peers and the WireGuard peers of this node',
  );
  addSchemaOptions(status, nodeStatusSchema.shape);
  status.action(async () => {
    const cfg = resolveConfig(status, nodeStatusSchema);
    process.exitCode = await nodeStatus(cfg);
  });
  node.addCommand(status);
  return node;
}

type WireguardReport = ({ interface: string } & WgInterfaceStatus) | { interface: string; error: string };

async function nodeStatus(cfg: NodeStatusConfig): Promise<number> {
  const wireguard = cfg.wireguardInterface ? readWireguard(cfg.wireguardInterface, cfg.timeoutMs) : undefined;
  let bird: { status: BirdStatus; protocols: BirdProtocol[] };
  try {
    bird = await readBird(cfg.birdSocket, cfg.timeoutMs);
  } catch (err) {
    if (!(err instanceof BirdError)) throw err;
    const wg = await wireguard;
    if (cfg.json)
      process.stdout.write(
        `${JSON.stringify({ bird: { running: false, socket: cfg.birdSocket, error: err.message }, ...(wg && { wireguard: wg }) })}\n`,
      );
    else if (wg) process.stdout.write(renderWireguard(wg));
    process.stderr.write(`tabby node status: BIRD is not answering: ${err.message}\n`);
    return 1;
  }
  const peers = peerRows(bird.protocols);
  const wg = await wireguard;
  if (cfg.json) {
    process.stdout.write(
      `${JSON.stringify({
        bird: { running: true, socket: cfg.birdSocket, ...bird.status },
        peers,
        protocols: bird.protocols,
        ...(wg && { wireguard: wg }),
      })}\n`,
    );
    return 0;
  }
  process.stdout.write(renderBird(bird.status, peers) + (wg ? `\n${renderWireguard(wg)}` : ''));
  return 0;
}

async function readBird(
  socketPath: string,
  timeoutMs: number,
): Promise<{ status: BirdStatus; protocols: BirdProtocol[] }> {
  const client = await BirdClient.connect({
    socketPath,
    connectTimeoutMs: timeoutMs,
    commandTimeoutMs: timeoutMs,
  });
  try {
    const status = parseStatus(await client.showStatus());
    const protocols = parseProtocols(await client.showProtocolsAll());
    return { status, protocols };
  } finally {
    client.close();
  }
}

async function readWireguard(name: string, timeoutMs: number): Promise<WireguardReport> {
  try {
    const { stdout } = await execShim({ timeoutMs }).run('wg', ['show', name, 'dump']);
    return { interface: name, ...parseWgDump(stdout) };
  } catch (err) {
    return { interface: name, error: (err as Error).message };
  }
}

/** The BIRD part of the text output: a status line, then one table per IP version. */
export function renderBird(status: BirdStatus, peers: readonly BgpPeerRow[]): string {
  const about = [status.version || 'BIRD', status.routerId && `router ID ${status.routerId}`]
    .filter(Boolean)
    .join(', ');
  const out = [`BIRD is running (${about}): ${status.message.toLowerCase()}.`];
  if (status.lastReconfiguration) out.push(`Last reconfiguration on ${status.lastReconfiguration}.`);
  for (const v of [4, 6] as const) {
    out.push('', `IPv${v} BGP status`);
    const rows = peers.filter((p) => p.ipVersion === v);
    if (rows.length === 0) out.push(`No IPv${v} peers found.`);
    else
      out.push(
        table(
          ['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'],
          rows.map((r) => [r.peerAddress, r.peerType, r.state, r.since, r.info]),
        ),
      );
  }
  return `${out.join('\n')}\n`;
}

export function renderWireguard(wg: WireguardReport, nowSec = Date.now() / 1000): string {
  if ('error' in wg) return `WireGuard status (interface ${wg.interface})\nCannot read it: ${wg.error}\n`;
  const head = `WireGuard status (interface ${wg.interface}, public key ${wg.publicKey || '(none)'}, listening port ${wg.listenPort})`;
  if (wg.peers.length === 0) return `${head}\nNo WireGuard peers found.\n`;
  const rows = wg.peers.map((p) => [
    p.publicKey,
    p.endpoint ?? '(none)',
    p.allowedIps.join(', ') || '(none)',
    p.latestHandshakeSec === undefined ? 'never' : `${ago(nowSec - p.latestHandshakeSec)} ago`,
    bytes(p.rxBytes),
    bytes(p.txBytes),
  ]);
  return `${head}\n${table(['PEER PUBLIC KEY', 'ENDPOINT', 'ALLOWED IPS', 'LATEST HANDSHAKE', 'RECEIVED', 'SENT'], rows)}\n`;
}

function ago(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A bordered table like calicoctl's: centred headings, left-aligned cells. */
function table(headings: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headings.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const centre = (s: string, w: number): string => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  const line = (cells: readonly string[], align: (s: string, w: number) => string): string =>
    `| ${cells.map((c, i) => align(c, widths[i]!)).join(' | ')} |`;
  return [rule, line(headings, centre), rule, ...rows.map((r) => line(r, (s, w) => s.padEnd(w))), rule].join(
    '\n',
  );
}
