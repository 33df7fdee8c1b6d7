// Entry of a `tabby serve` worker process (forked by the primary, see serve-fanout.ts): mirror
// caches fed by the primary's generations, and a SyncServer on this worker's share of the
// sockets (the listening socket is the cluster's). Settings come from the primary, not argv.

import type { ServeConfig } from '../config/serve-config.js';
import { parseHostPort } from '../model/address.js';
import type { Logger } from '../model/logger.js';
import type { SyncerType } from '../model/types.js';
import { createLogger } from '../observability/logging.js';
import { createMetrics } from '../observability/metrics.js';
import { ConnState } from '../server/connection.js';
import { SyncServer } from '../server/server.js';
import { columnsOf } from '../server/workers/columns.js';
import { WorkerLink, type WorkerRole, type WorkerSeed } from '../server/workers/link.js';
import type { SnapshotCache } from '../snapcache/cache.js';
import { adoptRecord, type GenerationRecord, mirrorCaches, type SeedPart } from '../snapcache/mirror.js';
import { exitAfterFlush } from './exit.js';
import { cacheOptions, loadTls, serverOptions } from './serve-options.js';

let log: Logger = createLogger('info');
const link = new WorkerLink(log);
const mirrors = new Map<SyncerType, SnapshotCache>();
let server: SyncServer | undefined;
let registry: ReturnType<typeof createMetrics> | undefined;

function streaming(syncer: SyncerType): number {
  let n = 0;
  for (const c of server?.connections() ?? [])
    if (c.syncer === syncer && c.state === ConnState.Streaming) n++;
  return n;
}

const role: WorkerRole = {
  async start(seed: WorkerSeed) {
    const cfg = seed.config as ServeConfig & { serverId: string; workers: number };
    log = createLogger(cfg.logLevel).child({ worker: seed.slot });
    const caches = mirrorCaches(seed.parts as SeedPart[], (syncer) => {
      const { syncer: _, ...opts } = cacheOptions(cfg, syncer, log);
      return opts;
    });
    for (const c of caches) mirrors.set(c.syncer, c);
    server = new SyncServer(
      [...mirrors.values()],
      serverOptions(cfg, cfg.serverId, { workers: cfg.workers, slot: seed.slot }),
      log.child({ component: 'server' }),
      {
        sink: link.reportSink,
        policy: { insecureAcceptUnauthenticated: cfg.insecureAcceptUnauthenticatedReports },
      },
    );
    server.setReplicaView(link.replicaView(streaming));
    registry = createMetrics({ caches: [], server, router: { unroutedKeys: 0 } });
    const listen = parseHostPort(seed.listen);
    await server.listen(listen.host, listen.port, loadTls(cfg));
  },
  adopt(syncer, record) {
    const cache = mirrors.get(syncer);
    if (cache) adoptRecord(cache, record as GenerationRecord);
  },
  async drain(ms) {
    await server?.drain(ms);
    for (const c of mirrors.values()) c.close();
  },
  async metrics() {
    return registry?.getMetricsAsJSON() ?? [];
  },
  report() {
    const s = server!;
    return {
      connections: columnsOf(s.connections()),
      open: s.connectionCount,
      closes: [...s.stats.closes.entries()],
      snapshotBytes: s.stats.snapshotBytes,
      deltaBytes: s.stats.deltaBytes,
    };
  },
  exit(code) {
    void exitAfterFlush(code);
  },
};

link.run(role);
