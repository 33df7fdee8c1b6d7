// The only routing-table code that touches the OS, through the exec shim tests replace: reads
// the routes of one table that carry Tabby's route protocol, diffs them against the desired
// set, and applies the difference in one `ip -force -batch -` (replace, then del). Routes of
// any other protocol are never changed: deletes name our protocol, and a desired destination
// that another protocol already holds is reported as a conflict rather than overwritten.

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';
import type { DesiredRoute } from '../../calc/routing/routes.js';
import { execShim, type Shim } from '../exec-shim.js';
import {
  deleteLine,
  diffRoutes,
  type KernelRoute,
  parseBatchFailures,
  parseIpRouteJson,
  replaceLine,
  TABBY_ROUTE_PROTOCOL,
} from './ip-route.js';

export interface RouteDriverOptions {
  /** Routing table: "main" (default) or a number 1..4294967295 other than 253/255. */
  readonly table?: 'main' | number;
  /** Route protocol marking our routes; default TABBY_ROUTE_PROTOCOL (81). */
  readonly protocol?: number;
  /** Run `ip` inside this network namespace (tests, lab nodes). Ignored when `shim` is given. */
  readonly netns?: string;
  readonly shim?: Shim;
}

export interface RouteFailure {
  readonly dst: string;
  /** The `ip -batch` line that failed. */
  readonly command: string;
  readonly message: string;
}

export class RouteApplyError extends TabbyError {
  constructor(
    message: string,
    readonly failures: readonly RouteFailure[],
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.RouteApply, message, options);
  }
}

export class RouteReadError extends TabbyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.RouteRead, message, options);
  }
}

export class RouteDriverOptionsError extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.RouteOptions, message);
  }
}

export interface RouteApplyResult {
  readonly replaced: readonly DesiredRoute[];
  readonly removed: readonly KernelRoute[];
  readonly conflicts: readonly { readonly route: DesiredRoute; readonly holder: KernelRoute }[];
  readonly unchanged: number;
}

/** The kernel's answer when a numbered table has never held a route. */
const NO_TABLE = /FIB table does not exist/;

export class RouteTableDriver {
  readonly table: string;
  readonly protocol: number;
  private readonly shim: Shim;

  constructor(options: RouteDriverOptions = {}) {
    const table = options.table ?? 'main';
    if (
      table !== 'main' &&
      (!Number.isInteger(table) || table < 1 || table > 0xffff_ffff || table === 253 || table === 255)
    )
      throw new RouteDriverOptionsError(
        `route table ${table}: want "main" or 1..4294967295 except 253 (default) and 255 (local)`,
      );
    const protocol = options.protocol ?? TABBY_ROUTE_PROTOCOL;
    // 0-4 are the kernel's own (unspec, redirect, kernel, boot, static); 12 is BIRD's.
    if (!Number.isInteger(protocol) || protocol < 5 || protocol > 255 || protocol === 12)
      throw new RouteDriverOptionsError(`route protocol ${protocol}: want 5..255, not 12 (bird)`);
    this.table = String(table);
    this.protocol = protocol;
    this.shim = options.shim ?? execShim(options.netns === undefined ? {} : { netns: options.netns });
  }

  /** Our routes in the table (only those with our protocol). */
  async read(): Promise<KernelRoute[]> {
    return this.#show(['proto', String(this.protocol)]);
  }

  async apply(desired: readonly DesiredRoute[]): Promise<RouteApplyResult> {
    const [ours, all] = await Promise.all([this.read(), this.#show([])]);
    const mine = new Set(ours.map((r) => `${r.dst} ${r.metric}`));
    const others = all.filter((r) => !mine.has(`${r.dst} ${r.metric}`));
    const diff = diffRoutes(desired, ours, others);
    const lines: { command: string; dst: string }[] = [
      ...diff.replace.map((r) => ({ command: replaceLine(r, this.table, this.protocol), dst: r.dst })),
      ...diff.remove.map((r) => ({ command: deleteLine(r, this.table, this.protocol), dst: r.dst })),
    ];
    if (lines.length > 0) await this.#batch(lines);
    return {
      replaced: diff.replace,
      removed: diff.remove,
      conflicts: diff.conflicts,
      unchanged: diff.unchanged,
    };
  }

  /** Removes every route of ours from the table; nothing else. */
  async cleanup(): Promise<number> {
    return (await this.apply([])).removed.length;
  }

  async #show(filter: readonly string[]): Promise<KernelRoute[]> {
    let stdout: string;
    try {
      ({ stdout } = await this.shim.run('ip', ['-j', 'route', 'show', 'table', this.table, ...filter]));
    } catch (err) {
      if (NO_TABLE.test((err as Error).message)) return [];
      throw new RouteReadError(`reading routes of table ${this.table}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      return parseIpRouteJson(stdout);
    } catch (err) {
      throw new RouteReadError(`unreadable \`ip -j route\` output: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async #batch(lines: readonly { command: string; dst: string }[]): Promise<void> {
    const text = `${lines.map((l) => l.command).join('\n')}\n`;
    try {
      // -force: one bad route must not keep the others from being written.
      await this.shim.run('ip', ['-force', '-batch', '-'], text);
    } catch (err) {
      const message = (err as Error).message;
      const failures = parseBatchFailures(message).map(({ line, message: m }) => {
        const l = lines[line - 1];
        return { dst: l?.dst ?? '?', command: l?.command ?? `line ${line}`, message: m };
      });
      const named = failures.map((f) => `${f.command}: ${f.message}`).join('; ');
      throw new RouteApplyError(
        failures.length > 0
          ? `${failures.length} of ${lines.length} route changes failed: ${named}`
          : `ip -batch failed: ${message}`,
        failures,
        { cause: err },
      );
    }
  }
}
