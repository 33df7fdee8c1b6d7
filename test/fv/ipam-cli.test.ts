// `tabby ipam show` against a real `tabby serve` on the simulated cluster (real processes),
// checked against the simulator's own IPAM built from the same seed and options.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlockUsage, BorrowedUsage, PoolUsage } from '../../src/agent/calc/routing/ipam-report.js';
import { buildCluster } from '../../src/testing/sim/index.js';
import { run, serve, simArgs } from '../harness/cli.js';

const SIM = { seed: 1, nodes: 20, pods: 1500 };
const blocks = buildCluster(SIM).ipam.blocks();
const used = (b: (typeof blocks)[number]) => b.allocations.filter((a) => a !== null).length;
const ipAt = (cidr: string, ordinal: number) => {
  const [a, b, c, d] = cidr.split('/')[0]!.split('.').map(Number);
  const n = ((a! << 24) >>> 0) + (b! << 16) + (c! << 8) + d! + ordinal;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
};
const borrowedInSim = blocks.flatMap((b) =>
  b.allocations.flatMap((a, ord) =>
    a !== null && b.attributes[a]!.node !== b.node
      ? [{ ip: ipAt(b.cidr, ord), node: b.attributes[a]!.node, block: b.cidr, blockOwner: b.node }]
      : [],
  ),
);

describe('tabby ipam show (real server on the sim)', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    server = await serve(simArgs(SIM));
  }, 30_000);
  afterAll(() => {
    if (server?.proc.exitCode === null) server.proc.kill('SIGKILL');
  });

  it('--json: pool totals, blocks and borrowed addresses equal the simulator IPAM', async () => {
    const r = await run([
      'ipam',
      'show',
      '--server',
      server.sync,
      '--show-blocks',
      '--show-borrowed',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      pools: PoolUsage[];
      blocks: BlockUsage[];
      borrowed: BorrowedUsage[];
      orphanBlocks: number;
    };
    const byPool = new Map<string, { used: number; blocks: number }>();
    for (const b of blocks) {
      const p = byPool.get(b.pool) ?? { used: 0, blocks: 0 };
      byPool.set(b.pool, { used: p.used + used(b), blocks: p.blocks + 1 });
    }
    expect(out.pools.map((p) => [p.name, p.inUse, p.blocks]).sort()).toEqual(
      [...byPool].map(([name, p]) => [name, p.used, p.blocks]).sort(),
    );
    const total = out.pools.find((p) => p.name === 'default-pool')!;
    expect(total).toMatchObject({ cidr: '10.244.0.0/16', size: 65536, free: 65536 - total.inUse });
    expect(out.blocks.map((b) => [b.cidr, b.node, b.inUse, b.size]).sort()).toEqual(
      blocks.map((b) => [b.cidr, b.node, used(b), b.allocations.length]).sort(),
    );
    expect(borrowedInSim.length).toBeGreaterThan(0);
    const sortIp = (x: { ip: string }, y: { ip: string }) => (x.ip < y.ip ? -1 : 1);
    expect([...out.borrowed].sort(sortIp)).toEqual([...borrowedInSim].sort(sortIp));
    expect(out.orphanBlocks).toBe(0);
  }, 60_000);

  it('text: aligned tables, blocks and borrowed only when asked', async () => {
    const plain = await run(['ipam', 'show', '--server', server.sync]);
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^POOL\s+CIDR\s+BLOCKS\s+IPS\s+IN USE\s+FREE$/);
    expect(lines).toHaveLength(3); // header + two pools
    expect(plain.stdout).not.toContain('BLOCK ');
    const def = lines.find((l) => l.startsWith('default-pool'))!;
    const inUse = blocks.filter((b) => b.pool === 'default-pool').reduce((n, b) => n + used(b), 0);
    expect(def).toMatch(
      new RegExp(
        `10\\.244\\.0\\.0/16\\s+\\d+\\s+65536\\s+${inUse} \\(\\d+(\\.\\d)?%\\)\\s+${65536 - inUse} \\(`,
      ),
    );

    const full = await run(['ipam', 'show', '--server', server.sync, '--show-blocks', '--show-borrowed']);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/^BLOCK\s+POOL\s+NODE\s+IN USE\s+SIZE$/m);
    for (const x of borrowedInSim)
      expect(full.stdout).toMatch(
        new RegExp(`^${x.ip.replaceAll('.', '\\.')}\\s+${x.node}\\s+${x.block}\\s+${x.blockOwner}$`, 'm'),
      );
  }, 60_000);

  it('fails clearly when the server cannot be reached in time', async () => {
    const r = await run(['ipam', 'show', '--server', '127.0.0.1:1', '--timeout-ms', '500']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not in sync with 127.0.0.1:1');
  }, 30_000);
});
