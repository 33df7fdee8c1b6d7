// `tabby serve`: the composition root of a replica — datastore → router → per-syncer caches
// → fan-out server, plus the health/metrics port, optional in-process demo agents and a
// console summary. Shutdown on SIGTERM/SIGINT drains clients gradually.

import { hostname } from 'node:os';
import { Command } from 'commander';
import { SyncClient } from '../client/sync-client.js';
import { ConfigError, listenError } from '../config/errors.js';
import { requireDirectory, requireFile } from '../config/paths.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { checkServeConfig, type ServeConfig, serveSchema } from '../config/serve-config.js';
import { namesPods } from '../config/tls-config.js';
import { convertObject } from '../datastore/convert/index.js';
import { FileDatastore } from '../datastore/file/file-datastore.js';
import { PodPlacementIndex } from '../datastore/kube/pod-placement.js';
import { KubernetesDatastore } from '../datastore/kubernetes/kubernetes-datastore.js';
import type { DatastoreSource, NodeReportRecorder } from '../datastore/source.js';
import { LintOptionsError } from '../lint/index.js';
import { registerLintMetrics } from '../lint/metrics.js';
import { LintTap } from '../lint/tap.js';
import { parseHostPort } from '../model/address.js';
import { Keys } from '../model/keys.js';
import type { Logger } from '../model/logger.js';
import { SYNCER_TYPES } from '../model/types.js';
import { FleetModel } from '../observability/fleet.js';
import { Freshness } from '../observability/freshness.js';
import { readiness, startHealthServer } from '../observability/health.js';
import { createLogger } from '../observability/logging.js';
import { createMetrics } from '../observability/metrics.js';
import { startSummary } from '../observability/summary.js';
import { zstdCodec } from '../protocol/zstd.js';
import { SnapshotCache } from '../snapcache/cache.js';
import { SyncerRouter } from '../snapcache/router.js';
import { SimulatedCluster } from '../testing/sim/simulated-cluster.js';
import { EmulatedSimDatastore } from '../testing/sim-api.js';
import { startDiscovery } from './discovery.js';
import { exitAfterFlush } from './exit.js';
import { loadKubeconfig } from './kubeconfig.js';
import { coresAvailable, singleProcess, workerCount, workerProcesses } from './serve-fanout.js';
import { cacheOptions, loadTls } from './serve-options.js';
import { onStopRequest } from './stop-request.js';

export function serveCommand(): Command {
  const cmd = new Command('serve').description(
    'run a Tabby replica: sync from the datastore, serve node agents',
  );
  addSchemaOptions(cmd, serveSchema.shape);
  cmd.action(async () => {
    const cfg = resolveConfig(cmd, serveSchema);
    const problems = checkServeConfig(cfg);
    if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
    if (cfg.path !== undefined) await requireDirectory('path', cfg.path);
    if (cfg.kubeconfig !== undefined) await requireFile('kubeconfig', cfg.kubeconfig);
    const log = createLogger(cfg.logLevel);
    await runServe(cfg, log);
  });
  return cmd;
}

/** Every datastore records agents' reports (Kubernetes: Node annotation; sim/file: in memory). */
function createSource(
  cfg: ServeConfig,
  log: Logger,
  podPlacement: PodPlacementIndex | undefined,
): DatastoreSource & NodeReportRecorder {
  switch (cfg.datastore) {
    case 'sim':
      return new SimulatedCluster(
        { seed: cfg.simSeed, nodes: cfg.simNodes, pods: cfg.simPods, churnPerSec: cfg.simChurnPerSec },
        log,
      );
    case 'sim-api':
      return new EmulatedSimDatastore(
        { seed: cfg.simSeed, nodes: cfg.simNodes, pods: cfg.simPods, churnPerSec: cfg.simChurnPerSec },
        cfg.watchTimeoutSeconds,
        log,
      );
    case 'kubernetes': {
      const kubeconfig = loadKubeconfig(cfg.kubeconfig);
      return new KubernetesDatastore({
        kubeconfig,
        convert: convertObject,
        log,
        watcher: { minWatchTimeoutSeconds: cfg.watchTimeoutSeconds },
        ...(podPlacement ? { podPlacement } : {}),
      });
    }
    case 'file':
      return new FileDatastore({ path: cfg.path!, convert: convertObject, log });
  }
}

function lintTap(cfg: ServeConfig, router: SyncerRouter, log: Logger): LintTap {
  try {
    return new LintTap(router, log.child({ component: 'lint' }), {
      serviceCidrs: cfg.lintServiceCidrs
        .split(',')
        .map((c) => c.trim())
        .filter((c) => c !== ''),
      maxMeshNodes: cfg.lintMaxMeshNodes,
    });
  } catch (err) {
    if (err instanceof LintOptionsError)
      throw new ConfigError(`--lint-service-cidrs / --lint-max-mesh-nodes: ${err.message}`);
    throw err;
  }
}

