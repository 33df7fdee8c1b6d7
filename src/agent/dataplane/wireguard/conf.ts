// Pure text work for the WireGuard device: the `wg syncconf` file for the desired state, the
// parse of `wg show NAME dump`, and the comparison that decides whether a syncconf is due.
// The dump's first field is the private key: the parser drops it on the spot.

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';

export interface DesiredPeer {
  readonly publicKey: string;
  readonly endpoint: string;
  readonly allowedIps: readonly string[];
  readonly persistentKeepaliveSeconds: number;
}

export interface DesiredDevice {
  /** The public key of the private key the device must hold. */
  readonly publicKey: string;
  readonly listenPort: number;
  readonly firewallMark: number;
  readonly peers: readonly DesiredPeer[];
}

export interface DumpPeer {
  readonly publicKey: string;
  /** The key itself is never kept, only whether one is set. */
  readonly hasPresharedKey: boolean;
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  /** Unix seconds; undefined = never. */
  readonly latestHandshake?: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** 0 = off. */
  readonly persistentKeepaliveSeconds: number;
}

export interface DeviceDump {
  readonly publicKey?: string;
  readonly listenPort: number;
  readonly firewallMark: number;
  readonly peers: readonly DumpPeer[];
}

const none = (s: string | undefined) => (s === undefined || s === '(none)' || s === 'off' ? undefined : s);

export class WgDumpError extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.WgDump, message);
  }
}

/**
 * Parses `wg show NAME dump` of one interface (not `wg show all dump`): tab-separated, an
 * interface line of 4 fields, then one line of 8 per peer. The one parser of the dump: the
 * dataplane compares it with the desired device, `tabby node status` shows it.
 */
export function parseDump(text: string): DeviceDump {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const [head, ...rest] = lines.map((l) => l.split('\t'));
  if (head?.length !== 4)
    throw new WgDumpError(
      `wg dump: want an interface line of 4 fields, got ${JSON.stringify(lines[0] ?? '')}`,
    );
  const peers = rest.map((f, i): DumpPeer => {
    if (f.length !== 8) throw new WgDumpError(`wg dump: peer line ${i + 1} has ${f.length} fields, want 8`);
    const handshake = Number(f[4] ?? '0');
    return {
      publicKey: f[0]!,
      hasPresharedKey: none(f[1]) !== undefined && f[1] !== '',
      endpoint: none(f[2]),
      allowedIps: (none(f[3]) ?? '').split(',').filter((s) => s !== ''),
      latestHandshake: handshake > 0 ? handshake : undefined,
      rxBytes: Number(f[5] ?? '0'),
      txBytes: Number(f[6] ?? '0'),
      persistentKeepaliveSeconds: Number(none(f[7]) ?? '0'),
    };
  });
  return {
    publicKey: none(head[1]),
    listenPort: Number(head[2]),
    firewallMark: Number(none(head[3]) ?? '0'),
    peers,
  };
}

const canonicalPeer = (p: Omit<DesiredPeer, never>) =>
  `${p.publicKey}|${p.endpoint}|${[...p.allowedIps].sort().join(',')}|${p.persistentKeepaliveSeconds}`;

/** True when the device already holds the desired key, port, mark and peers. */
export function deviceMatches(desired: DesiredDevice, dump: DeviceDump): boolean {
  if (dump.publicKey !== desired.publicKey) return false;
  if (dump.listenPort !== desired.listenPort || dump.firewallMark !== desired.firewallMark) return false;
  const want = desired.peers.map(canonicalPeer).sort();
  const have = dump.peers.map((p) => canonicalPeer({ ...p, endpoint: p.endpoint ?? '' })).sort();
  return want.length === have.length && want.every((w, i) => w === have[i]);
}

/** The `wg syncconf` file; `privateKey` is the base64 key (the file must be mode 0600). */
export function renderConf(desired: DesiredDevice, privateKey: string): string {
  const out = [
    '[Interface]',
    `PrivateKey = ${privateKey}`,
    `ListenPort = ${desired.listenPort}`,
    `FwMark = 0x${desired.firewallMark.toString(16)}`,
  ];
  for (const p of desired.peers) {
    out.push('', '[Peer]', `PublicKey = ${p.publicKey}`, `Endpoint = ${p.endpoint}`);
    if (p.allowedIps.length > 0) out.push(`AllowedIPs = ${p.allowedIps.join(', ')}`);
    if (p.persistentKeepaliveSeconds > 0) out.push(`PersistentKeepalive = ${p.persistentKeepaliveSeconds}`);
  }
  return `${out.join('\n')}\n`;
}
