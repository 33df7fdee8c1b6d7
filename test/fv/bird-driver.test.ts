// BirdDriver, BirdProcess, the control-socket client and `tabby node status` against real bird2
// daemons in three namespaces on a bridge: start, Established, no-op apply, hot reload without a
// restart, a refused config keeping the old one, a wrong-ASN peer, a killed bird restarted.
// TABBY_UPDATE_FIXTURES=1 rewrites the captured `show protocols all` fixtures of the unit tests.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BirdClient } from '../../src/agent/dataplane/bird/birdc.js';
import { BirdConfigError, BirdDriver } from '../../src/agent/dataplane/bird/driver.js';
import { BirdProcess } from '../../src/agent/dataplane/bird/process.js';
import { type BirdProtocol, parseProtocols, peerRows } from '../../src/agent/dataplane/bird/status.js';
import { Cleanup } from '../e2e/harness/cleanup.js';
import { exec } from '../e2e/harness/exec.js';
import { describeE2E, which } from '../e2e/harness/preflight.js';
import { run } from '../harness/cli.js';

const PREFIX = 'tbdbd';
const ID = String(process.pid);
const FIXTURES = new URL('../fixtures/bird/', import.meta.url).pathname;

async function preflight(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (namespaces and bird need uid 0)';
  const missing = ['ip', 'bird', 'wg', 'wireguard-go'].filter((t) => which(t) === undefined);
  if (missing.length > 0) return `missing tools: ${missing.join(', ')} (run scripts/system-deps.sh as root)`;
  const probe = `${PREFIX}${ID}probe`;
  try {
    await exec('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  } finally {
    await exec('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
  return undefined;
}

/** Namespaces of earlier runs of this file whose process is gone (SIGKILLed runs). */
async function sweepStale(): Promise<void> {
  const { stdout } = await exec('ip', ['netns', 'list']);
  for (const ns of stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '')) {
    const owner = Number(new RegExp(`^${PREFIX}(\\d+)[a-z]+$`).exec(ns)?.[1] ?? Number.NaN);
    if (!Number.isInteger(owner) || owner === process.pid) continue;
    try {
      process.kill(owner, 0);
      continue; // a live run
    } catch {
      // dead owner: remove
    }
    const pids = await exec('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    await exec('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

const reason = await preflight();

interface Peer {
  readonly name: string;
  readonly ip: string;
  readonly asn: number;
}
interface NodeSpec {
  readonly ip: string;
  readonly asn: number;
  readonly peers: readonly Peer[];
  readonly statics: readonly string[];
}

/** Timers from machine-notes §2: Established in under a second instead of ~5 s. */
function birdConfig(n: NodeSpec): string {
  const statics = n.statics.map((s) => `  route ${s} blackhole;\n`).join('');
  const peers = n.peers
    .map(
      (p) => `protocol bgp ${p.name} {
  local ${n.ip} as ${n.asn};
  neighbor ${p.ip} as ${p.asn};
  hold time 9; keepalive time 3; connect retry time 2; connect delay time 1; error wait time 1,5;
  ipv4 { import all; export where proto = "st"; };
}
`,
    )
    .join('');
  return `router id ${n.ip};
protocol device {}
protocol kernel { ipv4 { export all; import none; }; learn no; }
protocol static st {
  ipv4;
${statics}}
${peers}`;
}

const IP = { a: '10.212.0.1', b: '10.212.0.2', c: '10.212.0.3' } as const;
type NodeName = keyof typeof IP;
const SPEC: Record<NodeName, NodeSpec> = {
  a: {
    ip: IP.a,
    asn: 65001,
    peers: [
      { name: 'Mesh_10_212_0_2', ip: IP.b, asn: 65002 },
      { name: 'Node_10_212_0_3', ip: IP.c, asn: 65003 },
    ],
    statics: ['10.99.1.0/24'],
  },
  b: {
    ip: IP.b,
    asn: 65002,
    peers: [{ name: 'Mesh_10_212_0_1', ip: IP.a, asn: 65001 }],
    statics: ['10.99.2.0/24'],
  },
  // c runs AS 65099 while a expects 65003: the wrong-ASN peer.
  c: {
    ip: IP.c,
    asn: 65099,
    peers: [{ name: 'Node_10_212_0_1', ip: IP.a, asn: 65001 }],
    statics: ['10.99.3.0/24'],
  },
};

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** The raw socket transcript of one command (for fixtures): every byte BIRD sent after the greeting. */
function rawCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let buf = '';
    let sent = false;
    s.setEncoding('utf8');
    s.on('error', reject);
    s.on('data', (d: string) => {
      buf += d;
      if (!sent && buf.includes('\n')) {
        buf = '';
        sent = true;
        s.write(`${command}\n`);
      } else if (sent && /(^|\n)\d{4} [^\n]*\n$/.test(buf)) {
        s.end();
        resolve(buf);
      }
    });
  });
}

describeE2E('BIRD driver, process and node status with real bird2', reason, () => {
  const cleanup = new Cleanup();
  const ns = (n: string): string => `${PREFIX}${ID}${n}`;
  let dir = '';
  const procs = {} as Record<NodeName, BirdProcess>;
  const drivers = {} as Record<NodeName, BirdDriver>;
  const sock = (n: NodeName): string => path.join(dir, `${n}.ctl`);
  const wgIf = `tbdwg${ID}`.slice(0, 15);
  const figures: Record<string, number> = {};

  async function protocols(n: NodeName): Promise<BirdProtocol[]> {
    const client = await BirdClient.connect({ socketPath: sock(n) });
    try {
      return parseProtocols(await client.showProtocolsAll());
    } finally {
      client.close();
    }
  }
  const established = async (n: NodeName, peer: string): Promise<BirdProtocol | undefined> =>
    (await protocols(n)).find((p) => p.name === peer && p.info === 'Established');

  beforeAll(async () => {
    await sweepStale();
    dir = await mkdtemp(path.join(tmpdir(), 'tbd-bird-'));
    for (const n of ['r', 'a', 'b', 'c']) {
      cleanup.trackNamespace(ns(n));
      await exec('ip', ['netns', 'add', ns(n)]);
    }
    await exec('ip', ['-n', ns('r'), 'link', 'add', 'tbdbr', 'type', 'bridge']);
    await exec('ip', ['-n', ns('r'), 'link', 'set', 'tbdbr', 'up']);
    for (const n of ['a', 'b', 'c'] as const) {
      const port = `tbdr${n}`;
      await exec('ip', [
        'link',
        'add',
        'tbd0',
        'netns',
        ns(n),
        'type',
        'veth',
        'peer',
        'name',
        port,
        'netns',
        ns('r'),
      ]);
      await exec('ip', ['-n', ns('r'), 'link', 'set', port, 'master', 'tbdbr', 'up']);
      await exec('ip', ['-n', ns(n), 'addr', 'add', `${IP[n]}/24`, 'dev', 'tbd0']);
      await exec('ip', ['-n', ns(n), 'link', 'set', 'tbd0', 'up']);
      await exec('ip', ['-n', ns(n), 'link', 'set', 'lo', 'up']);
      procs[n] = new BirdProcess({
        configPath: path.join(dir, `${n}.conf`),
        socketPath: sock(n),
        execPrefix: ['ip', 'netns', 'exec', ns(n)],
        initialBackoffMs: 100,
      });
      drivers[n] = new BirdDriver({
        configPath: path.join(dir, `${n}.conf`),
        socketPath: sock(n),
        process: procs[n],
      });
    }
  });

  afterAll(async () => {
    const errors: unknown[] = [];
    for (const p of Object.values(procs)) await p.stop().catch((e: unknown) => errors.push(e));
    await cleanup.run().catch((e: unknown) => errors.push(e));
    await rm(`/var/run/wireguard/${wgIf}.sock`, { force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`[bird fv] figures: ${JSON.stringify(figures)}`);
    if (errors.length > 0) throw new AggregateError(errors, 'bird fv cleanup');
  });

  it('starts BIRD through the driver and the mesh peers reach Established', async () => {
    const t0 = performance.now();
    const outcomes = await Promise.all(
      (['a', 'b', 'c'] as const).map((n) => drivers[n].apply(birdConfig(SPEC[n]))),
    );
    expect(outcomes).toEqual(['started', 'started', 'started']);
    figures['startMs'] = Math.round(performance.now() - t0);
    await waitFor(
      'a–b Established',
      async () => (await established('a', 'Mesh_10_212_0_2')) && established('b', 'Mesh_10_212_0_1'),
    );
    figures['establishedMs'] = Math.round(performance.now() - t0);
    const peer = (await protocols('a')).find((p) => p.name === 'Mesh_10_212_0_2')!;
    expect(peer).toMatchObject({ proto: 'BGP', state: 'up', info: 'Established' });
    expect(peer.bgp).toMatchObject({
      state: 'Established',
      neighborAddress: IP.b,
      neighborAs: 65002,
      localAs: 65001,
    });
    // b's static route arrives in a's kernel table through BGP.
    await waitFor('10.99.2.0/24 on a', async () => {
      const { stdout } = await exec('ip', ['-n', ns('a'), 'route', 'show', '10.99.2.0/24']);
      return stdout.includes(`via ${IP.b}`) ? true : undefined;
    });
  });

  it('an identical apply is a no-op', async () => {
    expect(await drivers.a.apply(birdConfig(SPEC.a))).toBe('unchanged');
  });

  it('a changed config reloads with `configure` and bird keeps running (same pid, session kept)', async () => {
    const pid = procs.a.pid;
    const before = (await protocols('a')).find((p) => p.name === 'Mesh_10_212_0_2')!;
    const spec = { ...SPEC.a, statics: [...SPEC.a.statics, '10.98.1.0/24'] };
    const t0 = performance.now();
    expect(await drivers.a.apply(birdConfig(spec))).toBe('reloaded');
    figures['reloadMs'] = Math.round(drivers.a.lastTimings!.reloadMs);
    figures['validateMs'] = Math.round(drivers.a.lastTimings!.validateMs);
    expect(procs.a.pid).toBe(pid);
    await waitFor('10.98.1.0/24 on b', async () => {
      const { stdout } = await exec('ip', ['-n', ns('b'), 'route', 'show', '10.98.1.0/24']);
      return stdout.includes(`via ${IP.a}`) ? true : undefined;
    });
    figures['reloadToRouteOnPeerMs'] = Math.round(performance.now() - t0);
    const after = (await protocols('a')).find((p) => p.name === 'Mesh_10_212_0_2')!;
    expect(after.info).toBe('Established');
    expect(after.since).toBe(before.since);
    SPEC.a = spec;
  });

  it('an invalid config is refused with BIRD’s message; the old one keeps running', async () => {
    const good = await readFile(path.join(dir, 'a.conf'), 'utf8');
    const pid = procs.a.pid;
    const err = await drivers.a
      .apply('router id 10.212.0.1;\nprotocol bgp broken { local as ;\n}\n')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BirdConfigError);
    const e = err as BirdConfigError;
    expect(e.code).toBe('TABBY_ERR_BIRD_CONFIG');
    expect(e.birdMessage).toMatch(/a\.conf\.rejected:2:\d+ syntax error/);
    expect(e.line).toBe(2);
    expect(existsSync(e.rejectedPath)).toBe(true);
    expect(await readFile(path.join(dir, 'a.conf'), 'utf8')).toBe(good);
    expect(procs.a.pid).toBe(pid);
    expect(await established('a', 'Mesh_10_212_0_2')).toBeDefined();
    // The last good text is still what the driver believes BIRD runs.
    expect(await drivers.a.apply(birdConfig(SPEC.a))).toBe('unchanged');
  });

  it('a wrong-ASN peer shows `Bad peer AS` in the parsed status and in `tabby node status`', async () => {
    const bad = await waitFor('Bad peer AS on a', async () =>
      (await protocols('a')).find(
        (p) => p.name === 'Node_10_212_0_3' && /Bad peer AS/.test(p.bgp?.lastError ?? ''),
      ),
    );
    expect(bad.info).toMatch(/^(Idle|Active|Connect)\b.*Bad peer AS/);
    const row = peerRows(await protocols('a')).find((r) => r.protocol === 'Node_10_212_0_3')!;
    expect(row).toMatchObject({
      peerAddress: IP.c,
      peerType: 'node specific',
      neighborAs: 65003,
      localAs: 65001,
    });
    expect(row.lastError).toBe('BGP Error: Bad peer AS');
    const other = await waitFor('Received: Bad peer AS on c', async () =>
      (await protocols('c')).find((p) => /Received: Bad peer AS/.test(p.bgp?.lastError ?? '')),
    );
    expect(other.name).toBe('Node_10_212_0_1');

    if (process.env['TABBY_UPDATE_FIXTURES'] === '1') {
      await mkdir(FIXTURES, { recursive: true });
      await writeFile(
        path.join(FIXTURES, 'show-protocols-all-a.txt'),
        await rawCommand(sock('a'), 'show protocols all'),
      );
      await writeFile(
        path.join(FIXTURES, 'show-protocols-all-c.txt'),
        await rawCommand(sock('c'), 'show protocols all'),
      );
      await writeFile(path.join(FIXTURES, 'show-status.txt'), await rawCommand(sock('a'), 'show status'));
    }

    const text = await run(['node', 'status', '--bird-socket', sock('a')]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^BIRD is running \(BIRD 2\.\d+\.\d+, router ID 10\.212\.0\.1\)/);
    expect(text.stdout).toContain('IPv4 BGP status');
    expect(text.stdout).toMatch(
      /\| 10\.212\.0\.2 +\| node-to-node mesh \| up +\| [\d:.]+ +\| Established +\|/,
    );
    expect(text.stdout).toMatch(
      /\| 10\.212\.0\.3 +\| node specific +\| start +\| [\d:.]+ +\| \w+ BGP Error: Bad peer AS +\|/,
    );
    expect(text.stdout).toContain('No IPv6 peers found.');
    const json = await run(['node', 'status', '--bird-socket', sock('a'), '--json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as {
      bird: { running: boolean; routerId: string };
      peers: { lastError?: string }[];
    };
    expect(doc.bird).toMatchObject({ running: true, routerId: IP.a });
    expect(doc.peers.map((p) => p.lastError)).toContain('BGP Error: Bad peer AS');
  });

  it('`tabby node status` lists WireGuard peers from `wg show NAME dump`', async () => {
    const child: ChildProcess = spawn('ip', ['netns', 'exec', ns('a'), 'wireguard-go', '-f', wgIf], {
      stdio: 'ignore',
    });
    cleanup.trackProcess(child);
    await waitFor('wireguard-go socket', async () =>
      existsSync(`/var/run/wireguard/${wgIf}.sock`) ? true : undefined,
    );
    const key = (await exec('wg', ['genkey'])).stdout.trim();
    const peerKey = (
      await exec('wg', ['pubkey'], { input: `${(await exec('wg', ['genkey'])).stdout.trim()}\n` })
    ).stdout.trim();
    const keyFile = path.join(dir, 'wg.key');
    await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
    await exec('ip', [
      'netns',
      'exec',
      ns('a'),
      'wg',
      'set',
      wgIf,
      'private-key',
      keyFile,
      'listen-port',
      '51820',
      'peer',
      peerKey,
      'allowed-ips',
      '10.212.9.0/24',
      'endpoint',
      `${IP.b}:51820`,
    ]);
    const out = await run(['node', 'status', '--bird-socket', sock('a'), '--wireguard-interface', wgIf]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`WireGuard status (interface ${wgIf}, public key `);
    expect(out.stdout).toContain('listening port 51820');
    expect(out.stdout).toMatch(
      new RegExp(
        `\\| ${peerKey.replace(/[+/=]/g, '\\$&')} \\| ${IP.b.replaceAll('.', '\\.')}:51820 \\| 10\\.212\\.9\\.0/24 +\\| never +\\| 0 B +\\| 0 B +\\|`,
      ),
    );
    expect(out.stdout).not.toContain(key);
  });

  it('`tabby node status` exits non-zero with a clear message when the socket is missing or refused', async () => {
    const missing = await run(['node', 'status', '--bird-socket', path.join(dir, 'nope.ctl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/BIRD is not answering: BIRD control socket .*nope\.ctl does not exist/);
    // A stale socket file: its listener was SIGKILLed, so nothing accepts.
    const stale = path.join(dir, 'stale.ctl');
    const holder = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    await new Promise((r) => holder.stdout!.once('data', r));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const refused = await run(['node', 'status', '--bird-socket', stale]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused the connection/);
  });

  it('the supervisor restarts a killed bird and the session comes back', async () => {
    const pid = procs.b.pid!;
    const ready = new Promise<number>((r) => procs.b.once('ready', r));
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const newPid = await ready;
    figures['restartToReadyMs'] = Math.round(performance.now() - t0);
    expect(newPid).not.toBe(pid);
    expect(procs.b.restarts).toBe(1);
    await waitFor(
      'a–b Established again',
      async () => (await established('b', 'Mesh_10_212_0_1')) && established('a', 'Mesh_10_212_0_2'),
    );
    figures['restartToEstablishedMs'] = Math.round(performance.now() - t0);
    // The driver still reloads the restarted daemon through the socket.
    expect(
      await drivers.b.apply(birdConfig({ ...SPEC.b, statics: [...SPEC.b.statics, '10.98.2.0/24'] })),
    ).toBe('reloaded');
  });

  it('stop() ends bird and removes its socket', async () => {
    await procs.c.stop();
    expect(procs.c.running).toBe(false);
    expect(existsSync(sock('c'))).toBe(false);
  });
});
