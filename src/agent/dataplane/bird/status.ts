// Reads BIRD's answers to `show protocols all` and `show status` into typed records, and maps
// BGP protocols to calicoctl-style peer rows. The peer type comes from the protocol name prefix
// the BIRD config uses (Mesh_/Node_/Global_/Local_Workload_), as in Calico's confd templates.
// Pure: it works on reply lines, so captured socket output is a test fixture.

import type { BirdReply, BirdReplyLine } from './birdc.js';

export interface BirdChannel {
  readonly name: string;
  readonly state?: string;
  readonly table?: string;
  readonly routes?: RouteCounts;
}

export interface RouteCounts {
  readonly imported: number;
  readonly filtered: number;
  readonly exported: number;
  readonly preferred: number;
}

export interface BgpDetails {
  /** Idle, Connect, Active, OpenSent, OpenConfirm, Established. */
  readonly state: string;
  readonly neighborAddress?: string;
  readonly neighborAs?: number;
  readonly localAs?: number;
  readonly neighborId?: string;
  readonly sourceAddress?: string;
  /** e.g. `BGP Error: Bad peer AS` (we rejected the peer) or `Received: Bad peer AS` (it rejected us). */
  readonly lastError?: string;
}

export interface BirdProtocol {
  readonly name: string;
  /** BGP, Kernel, Device, Static, Direct, … */
  readonly proto: string;
  readonly table: string;
  /** up, down, start, stop, flush. */
  readonly state: string;
  readonly since: string;
  /** The Info column, whitespace normalised: `Established`, `Idle BGP Error: Bad peer AS`. */
  readonly info: string;
  readonly bgp?: BgpDetails;
  readonly channels: readonly BirdChannel[];
  /** Sums over the channels (undefined when no channel reports routes). */
  readonly routes?: RouteCounts;
}

const PROTOCOL_LIST = 1002;
const PROTOCOL_DETAILS = 1006;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const TIME_RE = /^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Parses the reply to `show protocols` or `show protocols all`. */
export function parseProtocols(reply: BirdReply | readonly BirdReplyLine[]): BirdProtocol[] {
  const lines = 'lines' in reply ? reply.lines : reply;
  const out: BirdProtocol[] = [];
  let current: { summary: Omit<BirdProtocol, 'bgp' | 'channels' | 'routes'>; details: string[] } | undefined;
  const flush = (): void => {
    if (current) out.push(withDetails(current.summary, current.details));
    current = undefined;
  };
  for (const line of lines) {
    if (line.code === PROTOCOL_LIST) {
      flush();
      const summary = parseSummary(line.text);
      if (summary) current = { summary, details: [] };
    } else if (line.code === PROTOCOL_DETAILS && current) {
      current.details.push(line.text);
    }
  }
  flush();
  return out;
}

function parseSummary(text: string): Omit<BirdProtocol, 'bgp' | 'channels' | 'routes'> | undefined {
  const f = text.trim().split(/\s+/);
  if (f.length < 4) return undefined;
  const [name = '', proto = '', table = '', state = ''] = f;
  let i = 4;
  let since = '';
  // `since` is a time today, a date for older events, or "date time" with `timeformat … iso long`.
  if (f[i] !== undefined && (DATE_RE.test(f[i]!) || TIME_RE.test(f[i]!))) {
    since = f[i++]!;
    if (DATE_RE.test(since) && f[i] !== undefined && TIME_RE.test(f[i]!)) since += ` ${f[i++]}`;
  }
  return { name, proto, table, state, since, info: f.slice(i).join(' ') };
}

function withDetails(
  summary: Omit<BirdProtocol, 'bgp' | 'channels' | 'routes'>,
  details: readonly string[],
): BirdProtocol {
  const bgp: Record<string, string> = {};
  const channels: { name: string; attrs: Record<string, string> }[] = [];
  let section: Record<string, string> | undefined;
  for (const raw of details) {
    const text = raw.trim();
    if (text === '') continue;
    const indent = raw.length - raw.trimStart().length;
    const channel = /^Channel (\S+)$/.exec(text);
    if (channel && indent <= 2) {
      const attrs: Record<string, string> = {};
      channels.push({ name: channel[1]!, attrs });
      section = attrs;
      continue;
    }
    const kv = /^([A-Za-z][\w -]*?):\s*(.*)$/.exec(text);
    if (!kv) continue;
    const [, key = '', value = ''] = kv;
    if (key === 'BGP state' && indent <= 2) {
      section = bgp;
      bgp['BGP state'] = value;
      continue;
    }
    // Two-space attributes belong to the protocol itself; deeper ones to the open section.
    if (section && indent > 2 && !(key in section)) section[key] = value;
  }
  const parsedChannels = channels.map(({ name, attrs }) => {
    const routes = attrs['Routes'] === undefined ? undefined : parseRoutes(attrs['Routes']);
    return {
      name,
      ...(attrs['State'] !== undefined && { state: attrs['State'] }),
      ...(attrs['Table'] !== undefined && { table: attrs['Table'] }),
      ...(routes && { routes }),
    };
  });
  const counted = parsedChannels.flatMap((c) => (c.routes ? [c.routes] : []));
  const routes =
    counted.length === 0
      ? undefined
      : counted.reduce((a, b) => ({
          imported: a.imported + b.imported,
          filtered: a.filtered + b.filtered,
          exported: a.exported + b.exported,
          preferred: a.preferred + b.preferred,
        }));
  return {
    ...summary,
    ...(bgp['BGP state'] !== undefined && { bgp: bgpDetails(bgp) }),
    channels: parsedChannels,
    ...(routes && { routes }),
  };
}

