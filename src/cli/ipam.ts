// `tabby ipam show`: IPAM utilisation like `calicoctl ipam show`, from one in-sync state of a
// Tabby server's felix stream (which carries pools and IPAM blocks), so an operator needs no
// datastore credentials. The numbers come from the same routing view the agent routes from.

import { Command } from 'commander';
import { ipamReport } from '../agent/calc/routing/ipam-report.js';
import { renderIpamReport } from '../agent/calc/routing/ipam-report-text.js';
import { RoutingState } from '../agent/calc/routing/state.js';
import { ipamShowSchema } from '../config/ipam-config.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { clientTlsOptions } from '../config/tls-config.js';
import { readFelixState } from './read-state.js';

export function ipamCommand(): Command {
  const ipam = new Command('ipam').description('IP address management: pools, blocks, borrowed addresses');
  const show = new Command('show').description('show IP pool utilisation (like calicoctl ipam show)');
  addSchemaOptions(show, ipamShowSchema.shape);
  show.action(async () => {
    const cfg = resolveConfig(show, ipamShowSchema);
    const kvs = [...(await readFelixState(cfg.server, cfg.timeoutMs, clientTlsOptions(cfg)))].map(
      ([key, value]) => ({ key, value }),
    );
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
