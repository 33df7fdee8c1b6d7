import { once } from 'node:events';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { run, serve, tabby } from '../harness/cli.js';

const procs: Array<{ kill: (s?: NodeJS.Signals) => boolean; exitCode: number | null }> = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

describe('tabby serve + tabby sync (real processes)', () => {
  it('syncs felix and bgp, serves health and metrics, drains on SIGTERM', async () => {
    const { proc, sync, health } = await serve([
      '--sim-nodes',
      '8',
      '--sim-pods',
      '60',
      '--sim-churn-per-sec',
      '0',
      '--shutdown-drain-ms',
      '200',
    ]);
    procs.push(proc);

    const felix1 = await run(['sync', '--server', sync, '--syncer', 'felix', '--once', '--json']);
    expect(felix1.code, felix1.stderr).toBe(0);
    const f1 = JSON.parse(felix1.stdout) as {
      syncer: string;
      generation: number;
      keys: number;
      hash: string;
    };
    expect(f1.syncer).toBe('felix');
    expect(f1.keys).toBeGreaterThan(60);
    expect(f1.hash).toMatch(/^[0-9a-f]{64}$/);

    // Without churn a second client gets the identical state.
    const felix2 = await run(['sync', '--server', sync, '--syncer', 'felix', '--once', '--json']);
    expect(JSON.parse(felix2.stdout)).toMatchObject({
      generation: f1.generation,
      keys: f1.keys,
      hash: f1.hash,
    });

    const bgp = await run(['sync', '--server', sync, '--syncer', 'bgp', '--once', '--dump']);
    expect(bgp.code, bgp.stderr).toBe(0);
    const lines = bgp.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; value: unknown });
    expect(lines.length).toBeGreaterThan(8);
    expect(lines.some((l) => l.key.includes('/workload/'))).toBe(false);
    expect(lines.some((l) => l.key.startsWith('/calico/resources/v3/projectcalico.org/bgppeers/'))).toBe(
      true,
    );

    const ready = await fetch(`http://${health}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ felix: 'in-sync', bgp: 'in-sync' });
    const metrics = await (await fetch(`http://${health}/metrics`)).text();
    expect(metrics).toMatch(/tabby_cache_keys\{syncer="felix"\} \d+/);
    expect(metrics).toMatch(/tabby_handshakes_total\{syncer="felix",kind="snapshot"\} 2/);

    proc.kill('SIGTERM');
    const [code] = await once(proc, 'exit');
    expect(code).toBe(0);
  });

  it('rejects bad configuration with a clear message and exit code 2', async () => {
    const r = await run(['serve', '--listen', 'nonsense', '--max-connections', '-3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--listen (TABBY_LISTEN)');
    expect(r.stderr).toContain('--max-connections (TABBY_MAX_CONNECTIONS)');
  });

  it('agent: a bad or busy --health-listen is a configuration error naming the flag (exit 2)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tabby-agent-health-'));
    const busy = (await import('node:net')).createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const { port } = busy.address() as { port: number };
    try {
      const base = ['agent', '--node', 'n1', '--server', '127.0.0.1:1', '--dry-run', dir];
      for (const [addr, why] of [
        ['nonsense', 'bad address'],
        [`127.0.0.1:${port}`, 'EADDRINUSE'],
      ] as const) {
        const r = await run([...base, '--health-listen', addr]);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain('--health-listen (TABBY_HEALTH_LISTEN)');
        expect(r.stderr).toContain(why);
      }
    } finally {
      busy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('kubernetes (emulator process), sim and sim-api datastores serve the same state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tabby-cli-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const emu = tabby([
      'apiserver-emulator',
      '--listen',
      '127.0.0.1:0',
      '--write-kubeconfig',
      kubeconfig,
      '--seed',
      'sim',
    ]);
    procs.push(emu);
    const lines = createInterface({ input: emu.stdout! });
    for await (const line of lines) if (line.includes('kubeconfig written')) break;
    lines.on('line', () => {});

    const viaKube = await serve(['--datastore', 'kubernetes', '--kubeconfig', kubeconfig]);
    procs.push(viaKube.proc);
    const viaSim = await serve(['--datastore', 'sim', '--sim-churn-per-sec', '0']);
    procs.push(viaSim.proc);
    // npm start's datastore: the sim behind an in-process emulator.
    const viaSimApi = await serve(['--datastore', 'sim-api', '--sim-churn-per-sec', '0']);
    procs.push(viaSimApi.proc);
    for (const syncer of ['felix', 'bgp']) {
      const runs = await Promise.all(
        [viaKube, viaSim, viaSimApi].map((server) =>
          run(['sync', '--server', server.sync, '--syncer', syncer, '--once', '--json'], 90_000),
        ),
      );
      const results = runs.map((r) => {
        expect(r.code, r.stderr).toBe(0);
        const j = JSON.parse(r.stdout) as { keys: number; hash: string };
        return { keys: j.keys, hash: j.hash };
      });
      expect(results[0]!.keys).toBeGreaterThan(100);
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
    }
    const metrics = await (await fetch(`http://${viaKube.health}/metrics`)).text();
    expect(metrics).toMatch(/tabby_datastore_watch_state\{resource="pods",state="watching"\} 1/);
    await rm(dir, { recursive: true, force: true });
    // Ten tsx processes (an emulator, three servers, six syncs) each compile the sources: about a
    // minute on a quiet 2-core machine, more on a busy one.
  }, 240_000);

  it('explain: verdicts of the seed lab from manifests, deciding rule per side', async () => {
    const lab = new URL('../fixtures/calc/lab.yaml', import.meta.url).pathname;
    const dir = await mkdtemp(join(tmpdir(), 'tabby-explain-'));
    await copyFile(lab, join(dir, 'lab.yaml'));
    const flows: Array<[string, string, string]> = [
      ['frontend/frontend', 'database/db:80/tcp', 'deny'],
      ['database/db', 'frontend/frontend:80/tcp', 'allow'], // the lab expects deny; Calico allows (no egress policy on db)
    ];
    const results = await Promise.all(
      flows.map(([from, to]) => run(['explain', '--path', dir, '--from', from, '--to', to, '--json'])),
    );
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).verdict).toBe(flows[i]![2]);
    });
    const denied = JSON.parse(results[0]!.stdout);
    expect(denied.egress.decidedBy).toMatchObject({
      kind: 'rule',
      tier: 'application',
      ruleIndex: 1,
      action: 'deny',
    });
    const human = await run([
      'explain',
      '--path',
      dir,
      '--from',
      'frontend/frontend',
      '--to',
      '169.254.169.254:80/tcp',
    ]);
    expect(human.stdout).toContain(
      'deny by tier security, policy GlobalNetworkPolicy security.block-metadata, rule 0',
    );
    await rm(dir, { recursive: true, force: true });
  });

  it('explain --path names each object it had to drop, with its file and the reason', async () => {
    const lab = new URL('../fixtures/calc/lab.yaml', import.meta.url).pathname;
    const dir = await mkdtemp(join(tmpdir(), 'tabby-explain-'));
    await copyFile(lab, join(dir, 'lab.yaml'));
    // Would deny all ingress to frontend if it were valid; it is not, so it is not applied.
    await writeFile(
      join(dir, 'bogus.yaml'),
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: frontend}\n' +
        'spec: {podSelector: {}, policyTypes: [Ingress, Bogus]}\n',
    );
    const r = await run([
      'explain',
      '--path',
      dir,
      '--from',
      'database/db',
      '--to',
      'frontend/frontend:80/tcp',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(': ALLOW');
    expect(r.stderr).toContain(
      'warning: bogus.yaml: NetworkPolicy frontend/deny-all: spec.policyTypes: unknown type "Bogus" (dropped: the verdict is computed without it)',
    );
    await rm(dir, { recursive: true, force: true });
  });
});
