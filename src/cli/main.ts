#!/usr/bin/env node
// The `tabby` command: one subcommand per composition root.

import { Command } from 'commander';
import { apiserverEmulatorCommand } from '../testing/emulator/cli.js';
import { generateObjects } from '../testing/sim/index.js';
import { agentCommand } from './agent.js';
import { endQuietlyOnClosedStdout, exitOnFailure } from './exit.js';
import { explainCommand } from './explain.js';
import { ipamCommand } from './ipam.js';
import { lintCommand } from './lint.js';
import { loadtestCommand } from './loadtest.js';
import { nodeCommand } from './node-status.js';
import { serveCommand } from './serve.js';
import { sizingCommand } from './sizing.js';
import { statusCommand } from './status.js';
import { onStopRequest } from './stop-request.js';
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
program.addCommand(statusCommand());
program.addCommand(loadtestCommand());
program.addCommand(apiserverEmulatorCommand({ seedObjects: () => generateObjects({}), onStopRequest }));

/** Commander's errors are thrown to exitOnFailure rather than ending the process itself. */
const throwCommanderErrors = (cmd: Command): void => {
  cmd.exitOverride();
  for (const sub of cmd.commands) throwCommanderErrors(sub);
};
throwCommanderErrors(program);
endQuietlyOnClosedStdout();
program.parseAsync(process.argv).catch(exitOnFailure);
