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

  it('a third-party agent imports the client library by package name and follows a replica', async () => {
    // Self-reference through package.json "exports": what `import … from 'tabby'` resolves to
    // for a consumer that installed the package, in the production tree (types included).
    expect(await exists(join(app, 'dist/index.d.ts'))).toBe(true);
    const { proc, sync } = await serve(
      ['--datastore', 'sim', '--sim-nodes', '4', '--sim-pods', '12', '--sim-churn-per-sec', '0'],
      { entry, cwd: dir },
    );
    try {
      const consumer = `
        import { SyncClient, SyncerType, keyKind, hashState } from 'tabby';
        const client = new SyncClient({ addresses: [process.argv[1]], syncer: SyncerType.Felix,
          hostname: 'third-party', verifyHash: true });
        client.on('status', (s) => {
          if (s !== 'in-sync') return;
          const entries = [...client.state.entries()];
          const kinds = new Set(entries.map(([k]) => keyKind(k)));
          console.log(JSON.stringify({ size: entries.length, hash: hashState(entries),
            verified: client.state.hashHex(), kinds: [...kinds].sort() }));
          client.stop().then(() => process.exit(0));
        });
        client.start();
        setTimeout(() => { console.error('no in-sync within 30 s'); process.exit(2); }, 30_000);`;
      const out = await exec(process.execPath, ['--input-type=module', '-e', consumer, sync], {
        cwd: app,
        timeout: 40_000,
      });
      const got = JSON.parse(out.stdout) as { size: number; hash: string; verified: string; kinds: string[] };
      expect(got.size).toBeGreaterThan(12);
      expect(got.hash).toBe(got.verified);
      expect(got.kinds).toEqual(expect.arrayContaining(['workloadEndpoint', 'node']));
    } finally {
      proc.kill('SIGKILL');
    }
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
