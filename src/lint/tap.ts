// The server's lint stage: a DatastoreSink in front of the router that also feeds every
// update to a LintStage, and once the datastore is in sync (and after each quiet period)
// logs the findings that appeared or cleared. Its gauge lives in metrics.ts beside it.

import type { Logger } from '../model/logger.js';
import type { KV, SyncStatus } from '../model/types.js';
import { type Finding, type LintOptions, LintStage } from './index.js';

/** A DatastoreSink by shape, declared here so that lint imports no datastore (lint-is-pure). */
export interface UpdateSink {
  /** A batch of changes, applied in order; null value = deletion. */
  onUpdates(kvs: readonly KV[]): void;
  onStatus(status: SyncStatus): void;
}

export interface LintTapOptions extends LintOptions {
  /** Re-evaluate at most this often after updates (default 2,000 ms). */
  readonly quietMs?: number;
}

export class LintTap implements UpdateSink {
  readonly stage: LintStage;
  private inSync = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly quietMs: number;
  /** What the log last said, by logIdentity. */
  private reported = new Map<string, Finding>();
  /** Evaluations run so far (tests, metrics). */
  evaluations = 0;

  constructor(
    private readonly next: UpdateSink,
    private readonly log: Logger,
    opts: LintTapOptions = {},
  ) {
    this.stage = new LintStage(opts);
    this.quietMs = opts.quietMs ?? 2_000;
  }

  onUpdates(kvs: readonly KV[]): void {
    this.next.onUpdates(kvs);
    this.stage.apply(kvs);
    this.schedule();
  }

  onStatus(status: SyncStatus): void {
    this.next.onStatus(status);
    this.inSync = status === 'in-sync';
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Logs what changed since the last evaluation; returns it (tests). */
  evaluate(): { added: readonly Finding[]; cleared: readonly Finding[] } {
    this.evaluations++;
    const now = new Map(this.stage.findings().map((f) => [logIdentity(f), f]));
    const added: Finding[] = [];
    for (const [id, f] of now) {
      const before = this.reported.get(id);
      if (before === undefined) added.push(f);
      // Same problem, new wording (a policy list, a count): not news. Policy churn would
      // otherwise repeat the same warning every few seconds.
      else if (before.message !== f.message)
        this.log.debug({ rule: f.rule, resource: f.resource }, `lint finding updated: ${f.message}`);
    }
    const cleared = [...this.reported].filter(([id]) => !now.has(id)).map(([, f]) => f);
    this.reported = now;
    for (const f of added) {
      const fields = { rule: f.rule, resource: f.resource, related: f.related, fix: f.fix };
      if (f.severity === 'error') this.log.error(fields, f.message);
      else if (f.severity === 'warning') this.log.warn(fields, f.message);
      else this.log.info(fields, f.message);
    }
    for (const f of cleared) this.log.info({ rule: f.rule, resource: f.resource }, 'lint finding cleared');
    return { added, cleared };
  }

  private schedule(): void {
    // Before the first in-sync the state is partial: a missing BGPConfiguration or tier
    // would produce findings that vanish a moment later.
    // A throttle, not a debounce: steady churn (pods) must not postpone evaluation forever.
    if (!this.inSync || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.evaluate();
    }, this.quietMs);
    this.timer.unref();
  }
}

/**
 * What makes a finding "the same problem" for the log: rule and resource, plus the one other
 * resource of a pairwise finding (pool A overlaps B and C are two problems). A finding that
 * lists many related resources (a tier's policies) keeps its identity when that list churns.
 */
function logIdentity(f: Finding): string {
  return `${f.rule}|${f.resource}|${f.related.length === 1 ? f.related[0] : '*'}`;
}
