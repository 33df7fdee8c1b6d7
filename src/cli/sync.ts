// `tabby sync`: a client that follows a server's stream — for operators (progress, dumps,
// `calicoctl get`-like output) and for tests that compare states by hash.

import { Command } from 'commander';
import { SyncClient } from '../client/sync-client.js';
import { compressionsFor } from '../config/fields.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { syncSchema } from '../config/sync-config.js';
import { clientTlsOptions } from '../config/tls-config.js';
import { createLogger } from '../observability/logging.js';
import { CommandFailed, exitAfterFlush, exitOnFailure } from './exit.js';
import { onStopRequest } from './stop-request.js';

export function syncCommand(): Command {
  const cmd = new Command('sync').description('follow a Tabby server stream and show progress');
  addSchemaOptions(cmd, syncSchema.shape);
  cmd.action(async () => {
    const cfg = resolveConfig(cmd, syncSchema);
    const log = createLogger(cfg.logLevel, 2);
    const tls = clientTlsOptions(cfg);
    const client = new SyncClient({
      addresses: cfg.server.split(',').map((s) => s.trim()),
      syncer: cfg.syncer,
      compressions: compressionsFor(cfg.compression),
      log,
      ...(cfg.hostname ? { hostname: cfg.hostname } : {}),
      ...(tls ? { tls } : {}),
    });
    let stopping = false;
    let lastReason: string | undefined;
    client.on('disconnected', ({ reason, address }) => {
      lastReason = reason;
      if (!stopping) process.stderr.write(`disconnected from ${address}: ${reason}\n`);
    });

    if (cfg.once) {
      const timer = setTimeout(() => {
        // Never connected: why (e.g. refused) says more than the status it never received.
        const why = client.connected || lastReason === undefined ? `status ${client.status}` : lastReason;
        exitOnFailure(new CommandFailed(`not in sync after ${cfg.timeoutMs} ms (${why})`));
      }, cfg.timeoutMs);
      client.on('status', (status) => {
        if (status !== 'in-sync') return;
        clearTimeout(timer);
        const out = process.stdout;
        if (cfg.dump) {
          const keys = [...client.state.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
          for (const [key, value] of keys) out.write(`${JSON.stringify({ key, value })}\n`);
        }
        const summary = {
          syncer: cfg.syncer,
          generation: client.generation,
          keys: client.state.size,
          hash: client.state.hashHex(),
          serverId: client.serverId,
          bytesReceived: client.bytesReceived,
        };
        if (cfg.json) out.write(`${JSON.stringify(summary)}\n`);
        else if (!cfg.dump)
          out.write(
            `in sync: ${summary.keys} keys at generation ${summary.generation}, hash ${summary.hash}\n`,
          );
        stopping = true;
        void client.stop().then(() => exitAfterFlush(0));
      });
      client.start();
      return;
    }

    let updates = 0;
    client.on('updates', (kvs) => {
      updates += kvs.length;
    });
    client.on('status', (s) => process.stdout.write(`status ${s}\n`));
    client.on('connected', ({ address, serverId, resumed }) =>
      process.stdout.write(`connected to ${address} (${serverId}), ${resumed ? 'resumed' : 'snapshot'}\n`),
    );
    setInterval(() => {
      process.stdout.write(
        `${new Date().toISOString()} gen ${client.generation} keys ${client.state.size} status ${client.status} ` +
          `updates/s ${updates} bytes ${client.bytesReceived}\n`,
      );
      updates = 0;
    }, 1_000);
    const stop = () => {
      stopping = true;
      void client.stop().then(() => exitAfterFlush(0));
    };
    onStopRequest(stop);
    client.start();
  });
  return cmd;
}
