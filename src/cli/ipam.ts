// `tabby ipam show`: IPAM utilisation like `calicoctl ipam show`, from one in-sync state of a
// Tabby server's felix stream (which carries pools and IPAM blocks), so an operator needs no
// datastore credentials. The numbers come from the same routing view the agent routes from.

import { Command } from 'commander';
import { ipamReport } from '../agent/calc/routing/ipam-report.js';
import { renderIpamReport } from '../agent/calc/routing/ipam-report-text.js';
import { RoutingState } from '../agent/calc/routing/state.js';
import { SyncClient } from '../client/sync-client.js';
import type { ClientTlsOptions } from '../client/tls.js';
import { ipamShowSchema } from '../config/ipam-config.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { clientTlsOptions } from '../config/tls-config.js';
import { silentLogger } from '../model/logger.js';
import type { KV } from '../model/types.js';
import { CommandFailed } from './exit.js';

export function ipamCommand(): Command {
  const ipam = new Command('ipam').description('IP address management: pools, blocks, borrowed addresses');
  const show = new Command('show').description('show IP pool utilisation (like calicoctl ipam show)');
  addSchemaOptions(show, ipamShowSchema.shape);
  show.action(async () => {
    const cfg = resolveConfig(show, ipamShowSchema);
    const kvs = await readFelixState(cfg.server, cfg.timeoutMs, clientTlsOptions(cfg));
    const state = new RoutingState();
    state.apply(kvs);
    const report = ipamReport(state);
    process.stdout.write(
      cfg.json
        ? `${JSON.stringify({
            pools: report.pools,
            ...(cfg.showBlocks ? { blocks: report.blocks } : {}),
            ...(cfg.showBorrowed ? { borrowed: report.borrowed } : {}),
            orphanBlocks: report.orphanBlocks,
          })}\n`
        : renderIpamReport(report, { showBlocks: cfg.showBlocks, showBorrowed: cfg.showBorrowed }),
    );
  });
  ipam.addCommand(show);
  return ipam;
}

/** Connects once, waits for in-sync, and returns that state's KVs. */
async function readFelixState(
  server: string,
  timeoutMs: number,
  tls: ClientTlsOptions | undefined,
): Promise<KV[]> {
  const client = new SyncClient({
    addresses: server.split(',').map((s) => s.trim()),
    syncer: 'felix',
    log: silentLogger,
    ...(tls ? { tls } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new CommandFailed(`not in sync with ${server} after ${timeoutMs} ms (status ${client.status})`),
          ),
        timeoutMs,
      );
      client.on('status', (s) => {
        if (s !== 'in-sync') return;
        clearTimeout(timer);
        resolve();
      });
      client.start();
    });
    return [...client.state.entries()].map(([key, value]) => ({ key, value }));
  } finally {
    await client.stop();
  }
}
