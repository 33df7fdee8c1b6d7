// Fan-out on every core, end to end: `tabby serve --workers 2` as real processes on loopback,
// real agents (the client library), a file datastore the test edits to make deltas.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { askReplica } from '../../src/cli/status.js';
import { SyncClient } from '../../src/client/sync-client.js';
import type { FleetReport } from '../../src/observability/fleet.js';
import { serve } from '../harness/cli.js';
import { issue, makeCa, writePems } from '../harness/pki.js';
import { waitFor } from '../harness/stack.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const pool = (name: string, cidr: string) =>
  `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n`;
/** `n` (≤ 1,024) IPPools in one manifest, named and numbered after `file` (each a /26 of its own). */
const pools = (file: number, n: number) =>
  Array.from({ length: n }, (_, i) =>
    pool(`many-${file}-${i}`, `10.${100 + file}.${i >> 2}.${(i & 3) << 6}/26`),
  ).join('---\n');

/** A process that exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function replica(extra: string[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'tabby-workers-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'pool-0.yaml'), pool('pool-0', '10.0.0.0/16'));
  const r = await serve(
    ['--datastore', 'file', '--path', dir, '--workers', '2', '--shutdown-drain-ms', '500', ...extra],
    // Three processes start (each loading the sources through tsx): slow on a loaded machine.
    { keepLines: true, startTimeoutMs: 60_000 },
  );
  cleanup.push(() => {
    if (r.proc.exitCode === null) r.proc.kill('SIGKILL');
  });
  const listening = () =>
    r.lines.flatMap((l) => {
      const rec = JSON.parse(l) as { msg?: string; worker?: number; workerPid?: number };
      return rec.msg === 'worker listening' ? [{ slot: rec.worker!, pid: rec.workerPid! }] : [];
    });
  const workerPids = () => listening().map((w) => w.pid);
  /** The first process of a slot (the slots do not listen in order). */
  const pidOf = (slot: number) => listening().find((w) => w.slot === slot)!.pid;
  cleanup.push(() => {
    for (const pid of workerPids()) if (running(pid)) process.kill(pid, 'SIGKILL');
  });
  return { ...r, dir, workerPids, pidOf };
}

const clients: SyncClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

function agents(address: string, n: number) {
  const resumed: boolean[] = [];
  const list = Array.from({ length: n }, (_, i) => {
    const c = new SyncClient({
      addresses: [address],
      syncer: 'felix',
      hostname: `node-${i}`,
      compressions: i % 2 === 0 ? ['deflate'] : [],
      ackIntervalMs: 10,
    });
    c.on('connected', (e: { resumed: boolean }) => resumed.push(e.resumed));
    clients.push(c);
    c.start();
    return c;
  });
  return { list, resumed };
}

async function fleet(health: string): Promise<FleetReport> {
  const r = await askReplica(health, true, 5_000);
  if (!r.ok) throw new Error(r.error);
  return r.report;
}

