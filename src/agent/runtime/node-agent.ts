// The node agent's runtime in one place: which stream feeds which part, one ApplyLoop per part
// (the policy part through PolicyAgent, the routing parts through RoutingAgent), each stream
// started once however many parts it feeds, the milestones an operator needs in the log, the
// parts' stats and the streams' status for health and metrics, and stop. The parts (managers
// in dataplane/<part>/) and the clients are built by the composition root and handed over.

import type { SyncClient } from '../../client/sync-client.js';
import type { Logger } from '../../model/logger.js';
import type { ApplyStats } from './apply-loop.js';
import { PartsStopError, stopFailures } from './errors.js';
import type { AgentHealthSources } from './health.js';
import type { PolicyDataplane, RoutingPart } from './parts.js';
import { PolicyAgent } from './policy-agent.js';
import { RoutingAgent } from './routing-agent.js';
import { logStreamMilestones } from './stream-log.js';

export interface NodeAgentOptions {
  node: string;
  /** The felix stream: the policy part and the felix-side routing parts (routes, WireGuard). */
  felix: SyncClient;
  /** The bgp stream, when a part follows it (BIRD). */
  bgp?: SyncClient;
  policy?: PolicyDataplane;
  felixParts?: readonly RoutingPart[];
  bgpParts?: readonly RoutingPart[];
  log: Logger;
  coalesceMs?: number;
}

export class NodeAgent implements AgentHealthSources {
  readonly policy: PolicyAgent | undefined;
  readonly routing: RoutingAgent | undefined;
  /** The streams some part follows, by syncer; each is started and stopped once. */
  private readonly clients = new Map<string, SyncClient>();
  /** Since when (ms, monotonic) each stream has been without a connection; from the start until its first. */
  private readonly lostAt = new Map<string, number>();

  constructor(o: NodeAgentOptions) {
    const felixParts = o.felixParts ?? [];
    const bgpParts = o.bgp ? (o.bgpParts ?? []) : [];
    if (o.policy || felixParts.length > 0) this.clients.set('felix', o.felix);
    if (o.bgp && bgpParts.length > 0) this.clients.set('bgp', o.bgp);
    this.policy = o.policy && new PolicyAgent(o.node, o.felix, o.policy, o.log, o.coalesceMs);
    this.routing =
      felixParts.length + bgpParts.length > 0
        ? new RoutingAgent({
            node: o.node,
            log: o.log,
            ...(o.coalesceMs !== undefined && { coalesceMs: o.coalesceMs }),
            ...(bgpParts.length > 0 && o.bgp && { bgp: { client: o.bgp, parts: bgpParts } }),
            ...(felixParts.length > 0 && { felix: { client: o.felix, parts: felixParts } }),
          })
        : undefined;
    logStreamMilestones(o.node, [...this.clients.values()], o.log);
    for (const [syncer, c] of this.clients) {
      this.lostAt.set(syncer, performance.now());
      c.on('connected', () => this.lostAt.delete(syncer));
      c.on('disconnected', () => {
        if (!this.lostAt.has(syncer)) this.lostAt.set(syncer, performance.now());
      });
    }
  }

  /** Whether any part runs at all. */
  get empty(): boolean {
    return this.clients.size === 0;
  }

  parts(): Record<string, ApplyStats> {
    return { ...(this.policy && { [this.policy.name]: this.policy.stats }), ...this.routing?.stats() };
  }

  streams(): Record<string, string> {
    return Object.fromEntries([...this.clients].map(([syncer, c]) => [syncer, c.status]));
  }

  disconnected(): Record<string, number> {
    const now = performance.now();
    return Object.fromEntries([...this.lostAt].map(([syncer, at]) => [syncer, Math.round(now - at)]));
  }

  start(): void {
    for (const c of this.clients.values()) c.start();
  }

  /**
   * Stops every part and stream, each even if another fails (a daemon left running blocks the
   * next agent); what stays on the node is each part's decision. Throws when any failed.
   */
  async stop(): Promise<void> {
    const results = await Promise.allSettled([this.policy?.stop(), this.routing?.stop()]);
    const failed = stopFailures(results, ['policy', 'routing']);
    if (failed.length > 0) throw new PartsStopError('agent parts', failed);
  }

  /** Resolves once every part matches everything received so far. */
  async settled(): Promise<void> {
    await Promise.all([this.policy?.settled(), this.routing?.settled()]);
  }
}
