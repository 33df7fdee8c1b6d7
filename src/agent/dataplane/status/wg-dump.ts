// Parses `wg show NAME dump` (tab-separated: an interface line, then one line per peer) into
// typed records for status output. The private key and preshared keys are never kept: only
// whether a preshared key is set.

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';

export interface WgPeerStatus {
  readonly publicKey: string;
  readonly hasPresharedKey: boolean;
  /** `ip:port`, undefined before the peer has an endpoint. */
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  /** Unix seconds of the latest handshake; undefined if none yet. */
  readonly latestHandshakeSec?: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** Seconds; undefined when off. */
  readonly persistentKeepaliveSec?: number;
}

export interface WgInterfaceStatus {
  readonly publicKey: string;
  readonly listenPort: number;
  /** undefined when off. */
  readonly fwmark?: number;
  readonly peers: readonly WgPeerStatus[];
}

export class WgDumpError extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.WgDump, message);
  }
}

const none = (v: string | undefined): boolean => v === undefined || v === '(none)' || v === 'off' || v === '';

/** Parses the dump of one interface (`wg show NAME dump`, not `wg show all dump`). */
export function parseWgDump(text: string): WgInterfaceStatus {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const head = lines[0]?.split('\t');
  if (head?.length !== 4)
    throw new WgDumpError(
      `wg dump: want an interface line of 4 fields, got ${JSON.stringify(lines[0] ?? '')}`,
    );
  const [, publicKey = '', port = '0', fwmark] = head;
  const peers = lines.slice(1).map((line, i) => {
    const f = line.split('\t');
    if (f.length !== 8) throw new WgDumpError(`wg dump: peer line ${i + 1} has ${f.length} fields, want 8`);
    const [pub = '', psk, endpoint, allowed, handshake = '0', rx = '0', tx = '0', keepalive] = f;
    const hs = Number(handshake);
    return {
      publicKey: pub,
      hasPresharedKey: !none(psk),
      ...(!none(endpoint) && { endpoint: endpoint! }),
      allowedIps: none(allowed) ? [] : allowed!.split(','),
      ...(hs > 0 && { latestHandshakeSec: hs }),
      rxBytes: Number(rx),
      txBytes: Number(tx),
      ...(!none(keepalive) && { persistentKeepaliveSec: Number(keepalive) }),
    };
  });
  return {
    publicKey: none(publicKey) ? '' : publicKey,
    listenPort: Number(port),
    ...(!none(fwmark) && { fwmark: Number(fwmark) }),
    peers,
  };
}