async function metric(health: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`http://${health}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? 0 : Number(m.split(' ').at(-1));
}

/** Every client holds the head's generation with the same state hash, and the fleet agrees. */
async function allCurrent(health: string, list: readonly SyncClient[], ms = 30_000) {
  let report: FleetReport | undefined;
  const deadline = Date.now() + ms;
  for (;;) {
    report = await fleet(health);
    const head = report.syncers.find((s) => s.syncer === 'felix')!.headGeneration;
    const hashes = new Set(list.map((c) => c.state.hashHex()));
    if (
      list.every((c) => c.generation === head) &&
      hashes.size === 1 &&
      report.agents!.length === list.length
    )
      if (report.agents!.every((a) => a.ackedGeneration === head && a.hash === 'match')) return report;
    if (Date.now() > deadline) throw new Error(`not all current: ${JSON.stringify(report.syncers)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The worker a fleet row's connection is on (row ids are offset by a billion per worker). */
const workerOf = (id: number) => Math.floor(id / 1_000_000_000);

async function exited(proc: ChildProcess, ms: number): Promise<number | null> {
  if (proc.exitCode !== null) return proc.exitCode;
  const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
  const [code] = (await once(proc, 'exit')) as [number | null];
  clearTimeout(timer);
  return code;
}

describe('tabby serve --workers 2', () => {
  it('syncs many agents on both workers, fans a delta out on each, and /metrics sums the workers', async () => {
    const r = await replica();
    expect(r.workerPids()).toHaveLength(2);
    const { list } = agents(r.sync, 40);
    let report = await allCurrent(r.health, list);
    const perWorker = [0, 1].map((w) => report.agents!.filter((a) => workerOf(a.id) === w).length);
    expect(perWorker[0]).toBeGreaterThan(0);
    expect(perWorker[1]).toBeGreaterThan(0);
    const head = report.syncers.find((s) => s.syncer === 'felix')!.headGeneration;

    await writeFile(join(r.dir, 'pool-1.yaml'), pool('pool-1', '10.1.0.0/16'));
    await waitFor(() => list.every((c) => c.generation > head), 20_000, 'the delta on every agent');
    report = await allCurrent(r.health, list);
    expect(report.syncers.find((s) => s.syncer === 'felix')).toMatchObject({ agents: 40, current: 40 });

    expect(await metric(r.health, /^tabby_connections\{syncer="felix",state="streaming"\}/)).toBe(40);
    expect(await metric(r.health, /^tabby_handshakes_total\{syncer="felix",kind="snapshot"\}/)).toBe(40);
    expect(await metric(r.health, /^tabby_workers /)).toBe(2);
    expect(await metric(r.health, /^tabby_sent_delta_bytes_total /)).toBeGreaterThan(0);
  });

  it('replaces a killed worker; its agents resume on a worker by epoch, without a snapshot', async () => {
    const r = await replica();
    const { list, resumed } = agents(r.sync, 20);
    const report = await allCurrent(r.health, list);
    const victim = r.pidOf(0);
    const onVictim = report.agents!.filter((a) => workerOf(a.id) === 0).length;
    expect(onVictim).toBeGreaterThan(0);
    process.kill(victim, 'SIGKILL');
    await waitFor(() => r.workerPids().length === 3, 20_000, 'a new worker');
    await waitFor(() => resumed.length === 20 + onVictim, 30_000, 'the agents of the dead worker back');
    expect(resumed.slice(20).every((x) => x)).toBe(true);
    await writeFile(join(r.dir, 'pool-2.yaml'), pool('pool-2', '10.2.0.0/16'));
    await allCurrent(r.health, list);
    expect(await metric(r.health, /^tabby_worker_restarts_total /)).toBe(1);
    expect(await metric(r.health, /^tabby_workers /)).toBe(2);
    expect(await metric(r.health, /^tabby_handshakes_total\{syncer="felix",kind="resumed"\}/)).toBe(onVictim);
    // The dead worker's count went with it: the survivors' 20 - onVictim plus the new one's.
    expect(await metric(r.health, /^tabby_connections\{syncer="felix",state="streaming"\}/)).toBe(20);
  });

  it('kills and replaces a worker that stops reading (SIGSTOP) once its queue passes the bound; its agents resume', async () => {
    const r = await replica(['--max-worker-queue-bytes', String(1 << 20)]);
    const { list, resumed } = agents(r.sync, 10);
    const report = await allCurrent(r.health, list);
    const victim = r.pidOf(0);
    const onVictim = report.agents!.filter((a) => workerOf(a.id) === 0).length;
    expect(onVictim).toBeGreaterThan(0);
    process.kill(victim, 'SIGSTOP');
    cleanup.push(() => running(victim) && process.kill(victim, 'SIGCONT'));
    // ~2 MB of generations at once: past the kernel's socket buffers and the bound on the
    // stopped worker; under 4 times the bound, which the other worker (reading) may reach.
    for (let f = 0; f < 4; f++) await writeFile(join(r.dir, `many-${f}.yaml`), pools(f, 1_000));
    await waitFor(() => !running(victim), 60_000, 'the stopped worker killed');
    const stalled = () => r.lines.filter((l) => l.includes('worker stopped reading its channel'));
    await waitFor(() => stalled().length > 0, 10_000, 'the stall logged');
    expect(stalled()).toHaveLength(1); // the other worker, reading, was left alone
    await waitFor(() => r.workerPids().length === 3, 20_000, 'a new worker');
    await waitFor(() => resumed.length === 10 + onVictim, 30_000, 'the agents of the stuck worker back');
    expect(resumed.slice(10).every((x) => x)).toBe(true);
    await allCurrent(r.health, list, 60_000);
    expect(await metric(r.health, /^tabby_worker_stalls_total /)).toBe(1);
    expect(await metric(r.health, /^tabby_worker_restarts_total /)).toBe(1);
    expect(await metric(r.health, /^tabby_workers /)).toBe(2);
  }, 180_000);

  it('SIGTERM drains every worker: agents are told to go, and no process is left', async () => {
    const r = await replica();
    const { list } = agents(r.sync, 10);
    await allCurrent(r.health, list);
    const goodbyes: string[] = [];
    for (const c of list) c.on('disconnected', (e: { code?: string }) => e.code && goodbyes.push(e.code));
    r.proc.kill('SIGTERM');
    expect(await exited(r.proc, 30_000)).toBe(0);
    expect(goodbyes.filter((c) => c === 'shutdown')).toHaveLength(10);
    for (const pid of r.workerPids()) expect(running(pid), `worker ${pid}`).toBe(false);
  });

  it('holds --max-connections for the replica as a whole, not per worker', async () => {
    const r = await replica(['--max-connections', '5']);
    const { list } = agents(r.sync, 8);
    // Every agent has been admitted or refused once: the limit has been tried from all sides.
    const tried = new Set<number>();
    list.forEach((c, i) => {
      c.on('connected', () => tried.add(i));
      c.on('disconnected', (e: { code?: string }) => e.code === 'too-many-connections' && tried.add(i));
    });
    await waitFor(() => tried.size === 8, 30_000, 'every agent admitted or refused');
    expect(await metric(r.health, /^tabby_connections\{syncer="felix",state="streaming"\}/)).toBe(5);
    expect(await metric(r.health, /^tabby_connections_refused_total /)).toBeGreaterThanOrEqual(3);
    // Both workers took their part (the fleet view comes with the workers' next reports).
    await allCurrent(
      r.health,
      list.filter((c) => c.state.size > 0),
    );
    const report = await fleet(r.health);
    expect(new Set(report.agents!.map((a) => workerOf(a.id)))).toEqual(new Set([0, 1]));
  });

  it('a primary that dies takes its workers with it', async () => {
    const r = await replica();
    const pids = r.workerPids();
    expect(pids.every(running)).toBe(true);
    r.proc.kill('SIGKILL');
    await exited(r.proc, 10_000);
    await waitFor(() => !pids.some(running), 10_000, 'the workers gone');
  });
});

describe('tabby serve --workers 2 with mutual TLS', () => {
  it('admits certified agents on both workers, records their REPORTs in the primary, reloads the certificate in each', async () => {
    const ca = await makeCa('tabby-ca');
    const serverPem = await issue(ca, { cn: 'tabby', dns: ['tabby.test'] });
    const files = writePems({ 'server.crt': serverPem.cert, 'server.key': serverPem.key, 'ca.crt': ca.cert });
    cleanup.push(() => rm(files.dir, { recursive: true, force: true }));
    const r = await replica([
      '--tls-cert-file',
      files['server.crt']!,
      '--tls-key-file',
      files['server.key']!,
      '--tls-client-ca-file',
      files['ca.crt']!,
      '--tls-allowed-client-cns',
      'system:node:{node}',
      '--tls-reload-interval-ms',
      '200',
    ]);
    await writeFile(join(r.dir, 'nodes.yaml'), [0, 1, 2, 3].map(node).join('---\n'));
    const list = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const pem = await issue(ca, { cn: `system:node:node-${i}` });
        const f = writePems({ 'a.crt': pem.cert, 'a.key': pem.key, 'ca.crt': ca.cert });
        cleanup.push(() => rm(f.dir, { recursive: true, force: true }));
        const c = new SyncClient({
          addresses: [r.sync],
          syncer: 'felix',
          hostname: `node-${i}`,
          ackIntervalMs: 10,
          tls: {
            certFile: f['a.crt']!,
            keyFile: f['a.key']!,
            caFile: f['ca.crt']!,
            serverName: 'tabby.test',
          },
        });
        clients.push(c);
        c.setReport('wireguard-public-key', { publicKey: wgKey(i) });
        c.start();
        return c;
      }),
    );
    const report = await allCurrent(r.health, list);
    expect(new Set(report.agents!.map((a) => workerOf(a.id)))).toEqual(new Set([0, 1]));
    expect(report.agents!.map((a) => a.identity).sort()).toEqual(
      [0, 1, 2, 3].map((i) => `CN=system:node:node-${i}`),
    );
    // Each key went worker → primary → datastore, and came back to every agent as data.
    await waitFor(
      () =>
        list.every((c) =>
          [0, 1, 2, 3].every((i) => JSON.stringify(c.state.get(wgKvKey(i)) ?? '').includes(wgKey(i))),
        ),
      20_000,
      'every reported key on every agent',
    );
    expect(
      await metric(r.health, /^tabby_reports_total\{kind="wireguard-public-key",result="recorded"\}/),
    ).toBe(4);

    const renewed = await issue(ca, {
      cn: 'tabby',
      dns: ['tabby.test'],
      notAfter: new Date(Date.now() + 48 * 3_600_000),
    });
    await writeFile(files['server.key']!, renewed.key);
    await writeFile(files['server.crt']!, renewed.cert);
    const deadline = Date.now() + 20_000;
    while ((await metric(r.health, /^tabby_tls_reloads_total\{result="ok"\}/)) < 2) {
      if (Date.now() > deadline) throw new Error('the workers did not both reload the certificate');
      await new Promise((res) => setTimeout(res, 200));
    }
    // One value for the replica (every worker serves the same files), not a sum.
    const expiry = await metric(r.health, /^tabby_tls_certificate_expiry_timestamp_seconds /);
    expect(Math.abs(expiry - Date.now() / 1000 - 48 * 3600)).toBeLessThan(3_600);
  });
});

const wgKey = (i: number) => Buffer.alloc(32, i + 1).toString('base64');
const wgKvKey = (i: number) => `/calico/v1/host/node-${i}/wireguard`;
const node = (i: number) =>
  `apiVersion: v1\nkind: Node\nmetadata:\n  name: node-${i}\nstatus:\n  addresses:\n  - type: InternalIP\n    address: 10.0.0.${i + 1}\n`;
