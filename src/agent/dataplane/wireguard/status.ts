// The WireGuard device as `tabby node status` reports it: typed records of `wg show NAME dump`
// (parsed by wireguard/conf.ts, which never keeps the private key or preshared keys).

import { parseDump } from './conf.js';

export { WgDumpError } from './conf.js';

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

/** `tabby node status`'s view of `wg show NAME dump`, parsed by the dataplane's one parser. */
export function parseWgDump(text: string): WgInterfaceStatus {
  const d = parseDump(text);
  return {
    publicKey: d.publicKey ?? '',
    listenPort: d.listenPort,
    ...(d.firewallMark !== 0 && { fwmark: d.firewallMark }),
    peers: d.peers.map((p) => ({
      publicKey: p.publicKey,
      hasPresharedKey: p.hasPresharedKey,
      ...(p.endpoint !== undefined && { endpoint: p.endpoint }),
      allowedIps: p.allowedIps,
      ...(p.latestHandshake !== undefined && { latestHandshakeSec: p.latestHandshake }),
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      ...(p.persistentKeepaliveSeconds !== 0 && { persistentKeepaliveSec: p.persistentKeepaliveSeconds }),
    })),
  };
}
