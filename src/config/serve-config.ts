// Every setting of `tabby serve`, with defaults and units in the names. Defaults follow
// Typha's where it has one (ping 10 s, pong 60 s, handshake 10 s, fall-behind 300 s).

import { z } from 'zod';
import { DEFAULT_SERVER_OPTIONS } from '../server/options.js';
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
    .default(300)
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
    .default(10_000)
    .describe(
      'connections past HELLO beyond this are refused with a reason and a retry hint (the replica’s total: each of --workers takes its part)',
    ),
  maxPendingHandshakes: pos
    .default(1_000)
    .describe(
      'connections still waiting for HELLO, counted apart; when full the longest-waiting one (after 1 s) gives way',
    ),
  handshakeTimeoutMs: pos.default(10_000).describe('a client must send HELLO within this'),
  pingIntervalMs: pos.default(10_000).describe('server PING interval'),
  pongTimeoutMs: pos.default(60_000).describe('drop a client silent for this long'),
  writeTimeoutMs: pos.default(120_000).describe('drop a client whose socket does not drain for this long'),
  maxQueuedBytes: pos
    .min(1 << 20)
    .default(64 << 20)
    .describe(
      'drop a client whose socket holds more unsent bytes than this (write-queue-full); must exceed the largest snapshot',
    ),
  clientPingBurst: pos
    .default(10)
    .describe('PINGs a client may send at once; beyond its rate: too-many-pings'),
  clientPingRefillMs: pos.default(1_000).describe('a client earns one more PING per this many ms'),
  maxFallBehindMs: pos.default(300_000).describe('drop a client whose oldest missing update is this old'),
  newClientGraceMs: ms.default(300_000).describe('fall-behind grace after a snapshot'),
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
    .default(5_000)
    .describe('how often a replica above its share of the nodes moves a few clients away (0: never)'),
  rebalanceMaxPerInterval: pos.default(5).describe('clients moved per syncer per rebalance interval at most'),
  rebalanceSlack: z.coerce
    .number()
    .nonnegative()
    .default(0.1)
    .describe('room above an even share (nodes / ready replicas) before moving clients, e.g. 0.1 = 10 %'),
  rebalanceRetryAfterMs: ms
    .default(60_000)
    .describe('a client moved away for rebalancing stays away from this replica this long'),
  notReadyRetryAfterMs: pos
    .default(5_000)
    .describe('retry hint (±50 %) given to clients refused as not-ready'),
  maxSnapshotsInFlight: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_SERVER_OPTIONS.maxSnapshotsInFlight)
    .describe(
      'snapshots written at once (default: 4 per core, at least 8); more clients wait in line, FIFO, and are told their place (0: unlimited)',
    ),
  snapshotBytesPerSecond: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_SERVER_OPTIONS.snapshotBytesPerSecond)
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
  listenBacklog: pos.default(4_096).describe('accept queue length (capped by net.core.somaxconn)'),
  fanoutSliceMs: pos.default(20).describe('a fan-out pass yields to the event loop after this long'),
  maxBatchSize: pos.default(1_000).describe('updates per generation at most'),
  maxBatchDelayMs: ms.default(10).describe('a batch is published when its first update is this old'),
  maxHistoryBytes: pos.default(64 << 20).describe('retained delta history for catch-up/resume, bytes'),
  maxHistoryAgeMs: pos.default(300_000).describe('retained delta history for catch-up/resume, age'),
  snapshotReuseMs: ms.default(1_000).describe('reuse an encoded snapshot for new clients this long'),
  maxFrameBodyBytes: pos
    .max(8 << 20)
    .default(1 << 20)
    .describe('frame body size limit: larger deltas/snapshots are split; a larger single value is rejected'),
  compression: compressionSetting.describe(
    'compression to use with clients that offer it: zstd (else deflate; zstd only where this Node has it, >= 22.15), deflate or none',
  ),
  simSeed: z.coerce.number().int().default(1).describe('sim: random seed'),
  simNodes: z.coerce.number().int().min(4).default(50).describe('sim: nodes (at least 4)'),
  simPods: z.coerce.number().int().min(3).default(1_500).describe('sim: pods (at least 3)'),
  simChurnPerSec: z.coerce.number().nonnegative().default(20).describe('sim: updates per second'),
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
  lintMaxMeshNodes: pos.default(100).describe('lint: flag a node-to-node mesh with more BGP nodes than this'),
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
