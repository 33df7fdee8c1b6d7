// `tabby agent`: the node agent's composition root. The felix stream feeds the policy part
// (iptables/nftables or --dry-run files) and the felix-side routing parts (kernel routes
// from IPAM, WireGuard); the bgp stream feeds BIRD. WireGuard keys go back to the server in
// REPORT messages, which records them on the Node: the agent needs no Kubernetes access.

import { lstat, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { BirdConnectError, birdCommand } from '../agent/dataplane/bird/birdc.js';
import { BirdDriver } from '../agent/dataplane/bird/driver.js';
import { BirdDataplane } from '../agent/dataplane/bird/manager.js';
import { registerBirdMetrics } from '../agent/dataplane/bird/metrics.js';
import { BirdProcess } from '../agent/dataplane/bird/process.js';
import { FAST_TIMERS, PRODUCTION_TIMERS } from '../agent/dataplane/bird/render.js';
import { RouteDataplane } from '../agent/dataplane/routes/index.js';
import { WireguardDataplane } from '../agent/dataplane/wireguard/index.js';
import { registerWireguardMetrics } from '../agent/dataplane/wireguard/metrics.js';
import { agentReadiness } from '../agent/runtime/health.js';
import { agentMetrics } from '../agent/runtime/metrics.js';
import { NodeAgent } from '../agent/runtime/node-agent.js';
import type { RoutingPart } from '../agent/runtime/parts.js';
import { SyncClient } from '../client/sync-client.js';
import { type AgentConfig, agentSchema } from '../config/agent-config.js';
import { ConfigError } from '../config/errors.js';
import { requireFile } from '../config/paths.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { clientTlsOptions } from '../config/tls-config.js';
import { parseHostPort } from '../model/address.js';
import type { Logger } from '../model/logger.js';
import { startHealthServer } from '../observability/health.js';
import { createLogger } from '../observability/logging.js';
import { ReportKind } from '../protocol/reports.js';
import { createPolicyPart } from './agent-policy.js';
import { startDiscovery } from './discovery.js';
import { exitAfterFlush } from './exit.js';
import { onStopRequest } from './stop-request.js';

const AGENT = 'tabby-agent/0.1.0';

export function agentCommand(): Command {
  const cmd = new Command('agent').description(
    "node agent: program this node's policy, BGP (BIRD), IPAM routes and WireGuard from the Tabby streams",
  );
  addSchemaOptions(cmd, agentSchema.shape);
  cmd.action(async () => {
    const cfg = resolveConfig(cmd, agentSchema);
    const log = createLogger(cfg.logLevel).child({ node: cfg.node });
    const tls = clientTlsOptions(cfg);
    if (cfg.kubeconfig !== undefined) await requireFile('kubeconfig', cfg.kubeconfig);
    const servers = cfg.server.split(',').map((s) => s.trim());
    // Discovered replicas are read at every dial, so a reconnect sees the current set; the
    // static list is the fallback while discovery has found none.
    const discovery = cfg.discoveryService
      ? startDiscovery(cfg.discoveryService, cfg.kubeconfig, log)
      : undefined;
    const client = (syncer: 'felix' | 'bgp') =>
      new SyncClient({
        ...(discovery
          ? { addressProvider: () => (discovery.dialable().length > 0 ? discovery.dialable() : servers) }
          : { addresses: servers }),
        driftIntervalMs: cfg.driftIntervalMs,
        syncer,
        hostname: cfg.node,
        agent: AGENT,
        log: log.child({ syncer }),
        ...(tls ? { tls } : {}),
      });
    const policyPart = await createPolicyPart(cfg, log);
    if (cfg.cleanup) {
      if (!policyPart?.cleanup)
        throw new ConfigError('--cleanup: no policy dataplane to clean up (--dataplane none or --dry-run)');
      await policyPart.cleanup();
      log.info({ dataplane: cfg.dataplane }, 'policy dataplane removed (--cleanup)');
      await exitAfterFlush(0);
      return;
    }
    const felix = client('felix');
    const routing = await createRoutingParts(cfg, felix, log);
    const bgp = routing.bgp.length > 0 ? client('bgp') : undefined;
    const agent = new NodeAgent({
      node: cfg.node,
      felix,
      ...(bgp && { bgp, bgpParts: routing.bgp }),
      ...(policyPart && { policy: policyPart.dataplane }),
      felixParts: routing.felix,
      log,
    });
    if (agent.empty)
      throw new ConfigError('nothing to do: --dataplane none, --bgp off, --routes off and --wireguard off');
    const health = await startAgentHealth(cfg, agent, routing.wireguard);
    if (health) log.info({ address: health }, 'health and metrics listening');
    agent.start();
    log.info(
      {
        server: cfg.discoveryService ?? cfg.server,
        dataplane: cfg.dryRun ? `dry-run ${cfg.dryRun}` : (policyPart?.dataplane.name ?? 'none'),
        bgp: cfg.bgp,
        routes: cfg.routes,
        wireguard: cfg.wireguard,
      },
      'agent started',
    );
    const stop = async (reason: string) => {
      const cleanup = cfg.cleanupOnStop ? policyPart?.cleanup : undefined;
      log.info(
        { reason },
        cleanup
          ? 'agent stopping (removing the policy dataplane)'
          : 'agent stopping (the dataplane is left as it is)',
      );
      discovery?.stop();
      // The cleanup runs once the parts have stopped applying, whatever failed to stop.
      const failed: unknown[] = [];
      await agent.stop().catch((err: unknown) => failed.push(err));
      await cleanup?.().catch((err: unknown) => failed.push(err));
      for (const err of failed) log.error({ err: String(err) }, 'stop failed');
      await exitAfterFlush(failed.length > 0 ? 1 : 0);
    };
    onStopRequest((reason) => void stop(reason));
  });
  return cmd;
}

/** /livez, /readyz and /metrics on --health-listen; returns the bound address. */
async function startAgentHealth(
  cfg: AgentConfig,
  agent: NodeAgent,
  wireguard: WireguardDataplane | undefined,
): Promise<string | undefined> {
  if (cfg.healthListen === 'off') return undefined;
  const bad = (why: string) =>
    new ConfigError(`--health-listen (TABBY_HEALTH_LISTEN): ${why}; choose another HOST:PORT, or "off"`);
  let addr: { host: string; port: number };
  try {
    addr = parseHostPort(cfg.healthListen);
  } catch (err) {
    throw bad((err as Error).message);
  }
  // Each collector sits beside its part and reads it at scrape time; only this root wires them.
  const registry = agentMetrics(agent);
  if (agent.streams()['bgp'] !== undefined) registerBirdMetrics(registry, cfg.birdSocket);
  if (wireguard) registerWireguardMetrics(registry, () => wireguard.status());
  const srv = await startHealthServer(addr.host, addr.port, {
    registry,
    ready: () => agentReadiness(agent, { disconnectedGraceMs: cfg.readyDisconnectedMs }),
  }).catch((err: Error) => {
    throw bad(`cannot listen on ${cfg.healthListen}: ${err.message}`);
  });
  srv.unref();
  const a = srv.address();
  return a !== null && typeof a === 'object' ? `${a.address}:${a.port}` : String(a);
}

interface RoutingParts {
  /** Parts that follow the felix stream (routes, WireGuard). */
  felix: RoutingPart[];
  /** Parts that follow the bgp stream (BIRD). */
  bgp: RoutingPart[];
  wireguard: WireguardDataplane | undefined;
}

async function createRoutingParts(cfg: AgentConfig, felix: SyncClient, log: Logger): Promise<RoutingParts> {
  const none: RoutingParts = { felix: [], bgp: [], wireguard: undefined };
  if (cfg.dryRun) {
    // A dry run must not touch the host: no routes, no WireGuard device, no BIRD reload.
    log.info({}, '--dry-run: routing parts (BIRD, routes, WireGuard) are not run');
    return none;
  }
  const felixParts: RoutingPart[] = [];
  if (cfg.routes !== 'off') {
    const table = cfg.routeTable === 'main' ? 'main' : Number(cfg.routeTable);
    if (table !== 'main' && !Number.isInteger(table))
      throw new ConfigError(
        `--route-table (TABBY_ROUTE_TABLE): expected "main" or a number, got ${cfg.routeTable}`,
      );
    const routes = new RouteDataplane(cfg.node, cfg.routes, { table }, log.child({ part: 'routes' }));
    felixParts.push(routes);
  }
  let wireguard: WireguardDataplane | undefined;
  if (cfg.wireguard !== 'off') {
    const wg = new WireguardDataplane({
      nodeName: cfg.node,
      keyFile: cfg.wireguardKeyFile,
      deviceMode: cfg.wireguard,
      hostMtu: cfg.hostMtu,
      logger: log.child({ part: 'wireguard' }),
    });
    wg.onPublicKey((key) => felix.setReport(ReportKind.WireguardPublicKey, { publicKey: key ?? null }));
    // Operator-triggered key rotation (e.g. after a suspected key exposure): `kill -USR2 <agent>`.
    // The next key is published first and the device switches when the datastore echoes it.
    process.on('SIGUSR2', () => {
      wg.rotateKey().then(
        (key) => log.info({ publicKey: key }, 'WireGuard key rotated'),
        (err: Error) => log.error({ err: err.message }, 'WireGuard key rotation failed'),
      );
    });
    felixParts.push(wg);
    wireguard = wg;
  }
  const bgpParts: RoutingPart[] = [];
  if (cfg.bgp === 'bird') {
    await mkdir(dirname(cfg.birdConfig), { recursive: true });
    await mkdir(dirname(cfg.birdSocket), { recursive: true });
    if (cfg.birdRun) await shutDownLeftoverBird(cfg.birdSocket, log.child({ part: 'bird' }));
    const proc = cfg.birdRun
      ? new BirdProcess({
          configPath: cfg.birdConfig,
          socketPath: cfg.birdSocket,
          log: log.child({ part: 'bird' }),
        })
      : undefined;
    const driver = new BirdDriver({
      configPath: cfg.birdConfig,
      socketPath: cfg.birdSocket,
      log: log.child({ part: 'bird' }),
      ...(proc && { process: proc }),
    });
    const bird = new BirdDataplane({
      node: cfg.node,
      driver,
      bgp: cfg.routerId ? { routerId: cfg.routerId } : {},
      render: { timers: cfg.birdTimers === 'fast' ? FAST_TIMERS : PRODUCTION_TIMERS },
      secretsDir: cfg.bgpSecretsDir,
      log: log.child({ part: 'bird' }),
    });
    bgpParts.push({ name: 'bird', sync: (s) => bird.sync(s), ...(proc && { stop: () => proc.stop() }) });
  }
  return { felix: felixParts, bgp: bgpParts, wireguard };
}

/**
 * With --bird-run the agent runs bird as its child. A bird already answering on the socket was
 * left by an agent that was killed (bird outlives a SIGKILLed parent). The driver would adopt
 * it by reloading it, unsupervised; our exit would then remove its socket and leave it running,
 * holding BGP's port, so the next agent's bird could never peer. Shut it down and run our own.
 */
async function shutDownLeftoverBird(socketPath: string, log: Logger): Promise<void> {
  const answers = await birdCommand({ socketPath, connectTimeoutMs: 1_000 }, 'show status', 2_000).then(
    () => true,
    (err: unknown) => {
      if (err instanceof BirdConnectError) return false;
      throw err;
    },
  );
  if (!answers) return;
  log.warn(
    { socket: socketPath },
    'a bird not started by this agent answers on the socket; shutting it down',
  );
  // bird may close the connection before or after replying: either way it is going down.
  await birdCommand({ socketPath }, 'down', 5_000).catch(() => undefined);
  // bird removes its socket as it exits, releasing the BGP port our bird needs.
  const deadline = Date.now() + 10_000;
  while (await socketExists(socketPath)) {
    if (Date.now() > deadline) throw new Error(`the bird on ${socketPath} did not shut down within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const socketExists = (path: string): Promise<boolean> =>
  lstat(path).then(
    () => true,
    () => false,
  );
