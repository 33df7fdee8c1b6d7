// WireGuard peers by handshake age, read at scrape time from the device's status (aggregated:
// one series per peer would be one per node of the cluster on every node). Registered by
// the composition root; the WireGuard part itself carries no metrics code.

import { Gauge, type Registry } from 'prom-client';
import type { WireguardStatus } from './manager.js';

/** A session whose handshake is older than this has expired (WireGuard's REJECT_AFTER_TIME). */
const HANDSHAKE_FRESH_S = 180;

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
