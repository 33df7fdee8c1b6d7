// `tabby agent`: the node agent's composition root — sync client (felix stream) → policy
// calculation → the chosen dataplane (or --dry-run files).

import { Command } from 'commander';
import { PolicyAgent, type PolicyDataplane } from '../agent/agent.js';
import { DryRunDataplane } from '../agent/dry-run.js';
import { dryRunIptables, IptablesDataplane } from '../agent/iptables-dataplane.js';
import { dryRunNftables, NftablesDataplane } from '../agent/nftables-dataplane.js';
import { SyncClient } from '../client/sync-client.js';
import { type AgentConfig, agentSchema } from '../config/agent-config.js';
import { ConfigError } from '../config/errors.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import type { Logger } from '../model/logger.js';
import { createLogger } from '../observability/logging.js';

export function agentCommand(): Command {
  const cmd = new Command('agent').description(
    "node agent: follow the felix stream and program this node's policy",
  );
  addSchemaOptions(cmd, agentSchema.shape);
  cmd.action(async () => {
    const cfg = resolveConfig(cmd, agentSchema);
    const log = createLogger(cfg.logLevel).child({ node: cfg.node });
    const agent = new PolicyAgent(
      cfg.node,
      new SyncClient({
        addresses: cfg.server.split(',').map((s) => s.trim()),
        syncer: 'felix',
        hostname: cfg.node,
        agent: 'tabby-agent/0.1.0',
        log,
      }),
      createDataplane(cfg, log),
      log,
    );
    agent.start();
    log.info(
      { server: cfg.server, dataplane: cfg.dryRun ? `dry-run ${cfg.dryRun}` : cfg.dataplane },
      'agent started',
    );
    const stop = async (signal: string) => {
      log.info({ signal }, 'agent stopping (the dataplane is left as it is)');
      await agent.stop();
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
  return cmd;
}

function createDataplane(cfg: AgentConfig, log: Logger): PolicyDataplane {
  if (cfg.dryRun) {
    const extra = { iptables: dryRunIptables, nftables: dryRunNftables, none: undefined }[cfg.dataplane];
    return new DryRunDataplane(cfg.dryRun, extra);
  }
  switch (cfg.dataplane) {
    case 'none':
      throw new ConfigError('--dataplane none needs --dry-run DIR');
    case 'iptables':
      return new IptablesDataplane(log.child({ dataplane: 'iptables' }));
    case 'nftables':
      return new NftablesDataplane(log.child({ dataplane: 'nftables' }));
  }
}
