// Event-loop delay of the processes on a delivery's path, per measuring window, so that a late
// tail can be put on the API emulator's loop or the replica's. The replica's comes from its own
// /metrics (prom-client's default metrics under the tabby_ prefix: their histogram starts
// again at every scrape, so one scrape at the window's start and one at its end bracket it).

export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

const GAUGE = /^tabby_nodejs_eventloop_lag_(p99|max)_seconds(?:\{[^}]*\})?\s+(\S+)/;

/** p99 and max from a Prometheus text page; undefined when either gauge is missing. */
export function loopDelayFromMetrics(text: string): LoopDelay | undefined {
  const found: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = GAUGE.exec(line);
    if (m) found[m[1]!] = Number(m[2]) * 1_000;
  }
  const { p99, max } = found;
  return p99 !== undefined && max !== undefined && Number.isFinite(p99) && Number.isFinite(max)
    ? { p99Ms: p99, maxMs: max }
    : undefined;
}

/** Scrapes a replica's health port; undefined if it does not answer in 2 s (the run goes on). */
export async function scrapeLoopDelay(healthPort: number): Promise<LoopDelay | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? loopDelayFromMetrics(await res.text()) : undefined;
  } catch {
    return undefined;
  }
}
