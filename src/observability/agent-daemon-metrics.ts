// What the agent's daemons report, read at scrape time: BGP sessions from BIRD's control
// socket, WireGuard peers from the device. Aggregated (by session type and state; by
// handshake age): one series per peer would be one per node of the cluster on every node.

import { Gauge, type Registry } from 'prom-client';
import { BirdClient } from '../agent/dataplane/bird/birdc.js';
import { type BgpPeerRow, parseProtocols, peerRows } from '../agent/dataplane/bird/status.js';
import type { WireguardStatus } from '../agent/dataplane/wireguard/index.js';

/** A session whose handshake is older than this has expired (WireGuard's REJECT_AFTER_TIME). */
const HANDSHAKE_FRESH_S = 180;
const SCRAPE_TIMEOUT_MS = 2_000;

/** tabby_agent_bird_up and tabby_agent_bgp_sessions{type,state} from the BIRD socket. */
export function registerBirdMetrics(registry: Registry, socketPath: string): void {
  // The registry collects metrics concurrently: both gauges share one read per scrape.
  let reading: Promise<BgpPeerRow[] | undefined> | undefined;
  const read = () => {
    reading ??= readPeers(socketPath).finally(() => {
      setImmediate(() => {
        reading = undefined;
      });
    });
    return reading;
  };
  new Gauge({
    name: 'tabby_agent_bird_up',
    help: '1 when BIRD answers on its control socket',
    registers: [registry],
    async collect() {
      this.set((await read()) === undefined ? 0 : 1);
    },
  });
  new Gauge({
    name: 'tabby_agent_bgp_sessions',
    help: 'BGP sessions by type (node-to-node mesh, node specific, global) and state (Established, Active, Idle…)',
    labelNames: ['type', 'state'],
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      // BIRD's info starts with the BGP state ("Established", "Active", "Idle BGP Error: …").
      for (const r of rows ?? []) this.inc({ type: r.peerType, state: r.info.split(/\s+/)[0] || r.state });
    },
  });
}

async function readPeers(socketPath: string): Promise<BgpPeerRow[] | undefined> {
  let client: BirdClient | undefined;
  try {
    client = await BirdClient.connect({
      socketPath,
      connectTimeoutMs: SCRAPE_TIMEOUT_MS,
      commandTimeoutMs: SCRAPE_TIMEOUT_MS,
    });
    return peerRows(parseProtocols(await client.showProtocolsAll()));
  } catch {
    return undefined;
  } finally {
    client?.close();
  }
}

/** tabby_agent_wireguard_peers{handshake} from the dataplane's status (recent, stale, never). */
export function registerWireguardMetrics(registry: Registry, status: () => Promise<WireguardStatus>): void {
  new Gauge({
    name: 'tabby_agent_wireguard_peers',
    help: `WireGuard peers by latest handshake: recent (< ${HANDSHAKE_FRESH_S} s), stale, or never`,
    labelNames: ['handshake'],
    registers: [registry],
    async collect() {
      this.reset();
      const st = await status().catch(() => undefined);
      if (st === undefined || !st.enabled) return;
      const now = Date.now();
      const counts = { recent: 0, stale: 0, never: 0 };
      for (const p of st.peers) {
        const at = p.latestHandshake?.getTime();
        if (at === undefined) counts.never++;
        else if (now - at < HANDSHAKE_FRESH_S * 1000) counts.recent++;
        else counts.stale++;
      }
      for (const [handshake, n] of Object.entries(counts)) this.set({ handshake }, n);
    },
  });
}
