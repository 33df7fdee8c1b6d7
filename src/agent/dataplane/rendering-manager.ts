// What the iptables, nftables and eBPF dataplanes share: take each calc update as it happens
// (a SnapshotFeed keeps the calc output the renderers read, changing only what the update
// names), render it (pure, through a cache held across renders, so chains of unchanged
// policies, profiles and endpoints are reused), log each distinct renderer warning once, hand
// the result to the driver, and log what it changed.

import type { Logger } from '../../model/logger.js';
import type { CalcUpdate, PolicyCalculator } from '../calc/index.js';
import type { PolicyDataplane } from '../runtime/parts.js';
import { type Render, RenderCache, SnapshotFeed, snapshotOf } from './rules/index.js';

/** A render of the calculator's state from scratch, without a cache (for --dry-run). */
export const renderFresh = <R>(render: Render<R>, calc: PolicyCalculator): R => render(snapshotOf(calc));

/**
 * How a dataplane turns the calculator's state into what its driver applies; `cache` and
 * `feed` (the calc output, kept up to date from each update) live across renders.
 */
export type CalcRender<R> = (calc: PolicyCalculator, cache: RenderCache, feed: SnapshotFeed) => R;

/** A table dataplane's render (iptables, nftables): its translator of the rule model, over the fed snapshot. */
export const viaRuleModel =
  <R>(render: Render<R>): CalcRender<R> =>
  (_calc, cache, feed) =>
    render(feed.snapshot(), {}, cache);

export interface RenderingDriver<R, A> {
  apply(rendered: R): Promise<A>;
}

export abstract class RenderingDataplane<R extends { readonly warnings: readonly string[] }, A>
  implements PolicyDataplane
{
  abstract readonly name: string;
  private readonly warned = new Set<string>();
  readonly #cache = new RenderCache();
  #feed: SnapshotFeed | undefined;

  constructor(
    protected readonly log: Logger,
    readonly driver: RenderingDriver<R, A>,
    private readonly renderer: CalcRender<R>,
  ) {}

  /** What the apply changed, for the log; undefined when nothing changed. */
  protected abstract describe(result: A, rendered: R): Record<string, unknown> | undefined;

  observe(update: CalcUpdate): void {
    this.#feed?.update(update);
  }

  async sync(calc: PolicyCalculator): Promise<void> {
    if (this.#feed?.calc !== calc) this.#feed = new SnapshotFeed(calc);
    const rendered = this.renderer(calc, this.#cache, this.#feed);
    for (const w of rendered.warnings) {
      if (this.warned.has(w)) continue;
      this.warned.add(w);
      this.log.warn({ warning: w }, 'rule not rendered');
    }
    const changed = this.describe(await this.driver.apply(rendered), rendered);
    if (changed) this.log.info(changed, `${this.name} updated`);
  }
}
