// The image's production install without a container engine: the Dockerfile's build stage
// (tsc -p tsconfig.build.json) and deps stage (npm ci --omit=dev from the lockfile) into a
// temporary directory outside the repository, then the commands the images run, from there.
// A runtime import of a devDependency cannot resolve in that tree, so `tabby --help` (which
// loads every command's modules) fails, and so does this test.

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, serve } from '../harness/cli.js';

const exec = promisify(execFile);
let dir = '';
let app = '';
let entry = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabby-prod-'));
  app = join(dir, 'app');
  await mkdir(app);
  // build stage: compile the sources alone, as the image does.
  await exec(process.execPath, [
    'node_modules/typescript/bin/tsc',
    '-p',
    'tsconfig.build.json',
    '--outDir',
    join(app, 'dist'),
  ]);
  // deps stage: production dependencies only, from the lockfile (the npm cache first).
  for (const f of ['package.json', 'package-lock.json']) await copyFile(f, join(app, f));
  await exec(
    'npm',
    [
      'ci',
      '--omit=dev',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
    ],
    { cwd: app, maxBuffer: 16 << 20 },
  );
  entry = join(app, 'dist/cli/main.js');
}, 300_000);

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('production install (what the images contain)', () => {
  it('holds nothing that only development needs', async () => {
    // The lockfile marks what only devDependencies need (`dev: true`); a devDependency that a
    // runtime dependency also needs (@types/node, say) is not marked and may stay.
    const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8'));
    const devOnly = Object.entries(lock.packages as Record<string, { dev?: boolean; optional?: boolean }>)
      .filter(([path, meta]) => path.startsWith('node_modules/') && meta.dev)
      .map(([path]) => path);
    expect(devOnly).toEqual(expect.arrayContaining(['node_modules/vitest', 'node_modules/typescript']));
    const present: string[] = [];
    for (const path of devOnly) if (await exists(join(app, path))) present.push(path);
    expect(present).toEqual([]);
    // …and the dependencies are there, so the checks below test resolution, not an empty tree.
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'));
    for (const name of Object.keys(pkg.dependencies))
      expect(await exists(join(app, 'node_modules', name))).toBe(true);
  });

  it('tabby --help and tabby agent --help run', async () => {
    const help = await run(['--help'], 60_000, { entry, cwd: dir });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/serve \[options\]/);
    const agent = await run(['agent', '--help'], 60_000, { entry, cwd: dir });
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toMatch(/--health-listen/);
  });

  it('tabby serve --datastore sim becomes ready, then drains and exits 0 on SIGTERM', async () => {
    const { proc, health } = await serve(
      ['--datastore', 'sim', '--sim-nodes', '8', '--sim-pods', '40', '--shutdown-drain-ms', '200'],
      { entry, cwd: dir },
    );
    try {
      let status = 0;
      const deadline = Date.now() + 30_000;
      while (status !== 200 && Date.now() < deadline) {
        status = await fetch(`http://${health}/readyz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
      proc.kill('SIGTERM');
      const [code] = (await once(proc, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });
});
