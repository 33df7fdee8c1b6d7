// What `tabby agent` tells an operator once: each stream in sync, each part's first rules
// applied (with counts), and a warning when --node names no Node in the datastore.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { generateObjects } from '../../src/testing/sim/index.js';
import { serve, simArgs, tabby } from '../harness/cli.js';

const SIM = { seed: 1, nodes: 4, pods: 6 };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

type Rec = { level: number; msg: string; [k: string]: unknown };

/** Runs an agent until its policy part has applied once; returns its log records. */
async function agentLogs(server: string, node: string): Promise<Rec[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tabby-agent-logs-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const p = tabby(['agent', '--node', node, '--server', server, '--dry-run', dir, '--health-listen', 'off']);
  cleanup.push(() => p.exitCode === null && p.kill('SIGKILL'));
  const recs: Rec[] = [];
  const deadline = setTimeout(() => p.kill('SIGKILL'), 60_000);
  for await (const line of createInterface({ input: p.stdout! })) {
    const rec = JSON.parse(line) as Rec;
    recs.push(rec);
    if (rec.msg === 'first rules applied') break;
  }
  clearTimeout(deadline);
  p.kill('SIGTERM');
  return recs;
}

describe('tabby agent logs', () => {
  it('in sync, first rules applied with counts; a warning only for an unknown node', async () => {
    const srv = await serve(simArgs(SIM));
    cleanup.push(() => srv.proc.kill('SIGKILL'));
    const node = generateObjects(SIM).find((o) => o.kind === 'Node')!.metadata.name;
    const [known, unknown] = await Promise.all([
      agentLogs(srv.sync, node),
      agentLogs(srv.sync, 'no-such-node'),
    ]);
    for (const recs of [known, unknown]) {
      expect(recs.filter((r) => r.msg === 'stream in sync')).toEqual([
        expect.objectContaining({ syncer: 'felix', keys: expect.any(Number) }),
      ]);
      expect(recs.at(-1)).toMatchObject({
        msg: 'first rules applied',
        part: 'policy/dry-run',
        endpoints: expect.any(Number),
        policies: expect.any(Number),
        ipSets: expect.any(Number),
      });
    }
    const warnings = (recs: Rec[]) => recs.filter((r) => r.level === 40).map((r) => r.msg);
    expect(warnings(known)).toEqual([]);
    expect(warnings(unknown)).toEqual([expect.stringContaining('no Node named "no-such-node"')]);
    // The node's own pods are programmed; the unknown node has none.
    expect(known.at(-1)!['endpoints']).toBeGreaterThan(0);
    expect(unknown.at(-1)!['endpoints']).toBe(0);
  }, 180_000);
});