/** Who may set a node's WireGuard key is a security decision: say it at start, loudly when unsafe. */
function logReportPolicy(cfg: ServeConfig, log: Logger): void {
  if (cfg.insecureAcceptUnauthenticatedReports)
    log.warn(
      { insecureAcceptUnauthenticatedReports: true },
      'INSECURE: REPORTs are accepted from unauthenticated connections, trusting the hostname each ' +
        "client claims: any client that can reach the sync port can set any node's WireGuard public key " +
        'and redirect its encrypted traffic. Use only on a trusted network.',
    );
  else
    log.info(
      { insecureAcceptUnauthenticatedReports: false },
      "REPORTs are refused on unauthenticated connections (all of them on plain TCP): agents' WireGuard " +
        'keys are not recorded; --insecure-accept-unauthenticated-reports (TABBY_INSECURE_ACCEPT_UNAUTHENTICATED_REPORTS) accepts them',
    );
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

/** The number of Node keys at the cache's head, counted again only when the head moves. */
function nodeCounter(cache: SnapshotCache): () => number {
  const prefix = Keys.node('');
  let at = -1;
  let n = 0;
  return () => {
    if (cache.headGeneration === at) return n;
    at = cache.headGeneration;
    n = 0;
    for (const [key] of cache.entries()) if (key.startsWith(prefix)) n++;
    return n;
  };
}

export async function runServe(cfg: ServeConfig, log: Logger): Promise<void> {
  log.info({ config: cfg }, 'starting tabby serve');
  const caches = SYNCER_TYPES.map((syncer) => new SnapshotCache(cacheOptions(cfg, syncer, log)));
  const router = new SyncerRouter(caches);
  // Certificates that name an agent pod report for the node the API server bound it to.
  const podPlacement = namesPods(cfg) ? new PodPlacementIndex(cfg.tlsAgentNamespace) : undefined;
  const source = createSource(cfg, log.child({ component: 'datastore' }), podPlacement);
  const serverId = cfg.serverId ?? hostname();
  logReportPolicy(cfg, log);
  if (cfg.compression === 'zstd' && zstdCodec() === undefined)
    log.info(
      { node: process.version },
      'zstd is not in this Node (it needs 22.15 or later): clients get deflate instead',
    );
  // Readiness is "serving fresh data"; the same answer gates new clients (not-ready).
  const freshness = new Freshness(() => readiness(caches, source), cfg.maxStaleMs);
  const peers = cfg.discoveryService ? startDiscovery(cfg.discoveryService, cfg.kubeconfig, log) : undefined;
  const felixCache = caches.find((c) => c.syncer === 'felix')!;
  const view = {
    fresh: () => freshness.check().ok,
    readyReplicas: () => (peers ? peers.addresses.length : cfg.replicas),
    expectedClients: nodeCounter(felixCache), // every node's agent follows felix (bgp: at most as many)
  };
  const tls = loadTls(cfg);
  const workers = workerCount(cfg, coresAvailable());
  // Agents' REPORTs (WireGuard public keys) are recorded by the datastore on their Node.
  // The lint stage sees exactly what the caches see (a tee in front of the router).
  const lint = cfg.lint ? lintTap(cfg, router, log) : undefined;
  // With workers, the datastore's first listing overlaps their start (each is seeded with
  // whatever the caches hold when it comes up); one process keeps today's order.
  const early = workers > 1 ? source.start(lint ?? router) : undefined;
  early?.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  const parts = { cfg, serverId, caches, view, reports: source, podPlacement, tls, log };
  const fanout = workers > 1 ? await workerProcesses(parts, workers) : await singleProcess(parts);
  const { bound } = fanout;
  log.info(
    { address: `${bound.host}:${bound.port}`, tls: tls !== undefined, workers },
    'sync server listening',
  );
  if (!tls && !isLoopback(bound.host))
    log.warn(
      { address: `${bound.host}:${bound.port}` },
      'the sync port is plain TCP beyond loopback: anyone who reaches it can read the cluster state; set --tls-cert-file, --tls-key-file and --tls-client-ca-file',
    );

  const fleet = new FleetModel({
    serverId,
    streams: caches,
    server: fanout.replica,
    datastore: source,
  }).start();
  const local = createMetrics({ caches, server: fanout.local, router, datastore: source, fleet });
  if (lint) registerLintMetrics(local, lint.stage);
  const registry = fanout.registry(local);
  const healthAddr = parseHostPort(cfg.healthListen);
  const health = await startHealthServer(healthAddr.host, healthAddr.port, {
    registry,
    ready: () => freshness.check(),
    fleet,
  }).catch((err: unknown) => {
    throw listenError('healthListen', cfg.healthListen, err);
  });
  const healthBound = health.address();
  const healthPort =
    typeof healthBound === 'object' && healthBound !== null ? healthBound.port : healthAddr.port;
  log.info({ address: `${healthAddr.host}:${healthPort}` }, 'health and metrics listening');

  await (early ?? source.start(lint ?? router));
  log.info({ datastore: source.name }, 'datastore started');

  const agentHost = bound.host === '0.0.0.0' || bound.host === '::' ? '127.0.0.1' : bound.host;
  const agents = Array.from({ length: cfg.agents }, (_, i) => {
    const agent = new SyncClient({
      addresses: [`${agentHost}:${bound.port}`],
      syncer: i % 3 === 2 ? 'bgp' : 'felix', // every third demo agent follows the BGP stream
      hostname: `demo-agent-${i}`,
      log: log.child({ component: 'agent', agent: i }),
    });
    agent.start();
    return agent;
  });
  const extra =
    source instanceof EmulatedSimDatastore
      ? () => {
          const t = source.emulator.stats().total;
          return `API: ${t.watchesOpen} watches open, ${t.lists} lists, ${t.eventsSent} events sent`;
        }
      : undefined;
  const summary =
    cfg.summaryIntervalMs > 0
      ? startSummary(cfg.summaryIntervalMs, {
          caches,
          server: fanout.replica,
          agents,
          extra,
          datastore: source,
        })
      : undefined;

  let stopping = false;
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info(
      { reason, drainMs: cfg.shutdownDrainMs, connections: fanout.replica.connectionCount },
      'shutting down',
    );
    summary?.stop();
    fleet.stop();
    lint?.stop();
    await Promise.all(agents.map((a) => a.stop()));
    await source.stop();
    await fanout.drain(cfg.shutdownDrainMs);
    peers?.stop();
    for (const c of caches) c.close();
    health.close();
    log.info('stopped');
    await exitAfterFlush(0);
  };
  onStopRequest((reason) => void shutdown(reason));
}
