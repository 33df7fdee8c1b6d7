// What BIRD reports, read at scrape time from its control socket: whether it answers, and BGP
// sessions aggregated by session type and state (one series per peer would be one per node
// of the cluster on every node). Registered by the composition root; the BIRD part itself
// carries no metrics code.

import { Gauge, type Registry } from 'prom-client';
import { BirdClient } from './birdc.js';
import { type BgpPeerRow, parseProtocols, peerRows } from './status.js';

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
