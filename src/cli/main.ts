#!/usr/bin/env node
// The `tabby` command: one subcommand per composition root.

import { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { generateObjects } from '../datastore/sim/index.js';
import { apiserverEmulatorCommand } from '../emulator/cli.js';
import { agentCommand } from './agent.js';
import { explainCommand } from './explain.js';
import { ipamCommand } from './ipam.js';
import { lintCommand } from './lint.js';
import { loadtestCommand } from './loadtest.js';
import { nodeCommand } from './node-status.js';
import { serveCommand } from './serve.js';
import { sizingCommand } from './sizing.js';
import { syncCommand } from './sync.js';

const program = new Command('tabby')
  .description('Fan-out proxy and datastore sync layer for Kubernetes networking (Calico model)')
  .version('0.1.0')
  .showHelpAfterError();
program.addCommand(serveCommand());
program.addCommand(syncCommand());
program.addCommand(agentCommand());
program.addCommand(explainCommand());
program.addCommand(lintCommand());
program.addCommand(nodeCommand());
program.addCommand(ipamCommand());
program.addCommand(sizingCommand());
program.addCommand(loadtestCommand());
program.addCommand(apiserverEmulatorCommand({ seedObjects: () => generateObjects({}) }));

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`tabby: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tabby: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
