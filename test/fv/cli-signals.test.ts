// The server stops with its launcher: SIGTERM to `npm start` or to `npx tabby serve` (npm
// signals only its child, a `sh -c` that dies without passing the signal on) must not leave
// the server running with its ports held.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/stack.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const MAIN = join(ROOT, 'src/cli/main.ts');
const TSX = new URL(import.meta.resolve('tsx')).pathname;
/** The real `npm start` line, running the sources instead of dist/. */
const START = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } })
  .scripts.start;
const NODE_TABBY = `node --import ${TSX} ${MAIN}`;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A process that exists and is not a zombie (an orphan's zombie may linger under some inits). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function portFree(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Spawns npm (ports from env: the start script sets none), waits until tabby serve is up. */
async function launch(args: string[], cwd: string) {
  const npm = spawn('npm', args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TABBY_LISTEN: '127.0.0.1:0',
      TABBY_HEALTH_LISTEN: '127.0.0.1:0',
      TABBY_SHUTDOWN_DRAIN_MS: '500',
      npm_config_update_notifier: 'false',
    },
  });
  cleanup.push(() => {
    if (npm.exitCode === null) npm.kill('SIGKILL');
  });
  let stderr = '';
  npm.stderr!.on('data', (d) => {
    stderr += d;
  });
  const server = { pid: 0, ports: [] as number[] };
  const lines = createInterface({ input: npm.stdout! });
  const deadline = setTimeout(() => npm.kill('SIGKILL'), 90_000);
  for await (const line of lines) {
    if (!line.startsWith('{')) continue; // npm's banner, the console summary
    const rec = JSON.parse(line) as { pid: number; msg: string; address?: string };
    if (rec.address) server.ports.push(Number(rec.address.split(':').at(-1)));
    server.pid = rec.pid;
    if (rec.msg === 'datastore started') break;
  }
  clearTimeout(deadline);
  lines.on('line', () => {});
  expect(server.ports, stderr).toHaveLength(2);
  cleanup.push(() => {
    if (running(server.pid)) process.kill(server.pid, 'SIGKILL');
  });
  return { npm, server };
}

async function expectStopsWithLauncher(npm: ChildProcess, server: { pid: number; ports: number[] }) {
  expect(running(server.pid)).toBe(true);
  npm.kill('SIGTERM');
  await once(npm, 'exit');
  await waitFor(() => !running(server.pid), 30_000, `tabby serve (pid ${server.pid}) to exit`);
  for (const port of server.ports) expect(await portFree(port), `port ${port}`).toBe(true);
}

describe('SIGTERM to the launcher stops tabby serve', () => {
  it('npm start (the package.json start script)', async () => {
    expect(START).toContain('node dist/cli/main.js serve');
    const dir = await mkdtemp(join(tmpdir(), 'tabby-npm-start-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const script = START.replace('node dist/cli/main.js', NODE_TABBY);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'x', scripts: { start: script } }));
    const { npm, server } = await launch(['start'], dir);
    await expectStopsWithLauncher(npm, server);
  }, 180_000);

  it('npx (npm exec runs the command through sh -c)', async () => {
    const cmd = `${NODE_TABBY} serve --datastore sim --agents 1 --sim-churn-per-sec 0`;
    const { npm, server } = await launch(['exec', '--offline', '-c', cmd], ROOT);
    await expectStopsWithLauncher(npm, server);
  }, 180_000);
});
