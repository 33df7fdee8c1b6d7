// A user's mistake ends every command the same way: one line on stderr naming the setting
// (flag and env var) or the path, exit code 2, no stack trace.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../harness/cli.js';

let busy: Server;
let busyPort = 0;
beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(() => busy.close());

const free = ['--listen', '127.0.0.1:0', '--health-listen', '127.0.0.1:0', '--log-level', 'warn'];

/** [command line, what stderr must name]. */
const cases = (): Array<[string[], string]> => [
  [['serve', '--listen', '127.0.0.1:99999'], '--listen (TABBY_LISTEN)'],
  [['serve', ...free, '--listen', `127.0.0.1:${busyPort}`], '--listen (TABBY_LISTEN)'],
  [['serve', ...free, '--health-listen', `127.0.0.1:${busyPort}`], '--health-listen (TABBY_HEALTH_LISTEN)'],
  [['serve', ...free, '--datastore', 'file', '--path', '/nonexistent'], '--path (TABBY_PATH): /nonexistent'],
  [['serve', ...free, '--datastore', 'kubernetes', '--kubeconfig', '/nonexistent'], '--kubeconfig'],
  [['sync', '--server', 'foo', '--once'], '--server (TABBY_SERVER)'],
  [['lint'], '--file (TABBY_FILE)'],
  [['agent', '--server', '127.0.0.1:5473'], '--node (TABBY_NODE)'],
  [['ipam', 'show', '--server', 'foo:0'], '--server (TABBY_SERVER)'],
  [['explain', '--path', '/nonexistent', '--from', 'a/b', '--to', '1.2.3.4:80/tcp'], '--path (TABBY_PATH)'],
  [['apiserver-emulator', '--listen', `127.0.0.1:${busyPort}`], '--listen (TABBY_LISTEN)'],
  [['apiserver-emulator', '--load', '/nonexistent'], '--load (TABBY_LOAD): /nonexistent'],
  [['serve', '--no-such-flag'], "unknown option '--no-such-flag'"],
];

describe('user errors', () => {
  it('each is reported in words naming the setting, exit code 2, no stack trace', async () => {
    // Three at a time: each is a node process compiling the sources (slow on a busy machine).
    const todo = cases().map(([args], i) => ({ args, i }));
    const results: Array<Awaited<ReturnType<typeof run>>> = [];
    const worker = async () => {
      for (let t = todo.shift(); t; t = todo.shift()) results[t.i] = await run(t.args, 60_000);
    };
    await Promise.all([worker(), worker(), worker()]);
    results.forEach((r, i) => {
      const [args, names] = cases()[i]!;
      const what = `tabby ${args.join(' ')}\n${r.stderr}`;
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toContain(names);
      expect(r.stderr, what).not.toMatch(/^\s+at /m);
    });
  }, 600_000);

  it('EADDRINUSE names the address and the reason', async () => {
    const r = await run(['serve', ...free, '--listen', `127.0.0.1:${busyPort}`], 90_000);
    expect(r.stderr.trim()).toBe(
      `tabby: --listen (TABBY_LISTEN): cannot listen on 127.0.0.1:${busyPort}: address already in use (EADDRINUSE)`,
    );
  }, 120_000);

  it('an unreachable server is a one-line failure, exit 1', async () => {
    const r = await run(['ipam', 'show', '--server', '127.0.0.1:1', '--timeout-ms', '300'], 90_000);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'tabby: not in sync with 127.0.0.1:1 after 300 ms (status wait-for-datastore)',
    );
  }, 120_000);
});
