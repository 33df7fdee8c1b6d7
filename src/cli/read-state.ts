// One-shot read of a server's felix state for the commands that judge it offline (explain,
// ipam show): connect, wait for in-sync, take the state, say goodbye.

import { SyncClient } from '../client/sync-client.js';
import type { ClientTlsOptions } from '../client/tls.js';
import { silentLogger } from '../model/logger.js';
import type { JsonValue } from '../model/types.js';
import { CommandFailed } from './exit.js';

export async function readFelixState(
  server: string,
  timeoutMs: number,
  tls: ClientTlsOptions | undefined,
): Promise<Map<string, JsonValue>> {
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
    return new Map(client.state.entries());
  } finally {
    await client.stop();
  }
}
