// Every setting of every command is a flag and a TABBY_* env var (README: Configuration).
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { agentCommand } from '../../src/cli/agent.js';
import { explainCommand } from '../../src/cli/explain.js';
import { ipamCommand } from '../../src/cli/ipam.js';
import { lintCommand } from '../../src/cli/lint.js';
import { nodeCommand } from '../../src/cli/node-status.js';
import { serveCommand } from '../../src/cli/serve.js';
import { statusCommand } from '../../src/cli/status.js';
import { syncCommand } from '../../src/cli/sync.js';
import { apiserverEmulatorCommand } from '../../src/testing/emulator/cli.js';

/** The commands that take settings (leaves: `ipam show`, `node status`). */
function leaves(cmd: Command, prefix = ''): Array<[string, Command]> {
  const name = `${prefix}${cmd.name()}`;
  return cmd.commands.length === 0 ? [[name, cmd]] : cmd.commands.flatMap((c) => leaves(c, `${name} `));
}

const commands = [
  serveCommand(),
  syncCommand(),
  agentCommand(),
  explainCommand(),
  lintCommand(),
  nodeCommand(),
  ipamCommand(),
  statusCommand(),
  apiserverEmulatorCommand(),
].flatMap((c) => leaves(c));

describe('command settings', () => {
  it.each(commands)('tabby %s: every option has a TABBY_* env var', (_, cmd) => {
    const options = cmd.options.filter((o) => o.long !== '--help' && o.long !== '--version');
    expect(options.length).toBeGreaterThan(0);
    const without = options.filter((o) => !o.envVar?.startsWith('TABBY_')).map((o) => o.long);
    expect(without).toEqual([]);
  });
});
