// `tabby explain` output on the seed lab (test/fixtures/calc/lab.yaml), byte for byte: every
// ordered pod pair on a TCP and a UDP port, pods to and from addresses no endpoint owns, human
// text and --json. The command runs in process (commander, --path); the golden file was written
// by the command as it was before explain() moved onto the maps evaluator.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { explainCommand } from '../../src/cli/explain.js';

const PODS = ['frontend/frontend', 'backend/api', 'database/db', 'kube-system/coredns'];
const OUTSIDE = ['169.254.169.254', '8.8.8.8'];
const PORTS = ['80/tcp', '53/udp', '53/tcp'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabby-explain-golden-'));
  await copyFile(new URL('../fixtures/calc/lab.yaml', import.meta.url), join(dir, 'lab.yaml'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One `tabby explain` run: what it wrote to stdout. */
async function explainOut(args: readonly string[]): Promise<string> {
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await explainCommand().parseAsync(['--path', dir, ...args], { from: 'user' });
  } finally {
    write.mockRestore();
  }
  return out;
}

describe('tabby explain: the seed lab', () => {
  it('prints what the golden file holds', async () => {
    const runs: string[][] = [];
    for (const from of [...PODS, ...OUTSIDE])
      for (const to of [...PODS, ...OUTSIDE])
        if (from !== to && !(OUTSIDE.includes(from) && OUTSIDE.includes(to)))
          for (const port of PORTS) runs.push(['--from', from, '--to', `${to}:${port}`]);
    runs.push(['--from', 'frontend/frontend', '--to', 'database/db:80/tcp', '--json']);
    runs.push(['--from', 'backend/api', '--to', 'database/db:5432/tcp', '--json']);
    runs.push(['--from', 'frontend/frontend', '--to', '169.254.169.254:80/tcp', '--json']);
    let text = '';
    for (const args of runs) text += `$ tabby explain ${args.join(' ')}\n${await explainOut(args)}`;
    const url = new URL('../golden/explain/lab.txt', import.meta.url);
    if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(url)) writeFileSync(url, text);
    expect(text).toBe(readFileSync(url, 'utf8'));
    // Both verdicts and several deciding kinds, so the golden pins more than one path.
    expect(text).toMatch(/: ALLOW\n/);
    expect(text).toMatch(/: DENY\n/);
    for (const kind of ['allow by tier', 'deny by tier', 'not a Calico endpoint', 'by profile'])
      expect(text, kind).toContain(kind);
  });
});
