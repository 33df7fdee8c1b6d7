// The soak's CI slice (issue 14): about three minutes of `npm run soak` with a fixed seed whose
// first faults include both replica faults (a SIGKILL mid snapshot storm, all replicas down),
// fault durations scaled down. Asserted: every fault recovered and, in the end, every
// verifying agent holds the hash a fresh replica serves for the API's state and every lean
// client is back in sync. Times are reported, never asserted (a loaded 2-core machine).
import { describe, expect, it } from 'vitest';
import { DEFAULT_SOAK, formatSoak, runSoak } from '../../loadtest/soak.js';

describe('soak (CI slice)', () => {
  it('seed 14, 2 minutes of faults: every fault recovered, every agent at the API state', {
    timeout: 900_000,
  }, async () => {
    const lines: string[] = [];
    const r = await runSoak({
      ...DEFAULT_SOAK,
      minutes: 2,
      seed: 14,
      replicas: 3,
      light: 8,
      lean: 60,
      full: 2,
      faultScale: 0.3,
      settleMs: 240_000,
      log: (l) => lines.push(l),
    });
    console.log(formatSoak(r));
    expect(r.problems).toEqual([]);
    expect(r.faults.length).toBeGreaterThanOrEqual(3);
    expect(r.faults.every((f) => f.recoverMs !== undefined)).toBe(true);
    expect(r.agents.matching).toBe(r.agents.checked);
    expect(r.agents.checked).toBe(10);
    expect(r.agents.lean.synced).toBe(r.agents.lean.total);
    expect(r.ok).toBe(true);
  });
});
