// Output through real pipes: a command that prints and exits writes everything first, even
// to a reader slower than the command; a reader that stops early (`| head -3`) ends the
// command quietly.
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, serve, tabby } from '../harness/cli.js';

let server: Awaited<ReturnType<typeof serve>>;
beforeAll(async () => {
  // The default simulated cluster: its felix dump is far larger than a pipe's buffer.
  server = await serve(['--sim-churn-per-sec', '0']);
}, 60_000);
afterAll(() => {
  server?.proc.kill('SIGKILL');
});

describe('tabby sync --once --dump through a pipe', () => {
  it('a slow reader gets every line, complete, one per key', async () => {
    const summary = await run(['sync', '--server', server.sync, '--once', '--json'], 60_000);
    const { keys } = JSON.parse(summary.stdout) as { keys: number };
    expect(keys).toBeGreaterThan(1_000);

    const p = tabby(['sync', '--server', server.sync, '--once', '--dump']);
    let stderr = '';
    p.stderr!.on('data', (d) => {
      stderr += d;
    });
    const chunks: Buffer[] = [];
    p.stdout!.on('data', (d: Buffer) => chunks.push(d));
    // Read nothing until the dump is written to the pipe (and, before the fix, exit had dropped the rest).
    p.stdout!.pause();
    await sleep(3_000);
    p.stdout!.resume();
    const [code] = await once(p, 'exit');
    expect(code, stderr).toBe(0);
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines).toHaveLength(keys);
  }, 120_000);

  it('a reader that closes early (| head -3) ends it quietly with exit 0', async () => {
    const p = tabby(['sync', '--server', server.sync, '--once', '--dump']);
    let stderr = '';
    p.stderr!.on('data', (d) => {
      stderr += d;
    });
    await once(p.stdout!, 'data');
    p.stdout!.destroy(); // our read end closes: the next writes fail with EPIPE
    const [code] = await once(p, 'exit');
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 120_000);
});
