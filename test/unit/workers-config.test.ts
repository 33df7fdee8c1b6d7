// How many worker processes `tabby serve` runs: the flag, else a core each; `{pod}` identities
// keep one process (the pod placement index lives in the primary).
import { describe, expect, it } from 'vitest';
import { cpusOfQuota } from '../../src/cli/serve-fanout.js';
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

describe('cores available in a container', () => {
  it('reads a cgroup v2 CPU quota, rounded up; none without one', () => {
    expect(cpusOfQuota('200000 100000\n')).toBe(2);
    expect(cpusOfQuota('150000 100000')).toBe(2);
    expect(cpusOfQuota('50000 100000')).toBe(1);
    expect(cpusOfQuota('max 100000')).toBeUndefined();
    expect(cpusOfQuota('garbage')).toBeUndefined();
  });
});
