// What the iptables and nftables dataplanes share: render the calculator's state (pure, through
// a cache held across renders, so chains of unchanged policies, profiles and endpoints are
// reused), log each distinct renderer warning once, hand the result to the driver, and log
// what it changed.

import type { Logger } from '../model/logger.js';
import type { PolicyDataplane } from './agent.js';
import type { PolicyCalculator } from './calc/index.js';
import { type Render, RenderCache, snapshotOf } from './dataplane/rules/index.js';

/** A render of the calculator's state from scratch, without a cache (for --dry-run). */
export const renderFresh = <R>(render: Render<R>, calc: PolicyCalculator): R => render(snapshotOf(calc));

/** How a dataplane turns the calculator's state into what its driver applies; `cache` lives across renders. */
export type CalcRender<R> = (calc: PolicyCalculator, cache: RenderCache) => R;

/** A table dataplane's render (iptables, nftables): its translator of the rule model, over the state's snapshot. */
export const viaRuleModel =
  <R>(render: Render<R>): CalcRender<R> =>
  (calc, cache) =>
    render(snapshotOf(calc), {}, cache);

export interface RenderingDriver<R, A> {
  apply(rendered: R): Promise<A>;
}

export abstract class RenderingDataplane<R extends { readonly warnings: readonly string[] }, A>
  implements PolicyDataplane
{
  abstract readonly name: string;
  private readonly warned = new Set<string>();
  readonly #cache = new RenderCache();

  constructor(
    protected readonly log: Logger,
    readonly driver: RenderingDriver<R, A>,
    private readonly renderer: CalcRender<R>,
  ) {}

  /** What the apply changed, for the log; undefined when nothing changed. */
  protected abstract describe(result: A, rendered: R): Record<string, unknown> | undefined;

  async sync(calc: PolicyCalculator): Promise<void> {
    const rendered = this.renderer(calc, this.#cache);
    for (const w of rendered.warnings) {
      if (this.warned.has(w)) continue;
      this.warned.add(w);
      this.log.warn({ warning: w }, 'rule not rendered');
    }
    const changed = this.describe(await this.driver.apply(rendered), rendered);
    if (changed) this.log.info(changed, `${this.name} updated`);
  }
}
