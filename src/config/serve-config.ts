// Every setting of `tabby serve`, with units in the names. A component's defaults come from
// the component (server, cache, datastores, lint), where they are kept once; the settings
// that belong to this command alone have theirs here.

import { z } from 'zod';
import { DEFAULT_WATCHER_OPTIONS as watcher } from '../datastore/kubernetes/options.js';
import { DEFAULT_MAX_MESH_NODES } from '../lint/options.js';
import { DEFAULT_SERVER_OPTIONS as server } from '../server/options.js';
import { DEFAULT_CACHE_OPTIONS as cache } from '../snapcache/options.js';
import { DEFAULT_SIM_OPTIONS as sim } from '../testing/sim/options.js';
import { compressionSetting, discoveryService, listenAddress as hostPort } from './fields.js';
import { namesPods, serverTlsFields, serverTlsProblems } from './tls-config.js';

const ms = z.coerce.number().int().nonnegative();
const pos = z.coerce.number().int().positive();

export const serveSchema = z.object({
  datastore: z
    .enum(['sim', 'sim-api', 'kubernetes', 'file'])
    .default('sim')
    .describe(
      'datastore: sim (embedded simulated cluster), sim-api (the same behind an in-process API emulator, watched like a real cluster), kubernetes, or file (manifest directory)',
    ),
  kubeconfig: z
    .string()
    .optional()
    .describe('kubernetes: kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)'),
  path: z
    .string()
    .optional()
    .describe('file: directory of Kubernetes/Calico YAML manifests, re-read on change'),
  watchTimeoutSeconds: pos
    .default(watcher.minWatchTimeoutSeconds)
    .describe('kubernetes: watches end after a random 1-2x this and resume'),
  listen: hostPort.default('0.0.0.0:5473').describe('sync protocol listen address'),
  healthListen: hostPort
    .default('0.0.0.0:9098')
    .describe(
      'HTTP address for /livez, /readyz, /metrics, /fleet (tabby status) and the live fleet page at /',
    ),
  serverId: z.string().optional().describe('name reported to clients (default: host name)'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('log level'),
  maxConnections: pos
    .default(server.maxConnections)
    .describe(
      'connections past HELLO beyond this are refused with a reason and a retry hint (the replica’s total: each of --workers takes its part)',
    ),
  maxPendingHandshakes: pos
    .default(server.maxPendingHandshakes)
    .describe(
      'connections still waiting for HELLO, counted apart; when full the longest-waiting one (after 1 s) gives way',
    ),
  handshakeTimeoutMs: pos.default(server.handshakeTimeoutMs).describe('a client must send HELLO within this'),
  pingIntervalMs: pos.default(server.pingIntervalMs).describe('server PING interval'),
  pongTimeoutMs: pos.default(server.pongTimeoutMs).describe('drop a client silent for this long'),
  writeTimeoutMs: pos
    .default(server.writeTimeoutMs)
    .describe('drop a client whose socket does not drain for this long'),
  maxQueuedBytes: pos
    .min(1 << 20)
    .default(server.maxQueuedBytes)
    .describe(
      'drop a client whose socket holds more unsent bytes than this (write-queue-full); must exceed the largest snapshot',
    ),
  clientPingBurst: pos
    .default(server.clientPingBurst)
    .describe('PINGs a client may send at once; beyond its rate: too-many-pings'),
  clientPingRefillMs: pos
    .default(server.clientPingRefillMs)
    .describe('a client earns one more PING per this many ms'),
  maxFallBehindMs: pos
    .default(server.maxFallBehindMs)
    .describe('drop a client whose oldest missing update is this old'),
  newClientGraceMs: ms.default(server.newClientGraceMs).describe('fall-behind grace after a snapshot'),
  shutdownDrainMs: ms
    .default(60_000)
    .describe('on SIGTERM, move clients to other replicas spread over this long (they resume there)'),
  maxStaleMs: ms
    .default(30_000)
    .describe(
      'not ready, refusing new clients (not-ready), once the datastore has been out of sync this long; never ready before the first sync',
    ),
  discoveryService: discoveryService
    .optional()
    .describe(
      "k8s:<namespace>/<service>: count the ready replicas from this Service's EndpointSlices (for rebalancing)",
    ),
  replicas: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe('ready replicas, when not discovered (--discovery-service); 0: no rebalancing'),
  rebalanceIntervalMs: ms
    .default(server.rebalanceIntervalMs)
    .describe('how often a replica above its share of the nodes moves a few clients away (0: never)'),
  rebalanceMaxPerInterval: pos
    .default(server.rebalanceMaxPerInterval)
    .describe('clients moved per syncer per rebalance interval at most'),
  rebalanceSlack: z.coerce
    .number()
    .nonnegative()
    .default(server.rebalanceSlack)
    .describe('room above an even share (nodes / ready replicas) before moving clients, e.g. 0.1 = 10 %'),
  rebalanceRetryAfterMs: ms
    .default(server.rebalanceRetryAfterMs)
    .describe('a client moved away for rebalancing stays away from this replica this long'),
  notReadyRetryAfterMs: pos
    .default(server.notReadyRetryAfterMs)
    .describe('retry hint (±50 %) given to clients refused as not-ready'),
  maxSnapshotsInFlight: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(server.maxSnapshotsInFlight)
    .describe(
      'snapshots written at once (default: 4 per core, at least 8); more clients wait in line, FIFO, and are told their place (0: unlimited)',
    ),
  snapshotBytesPerSecond: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(server.snapshotBytesPerSecond)
    .describe(
      'average snapshot bytes per second over all clients, e.g. to spare a narrow link (0: unlimited)',
    ),
  workers: pos
    .max(256)
    .optional()
    .describe(
      'processes that own the client sockets (the primary keeps the datastore and caches and ships each generation to them once); 1: one process, as before; default: the cores available, at most 4',
    ),
  maxWorkerQueueBytes: pos
    .min(64 << 10)
    .default(64 << 20)
    .describe(
      'a worker whose IPC channel holds more unwritten bytes than this, none written for 5 s (or 4 times this), has stopped reading (hung, stopped): it is killed and replaced; its clients reconnect and resume',
    ),
  listenBacklog: pos
    .default(server.listenBacklog)
    .describe('accept queue length (capped by net.core.somaxconn)'),
  fanoutSliceMs: pos
    .default(server.fanoutSliceMs)
    .describe('a fan-out pass yields to the event loop after this long'),
  maxBatchSize: pos.default(cache.maxBatchSize).describe('updates per generation at most'),
  maxBatchDelayMs: ms
    .default(cache.maxBatchDelayMs)
    .describe('at most one batch per this window (ms); an update after a quiet spell goes out at once'),
  maxHistoryBytes: pos
    .default(cache.maxHistoryBytes)
    .describe('retained delta history for catch-up/resume, bytes'),
  maxHistoryAgeMs: pos
    .default(cache.maxHistoryAgeMs)
    .describe('retained delta history for catch-up/resume, age'),
  snapshotReuseMs: ms
    .default(cache.snapshotReuseMs)
    .describe('reuse an encoded snapshot for new clients this long'),
  maxFrameBodyBytes: pos
    .max(8 << 20)
    .default(cache.maxFrameBodyBytes)
    .describe('frame body size limit: larger deltas/snapshots are split; a larger single value is rejected'),
  compression: compressionSetting.describe(
    'compression to use with clients that offer it: zstd (else deflate; zstd only where this Node has it, >= 22.15), deflate or none',
  ),
  simSeed: z.coerce.number().int().default(sim.seed).describe('sim: random seed'),
  simNodes: z.coerce.number().int().min(4).default(sim.nodes).describe('sim: nodes (at least 4)'),
  simPods: z.coerce.number().int().min(3).default(sim.pods).describe('sim: pods (at least 3)'),
  simChurnPerSec: z.coerce
    .number()
    .nonnegative()
    .default(sim.churnPerSec)
    .describe('sim: updates per second'),
  agents: z.coerce.number().int().nonnegative().default(0).describe('in-process demo agents to run'),
  insecureAcceptUnauthenticatedReports: z
    .boolean()
    .default(false)
    .describe(
      "accept agents' REPORTs (WireGuard public keys) on connections without an authenticated identity, trusting the hostname they claim: any client that can connect can then set any node's key",
    ),
  lint: z
    .boolean()
    .default(true)
    .describe('run the lint rules on the synced state: log findings, export tabby_lint_findings'),
  lintServiceCidrs: z
    .string()
    .default('')
    .describe(
      "lint: the API server's service cluster IP ranges, comma-separated (pools must not overlap them)",
    ),
  lintMaxMeshNodes: pos
    .default(DEFAULT_MAX_MESH_NODES)
    .describe('lint: flag a node-to-node mesh with more BGP nodes than this'),
  summaryIntervalMs: ms.default(0).describe('print a console summary this often (0: off)'),
  ...serverTlsFields,
});

export type ServeConfig = z.infer<typeof serveSchema>;

/** Cross-field rules that per-field schemas cannot express. */
export function checkServeConfig(cfg: ServeConfig): string[] {
  const problems: string[] = [];
  if (cfg.datastore === 'file' && !cfg.path) problems.push('--datastore file needs --path DIR (TABBY_PATH)');
  if (cfg.datastore !== 'file' && cfg.path) problems.push('--path is only for --datastore file');
  if (cfg.datastore !== 'kubernetes' && cfg.kubeconfig && !cfg.discoveryService)
    problems.push('--kubeconfig is only for --datastore kubernetes or --discovery-service');
  problems.push(...serverTlsProblems(cfg));
  if (namesPods(cfg) && cfg.datastore !== 'kubernetes')
    problems.push(
      '{pod} in --tls-allowed-client-* needs --datastore kubernetes (pods are placed by the API server)',
    );
  if (namesPods(cfg) && cfg.workers !== undefined && cfg.workers > 1)
    problems.push(
      '{pod} in --tls-allowed-client-* needs --workers 1 (the pod placement index lives in the primary)',
    );
  // Each worker takes its exact part of the connection limits: none may be left with nothing.
  if (cfg.workers !== undefined && cfg.workers > Math.min(cfg.maxConnections, cfg.maxPendingHandshakes))
    problems.push(
      '--workers is more than --max-connections or --max-pending-handshakes: each worker takes a part of them',
    );
  if (cfg.tlsCertFile && cfg.agents > 0)
    problems.push('--agents runs plain-TCP demo agents: not with mutual TLS (--tls-cert-file)');
  return problems;
}

/**
 * Default ceiling on worker processes: each holds its own heap and mirror of every snapshot,
 * and a pod without a CPU limit sees every core of its node (64 cores must not mean 64 copies).
 */
export const MAX_DEFAULT_WORKERS = 4;

/**
 * Processes that own client sockets: --workers, else one per core available up to
 * MAX_DEFAULT_WORKERS, and no more than the connection limits can be split among. Pod identities (`{pod}`) are checked against the primary's placement
 * index, so they keep one process.
 */
export function workerCount(cfg: ServeConfig, coresAvailable: number): number {
  if (cfg.workers !== undefined) return cfg.workers;
  if (namesPods(cfg)) return 1;
  const limit = Math.min(MAX_DEFAULT_WORKERS, cfg.maxConnections, cfg.maxPendingHandshakes);
  return Math.min(limit, Math.max(1, coresAvailable));
}