function bgpDetails(a: Record<string, string>): BgpDetails {
  const num = (v: string | undefined): number | undefined => {
    const n = Number(v);
    return v !== undefined && v !== '' && Number.isFinite(n) ? n : undefined;
  };
  const neighborAs = num(a['Neighbor AS']);
  const localAs = num(a['Local AS']);
  return {
    state: a['BGP state'] ?? '',
    ...(a['Neighbor address'] !== undefined && { neighborAddress: a['Neighbor address'] }),
    ...(neighborAs !== undefined && { neighborAs }),
    ...(localAs !== undefined && { localAs }),
    ...(a['Neighbor ID'] !== undefined && { neighborId: a['Neighbor ID'] }),
    ...(a['Source address'] !== undefined && { sourceAddress: a['Source address'] }),
    ...(a['Last error'] !== undefined && { lastError: a['Last error'] }),
  };
}

/** `1 imported, 2 filtered, 3 exported, 1 preferred` (filtered appears only when non-zero). */
function parseRoutes(text: string): RouteCounts {
  const get = (word: string): number => Number(new RegExp(`(\\d+) ${word}`).exec(text)?.[1] ?? 0);
  return {
    imported: get('imported'),
    filtered: get('filtered'),
    exported: get('exported'),
    preferred: get('preferred'),
  };
}

export type PeerType = 'node-to-node mesh' | 'node specific' | 'global' | 'local workload';

const PEER_PREFIXES: readonly (readonly [string, PeerType])[] = [
  ['Mesh_', 'node-to-node mesh'],
  ['Node_', 'node specific'],
  ['Global_', 'global'],
  ['Local_Workload_', 'local workload'],
];

export interface BgpPeerRow {
  readonly protocol: string;
  readonly peerAddress: string;
  readonly peerType: PeerType;
  readonly state: string;
  readonly since: string;
  readonly info: string;
  readonly ipVersion: 4 | 6;
  readonly neighborAs?: number;
  readonly localAs?: number;
  readonly lastError?: string;
  readonly routes?: RouteCounts;
}

/** Only BGP protocols named the way our config names peers; others are not Calico peers. */
export function peerRows(protocols: readonly BirdProtocol[]): BgpPeerRow[] {
  const rows: BgpPeerRow[] = [];
  for (const p of protocols) {
    if (p.proto !== 'BGP') continue;
    const match = PEER_PREFIXES.find(([prefix]) => p.name.startsWith(prefix));
    if (!match) continue;
    const peerAddress = p.bgp?.neighborAddress ?? addressFromName(p.name.slice(match[0].length));
    rows.push({
      protocol: p.name,
      peerAddress,
      peerType: match[1],
      state: p.state,
      since: p.since,
      info: p.info,
      ipVersion: peerAddress.includes(':') ? 6 : 4,
      ...(p.bgp?.neighborAs !== undefined && { neighborAs: p.bgp.neighborAs }),
      ...(p.bgp?.localAs !== undefined && { localAs: p.bgp.localAs }),
      ...(p.bgp?.lastError !== undefined && { lastError: p.bgp.lastError }),
      ...(p.routes && { routes: p.routes }),
    });
  }
  return rows;
}

/** `10_0_0_1` → 10.0.0.1, `fd80_24e2__2` → fd80:24e2::2; a `_port_N` suffix is dropped. */
export function addressFromName(rest: string): string {
  const bare = rest.replace(/_port_\d+$/, '');
  const parts = bare.split('_');
  if (parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p))) return parts.join('.');
  return parts.join(':');
}

export interface BirdStatus {
  /** `BIRD 2.0.12` */
  readonly version: string;
  readonly routerId?: string;
  readonly hostname?: string;
  readonly serverTime?: string;
  readonly lastReboot?: string;
  readonly lastReconfiguration?: string;
  /** The final line, e.g. `Daemon is up and running` (or `… shutting down`, `… graceful restart`). */
  readonly message: string;
}

/** Parses the reply to `show status`. */
export function parseStatus(reply: BirdReply): BirdStatus {
  let version = '';
  const fields: Record<string, string> = {};
  const patterns: readonly (readonly [string, RegExp])[] = [
    ['routerId', /^Router ID is (\S+)/],
    ['hostname', /^Hostname is (.+)$/],
    ['serverTime', /^Current server time is (.+)$/],
    ['lastReboot', /^Last reboot on (.+)$/],
    ['lastReconfiguration', /^Last reconfiguration on (.+)$/],
  ];
  const last = reply.lines[reply.lines.length - 1];
  for (const line of reply.lines) {
    if (line.code === 1000 && version === '') version = line.text.trim();
    for (const [key, re] of patterns) {
      const m = re.exec(line.text.trim());
      if (m) fields[key] = m[1]!;
    }
  }
  return { version, ...fields, message: last?.text ?? '' };
}
