// A node's IPAM routes kept in step with the routing state: compute (pure) and apply (driver).
// Syncs run one at a time in call order; warnings are logged when they change, not on every
// sync, so a cluster with a permanently unroutable node does not flood the log.

import type { Logger } from '../../../model/logger.js';
import { planRoutes, type RouteMode, type RouteOptions, type RoutePlan } from '../../calc/routing/routes.js';
import type { RoutingState } from '../../calc/routing/state.js';
import type { RoutingPart } from '../../runtime/parts.js';
import { type RouteApplyResult, type RouteDriverOptions, RouteTableDriver } from './driver.js';

export interface RouteDataplaneOptions extends RouteDriverOptions {
  readonly localWorkloads?: RouteOptions['localWorkloads'];
  readonly ipipDevice?: string;
  readonly vxlanDevice?: string;
}

export class RouteDataplane implements RoutingPart {
  readonly name = 'routes';
  readonly driver: RouteTableDriver;
  lastPlan: RoutePlan | undefined;
  lastResult: RouteApplyResult | undefined;
  lastError: Error | undefined;
  private queue: Promise<void> = Promise.resolve();
  private lastWarnings = '';
  private lastConflicts = '';

  constructor(
    readonly node: string,
    readonly mode: RouteMode,
    private readonly options: RouteDataplaneOptions,
    private readonly log: Logger,
  ) {
    this.driver = new RouteTableDriver(options);
  }

  /** Computes this node's routes from `state` and applies them; rejects with the driver's typed error. */
  sync(state: RoutingState): Promise<void> {
    // Compute now, so the plan reflects the state as it was at the call, whatever runs before it.
    const plan = planRoutes(state, this.node, {
      mode: this.mode,
      ...(this.options.localWorkloads ? { localWorkloads: this.options.localWorkloads } : {}),
      ...(this.options.ipipDevice ? { ipipDevice: this.options.ipipDevice } : {}),
      ...(this.options.vxlanDevice ? { vxlanDevice: this.options.vxlanDevice } : {}),
    });
    const run = this.queue.then(() => this.#apply(plan));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Removes every route this agent programmed (agent shutdown with --cleanup). */
  async cleanup(): Promise<void> {
    await this.queue;
    const removed = await this.driver.cleanup();
    this.log.info({ removed, table: this.driver.table }, 'routes removed');
  }

  async #apply(plan: RoutePlan): Promise<void> {
    this.lastPlan = plan;
    const warnings = JSON.stringify(plan.warnings);
    if (warnings !== this.lastWarnings) {
      this.lastWarnings = warnings;
      for (const w of plan.warnings) this.log.warn({ dst: w.dst, node: w.node }, w.message);
    }
    const started = performance.now();
    try {
      const result = await this.driver.apply(plan.routes);
      this.lastResult = result;
      this.lastError = undefined;
      const conflicts = JSON.stringify(result.conflicts.map((c) => c.route.dst));
      if (conflicts !== this.lastConflicts) {
        this.lastConflicts = conflicts;
        for (const c of result.conflicts)
          this.log.warn(
            { dst: c.route.dst, holder: c.holder, reason: c.route.reason },
            'route left alone: another protocol holds this destination',
          );
      }
      if (result.replaced.length > 0 || result.removed.length > 0)
        this.log.info(
          {
            replaced: result.replaced.map((r) => `${r.dst} (${r.reason})`),
            removed: result.removed.map((r) => r.dst),
            unchanged: result.unchanged,
            leftToBgp: plan.leftToBgp.length,
            ms: Math.round(performance.now() - started),
          },
          'routes updated',
        );
    } catch (err) {
      this.lastError = err as Error;
      throw err;
    }
  }
}
