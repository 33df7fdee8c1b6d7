// The logs of a real `tabby serve` run are what log pipelines ingest: every stdout line is
// one JSON object with unique keys (JSON.parse would hide a repeated key, so the raw text
// is scanned).
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { serve } from '../harness/cli.js';
import { duplicateKeys } from '../harness/json-keys.js';
import { waitFor } from '../harness/stack.js';

const procs: Array<{ kill: (s?: NodeJS.Signals) => boolean; exitCode: number | null }> = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

describe('tabby serve logs', () => {
  it('sim-api with a demo agent: every line is JSON without duplicate keys', async () => {
    const { proc, lines } = await serve(
      ['--datastore', 'sim-api', '--agents', '1', '--sim-nodes', '4', '--sim-pods', '6'],
      { keepLines: true },
    );
    procs.push(proc);
    // The agent's stream and the emulator-backed datastore both log (nested child loggers).
    await waitFor(() => lines.some((l) => l.includes('"component":"agent"')), 20_000, 'agent log');
    proc.kill('SIGTERM');
    await once(proc, 'exit');
    const components = new Set<string>();
    for (const line of lines) {
      expect(duplicateKeys(line), line).toEqual([]);
      const rec = JSON.parse(line) as { component?: string };
      if (rec.component) components.add(rec.component);
    }
    expect([...components]).toEqual(expect.arrayContaining(['datastore', 'emulator', 'server', 'agent']));
  });
});
