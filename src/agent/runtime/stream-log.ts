// What an operator needs to see once from an agent's streams: that each reached in sync (with
// how much state), and, at the first in-sync, a warning when this agent's node name is not a
// Node in the datastore (a typo in --node programs nothing node-specific, silently otherwise).

import type { SyncClient } from '../../client/sync-client.js';
import { Keys } from '../../model/keys.js';
import type { Logger } from '../../model/logger.js';

export function logStreamMilestones(node: string, clients: readonly SyncClient[], log: Logger): void {
  let nodeChecked = false;
  for (const client of clients) {
    const onStatus = (status: string) => {
      if (status !== 'in-sync') return;
      client.off('status', onStatus);
      log.info(
        { syncer: client.syncer, keys: client.state.size, generation: client.generation },
        'stream in sync',
      );
      if (nodeChecked) return;
      nodeChecked = true;
      // Both streams carry Node keys, so the first in sync can tell.
      if (client.state.get(Keys.node(node)) === undefined)
        log.warn(
          { node, syncer: client.syncer },
          `no Node named "${node}" in the datastore: this agent has no endpoints, BGP or routes of its own to program (check --node / TABBY_NODE)`,
        );
    };
    client.on('status', onStatus);
  }
}
