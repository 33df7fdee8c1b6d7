// How many worker processes `tabby serve` runs: the flag, else a core each; `{pod}` identities
// keep one process (the pod placement index lives in the primary).
import { describe, expect, it } from 'vitest';
import { cpusOfQuota } from '../../src/cli/serve-fanout.js';
import { serverOptions, shareOf } from '../../src/cli/serve-options.js';
import { checkServeConfig, serveSchema, workerCount } from '../../src/config/serve-config.js';

const cfg = (o: Record<string, unknown> = {}) => serveSchema.parse(o);
const TLS = { tlsCertFile: 'c', tlsKeyFile: 'k', tlsClientCaFile: 'ca' };

describe('serve --workers', () => {
  it('defaults to the cores available, and takes the setting as given', () => {
    expect(workerCount(cfg(), 4)).toBe(4);
    expect(workerCount(cfg(), 0)).toBe(1);
    // A pod without a CPU limit on a large node: not one process per core of the node.
    expect(workerCount(cfg(), 64)).toBe(4);
    expect(workerCount(cfg({ workers: '1' }), 8)).toBe(1);
    expect(workerCount(cfg({ workers: 3 }), 2)).toBe(3);
    expect(() => cfg({ workers: 0 })).toThrow();
  });

  it('keeps one process for {pod} identities, and refuses more when asked for', () => {
    const pods = {
      ...TLS,
      tlsAllowedClientUriSans: 'spiffe://x/ns/tabby/pod/{pod}',
      datastore: 'kubernetes',
    };
    expect(workerCount(cfg(pods), 4)).toBe(1);
    expect(checkServeConfig(cfg({ ...pods, workers: 2 }))).toContainEqual(
      expect.stringMatching(/needs --workers 1/),
    );
    expect(checkServeConfig(cfg({ ...pods, workers: 1 }))).toEqual([]);
  });
});

describe('limits split among workers', () => {
  it('gives each worker its part, the parts adding up to the replica’s limit exactly', () => {
    for (const [total, workers] of [
      [5, 2],
      [10_000, 3],
      [7, 7],
      [1_001, 4],
    ] as const) {
      const parts = Array.from({ length: workers }, (_, slot) => shareOf(total, { workers, slot }));
      expect(
        parts.reduce((a, b) => a + b),
        `${total} over ${workers}`,
      ).toBe(total);
      expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
    }
    expect(shareOf(0, { workers: 3, slot: 2 })).toBe(0); // unlimited stays unlimited
    expect(shareOf(2, { workers: 3, slot: 2 })).toBe(1); // a positive budget never becomes 0 (= unlimited)
  });

  it('splits --max-connections and --max-pending-handshakes over the workers’ servers', () => {
    const c = cfg({ maxConnections: 5, maxPendingHandshakes: 3, workers: 2 });
    const opts = [0, 1].map((slot) => serverOptions(c, 'r', { workers: 2, slot }));
    expect(opts.map((o) => o.maxConnections)).toEqual([3, 2]);
    expect(opts.map((o) => o.maxPendingHandshakes)).toEqual([2, 1]);
    expect(serverOptions(c, 'r').maxConnections).toBe(5); // one process: the whole limit
  });

  it('refuses more workers than connections to split, and defaults to no more', () => {
    expect(checkServeConfig(cfg({ maxConnections: 2, workers: 3 }))).toContainEqual(
      expect.stringMatching(/--workers is more than --max-connections/),
    );
    expect(workerCount(cfg({ maxConnections: 2 }), 4)).toBe(2);
  });
});

describe('cores available in a container', () => {
  it('reads a cgroup v2 CPU quota, rounded up; none without one', () => {
    expect(cpusOfQuota('200000 100000\n')).toBe(2);
    expect(cpusOfQuota('150000 100000')).toBe(2);
    expect(cpusOfQuota('50000 100000')).toBe(1);
    expect(cpusOfQuota('max 100000')).toBeUndefined();
    expect(cpusOfQuota('garbage')).toBeUndefined();
  });
});
