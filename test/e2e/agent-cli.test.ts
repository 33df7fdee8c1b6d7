// The real `tabby agent` composition, run as an operator runs it: `tabby serve --datastore
// file` and one `tabby agent` per node are separate processes, each inside a lab namespace
// (the server in the fabric namespace, on the bridge address every node reaches; nothing is
// configured in the host namespace). Each agent supervises its own bird (`--bird-run`),
// programs iptables policy and, once the FelixConfiguration manifest enables it, WireGuard
// through wireguard-go. Every verdict comes from a daemon, the kernel, a real TCP connection or
// another `tabby` command run as a child (node status, sync).
//
// routing-lab.test.ts proves the parts composed by hand in one process; this file proves
// src/cli/agent.ts + src/config/agent-config.ts wire them the same way.

import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { birdCommand } from '../../src/agent/dataplane/bird/birdc.js';
import { parseProtocols, peerRows } from '../../src/agent/dataplane/bird/status.js';
import { interfaceName } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { run, tabby } from '../harness/cli.js';
import { FABRIC_GATEWAY } from './harness/addressing.js';
import { renameHostIface } from './harness/agent-lab.js';
import { Cleanup } from './harness/cleanup.js';
import { exec, inNetns } from './harness/exec.js';
import { describeE2E, preflight } from './harness/preflight.js';
import { crd, routingLabObjects } from './harness/routing-lab.js';
import { Lab, type LabNode } from './harness/topology.js';

const reason = await preflight([
  'ip',
  'iptables',
  'iptables-restore',
  'iptables-save',
  'bird',
  'wg',
  'wireguard-go',
]);

/** Each step must converge within this long. */
const BUDGET_MS = 20_000;
const SYNC_PORT = 5473;
const HEALTH_PORT = 9098;
const SERVER = `${FABRIC_GATEWAY}:${SYNC_PORT}`;
const ALLOWED_PORT = 8080;
const OTHER_PORT = 9090;
/** The pod each lab node hosts: node0 the client, node1 the server, node2 a bystander. */
const ROLES = ['client', 'server', 'other'] as const;

interface LogRecord {
  level?: number;
  msg?: string;
  [k: string]: unknown;
}

/** A `tabby` child process inside a namespace, with its JSON log lines kept for assertions. */
class TabbyProcess {
  readonly logs: LogRecord[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogRecord);
      } catch {
        this.logs.push({ msg: line });
      }
      for (const w of this.waiters) w();
    });
  }

  /** Resolves with the first log record matching `pred` (also one already logged). */
  waitForLog(pred: (r: LogRecord) => boolean, timeoutMs = BUDGET_MS): Promise<LogRecord> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.logs.find(pred);
        if (hit === undefined) return false;
        this.waiters.delete(onLine);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const onLine = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(onLine);
        reject(new Error(`${this.name}: no such log line after ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(onLine);
    });
  }

  /** The last log lines and stderr, for failure messages. */
  tail(n = 15): string {
    const lines = this.logs.slice(-n).map((r) => JSON.stringify(r));
    return `--- ${this.name} (last ${lines.length} log lines) ---\n${lines.join('\n')}\n${this.stderr}`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined; `describe` explains a timeout. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  describe: () => Promise<string> | string = () => '',
): Promise<T> {
  const deadline = Date.now() + BUDGET_MS;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${await describe()}`);
    await sleep(150);
  }
}

describeE2E('e2e tabby agent: the real CLI composition on namespace nodes, with real daemons', reason, () => {
  let lab: Lab;
  let dir = '';
  let manifests = '';
  const procs = new Cleanup();
  let server: TabbyProcess;
  const agents = new Map<string, TabbyProcess>();
  const timings: Record<string, number> = {};
  /** Node → the WireGuard public key its interface carries (once WireGuard is on). */
  const keys = new Map<string, string>();
  const wgIface = (n: LabNode) => `tw${lab.shortId}${n.index}`;
  const nodeDir = (n: LabNode) => join(dir, n.name);
  const birdSocket = (n: LabNode) => join(nodeDir(n), 'bird.ctl');
  const podOf = (role: (typeof ROLES)[number]) => lab.nodes[ROLES.indexOf(role)]!.pods[0]!;

  /** A manifest file written atomically (a dot-file, which the datastore skips, then a rename). */
  async function writeManifests(file: string, objs: readonly KubeObject[]): Promise<void> {
    const tmp = join(manifests, `.${file}.tmp`);
    await writeFile(tmp, objs.map((o) => stringify(o)).join('---\n'));
    await rename(tmp, join(manifests, file));
  }

  const podObjects = (): KubeObject[] =>
    lab.nodes.map(
      (n, i) =>
        ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: ROLES[i], namespace: 'default', labels: { app: ROLES[i] } },
          spec: { nodeName: n.name, serviceAccountName: 'default', containers: [{ name: 'c' }] },
          status: { podIP: n.pods[0]!.ip },
        }) as unknown as KubeObject,
    );

  /** Only `app == client` may reach the server, and only on ALLOWED_PORT. */
  const policyObjects = (): KubeObject[] => [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } as unknown as KubeObject,
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace: 'default' },
    } as unknown as KubeObject,
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'server-ingress' },
      spec: {
        order: 10,
        selector: 'app == "server"',
        types: ['Ingress'],
        ingress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { selector: 'app == "client"' },
            destination: { ports: [ALLOWED_PORT] },
          },
        ],
      },
    } as unknown as KubeObject,
  ];

  const routingObjects = (wireguard: boolean): KubeObject[] => [
    ...routingLabObjects(lab, { wireguard }),
    // wireguard-go's control sockets are host-global: one interface name per lab node.
    ...lab.nodes.map((n) =>
      crd('FelixConfiguration', `node.${n.name}`, { wireguardInterfaceName: wgIface(n) }),
    ),
  ];

  const startTabby = (name: string, ns: string, args: string[]): TabbyProcess => {
    const proc = tabby(args, { netns: ns });
    procs.trackProcess(proc);
    return new TabbyProcess(name, proc);
  };

  const startAgent = (n: LabNode): TabbyProcess =>
    startTabby(`agent ${n.name}`, n.ns, [
      'agent',
      '--server',
      SERVER,
      '--node',
      n.name,
      '--dataplane',
      'iptables',
      '--bgp',
      'bird',
      '--bird-run',
      '--bird-timers',
      'fast',
      '--bird-socket',
      birdSocket(n),
      '--bird-config',
      join(nodeDir(n), 'bird.conf'),
      '--routes',
      'bgp',
      '--wireguard',
      'userspace',
      '--wireguard-key-file',
      join(nodeDir(n), 'wg.key'),
      '--log-level',
      'debug',
    ]);

  const allTails = () =>
    [server, ...agents.values()]
      .filter(Boolean)
      .map((p) => p.tail())
      .join('\n');

  /** Established BGP peers of a node, read from its BIRD's socket (cheap, for polling). */
  const established = async (n: LabNode): Promise<string[]> => {
    const reply = await birdCommand({ socketPath: birdSocket(n) }, 'show protocols all').catch(
      () => undefined,
    );
    if (reply === undefined) return [];
    return peerRows(parseProtocols(reply))
      .filter((r) => r.info.startsWith('Established'))
      .map((r) => r.peerAddress)
      .sort();
  };
  const otherIps = (n: LabNode) =>
    lab.nodes
      .filter((o) => o !== n)
      .map((o) => o.ip)
      .sort();
  const birdRoutes = async (n: LabNode): Promise<string[]> => {
    const r = await exec('ip', ['-n', n.ns, '-j', 'route', 'show', 'proto', 'bird']);
    return (JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string }[])
      .map((x) => `${x.dst} via ${x.gateway ?? '-'}`)
      .sort();
  };
  /** `wg show IFACE dump` inside the node: [public key, peers as {key, endpoint, tx}]. */
  const wgDump = async (n: LabNode) => {
    const r = await inNetns(n.ns, 'wg', ['show', wgIface(n), 'dump']).catch(() => undefined);
    if (r === undefined) return undefined;
    const [head, ...peers] = r.stdout.trim().split('\n');
    return {
      publicKey: head!.split('\t')[1]!,
      peers: peers.map((l) => {
        const f = l.split('\t');
        return { key: f[0]!, endpoint: f[2]!, allowedIps: f[3]!, tx: Number(f[6]) };
      }),
    };
  };

  /** The commands of every process in the node's namespace (the agent and what it runs). */
  const processesIn = async (n: LabNode) => {
    const { stdout } = await exec('ip', ['netns', 'pids', n.ns]);
    const pids = stdout.split(/\s+/).filter(Boolean);
    const names = await Promise.all(
      pids.map((p) =>
        exec('cat', [`/proc/${p}/comm`]).then(
          (r) => r.stdout.trim(),
          () => '',
        ),
      ),
    );
    // tsx may run its esbuild service beside a freshly started agent: the test's tooling, not ours.
    return names.filter((c) => c !== '' && c !== 'esbuild').sort();
  };
  /** The pids of the bird daemons running in `n`'s namespace, each with its parent's pid. */
  const birdsIn = async (n: LabNode): Promise<{ pid: number; ppid: number }[]> => {
    const { stdout } = await exec('ip', ['netns', 'pids', n.ns]);
    const stats = await Promise.all(
      stdout
        .split(/\s+/)
        .filter(Boolean)
        .map((p) =>
          exec('cat', [`/proc/${p}/stat`]).then(
            (r) => r.stdout,
            () => '',
          ),
        ),
    );
    // /proc/PID/stat: "pid (comm) state ppid …"
    return stats
      .map((st) => /^(\d+) \((.*)\) \S+ (\d+)/.exec(st))
      .filter((m) => m?.[2] === 'bird')
      .map((m) => ({ pid: Number(m![1]), ppid: Number(m![3]) }));
  };
  /**
   * client (on n0) → server (on n1) connects through the tunnel within 3 s: a handshake, the
   * staggered end's 200 ms and a re-created peer's 500 ms fit; WireGuard's 5 s retry (crossed
   * handshakes) does not. Returns the time to connect; a failure shows both nodes' state.
   */
  const expectTunnelConnect = async (n0: LabNode, n1: LabNode): Promise<number> => {
    const t0 = performance.now();
    const result = await podOf('client').connect(podOf('server').ip, ALLOWED_PORT, { timeoutMs: 3_000 });
    if (result === 'connected') return performance.now() - t0;
    const wgLines = (p: TabbyProcess) =>
      p.logs.filter((l) => l.part === 'wireguard').map((l) => JSON.stringify(l));
    const dumps = await Promise.all([n0, n1].map((n) => inNetns(n.ns, 'wg', ['show', 'all', 'dump'])));
    expect.fail(
      [
        `client → server through the tunnel: ${result}`,
        `wg dump ${n0.name}:\n${dumps[0]!.stdout}`,
        `wg dump ${n1.name}:\n${dumps[1]!.stdout}`,
        `${n0.name} wireguard log:\n${wgLines(agents.get(n0.name)!).join('\n')}`,
        `${n1.name} wireguard log:\n${wgLines(agents.get(n1.name)!).join('\n')}`,
      ].join('\n'),
    );
  };
  /** GET /readyz and /metrics of `base` from inside the namespace `ns`. */
  const scrapeHealth = async (ns: string, base: string) => {
    const probe = `
      const base = process.argv[1];
      const ready = await fetch(base + '/readyz');
      const metrics = await (await fetch(base + '/metrics')).text();
      process.stdout.write(JSON.stringify({ status: ready.status, ready: await ready.text(), metrics }));
    `;
    const r = await inNetns(ns, process.execPath, ['--input-type=module', '-e', probe, base]);
    return JSON.parse(r.stdout) as { status: number; ready: string; metrics: string };
  };
  /** The value of one series in a Prometheus text exposition (labels as written, '' for none). */
  const metricValue = (text: string, name: string, labels: string) =>
    Number(new RegExp(`^${name}${labels === '' ? '' : `\\{${labels}\\}`} (\\S+)$`, 'm').exec(text)?.[1]);
  /** Every node Established with every other, and `n`'s WireGuard with a peer per other node. */
  const backInMesh = (n: LabNode, proc: TabbyProcess) =>
    until(
      `${n.name} back in the mesh`,
      async () => {
        const ok = await Promise.all(
          lab.nodes.map(async (x) => JSON.stringify(await established(x)) === JSON.stringify(otherIps(x))),
        );
        const wg = await wgDump(n);
        return ok.every(Boolean) && wg?.peers.length === lab.nodes.length - 1 ? true : undefined;
      },
      () => proc.tail(),
    );

  beforeAll(async () => {
    const t0 = performance.now();
    lab = await Lab.create({ nodes: 3, podsPerNode: 1, staticRoutes: false });
    dir = await mkdtemp(join(tmpdir(), 'tabby-agent-cli-'));
    manifests = join(dir, 'manifests');
    await mkdir(manifests);
    for (const n of lab.nodes) await mkdir(nodeDir(n));
    for (const [i, n] of lab.nodes.entries())
      await renameHostIface(n.pods[0]!, interfaceName('default', ROLES[i]!));
    await Promise.all(lab.pods.flatMap((p) => [p.listen(ALLOWED_PORT), p.listen(OTHER_PORT)]));
    await writeManifests('routing.yaml', routingObjects(false));
    await writeManifests('policy.yaml', policyObjects());
    await writeManifests('pods.yaml', podObjects());
    timings['labReady'] = performance.now() - t0;

    server = startTabby('serve', lab.fabricNs, [
      'serve',
      '--listen',
      SERVER,
      '--health-listen',
      `${FABRIC_GATEWAY}:${HEALTH_PORT}`,
      '--datastore',
      'file',
      '--path',
      manifests,
      // The agents report their WireGuard keys over plain TCP: trust HELLO's hostname.
      '--insecure-accept-unauthenticated-reports',
    ]);
    await server.waitForLog((r) => r.msg === 'datastore started');
    timings['serverStarted'] = performance.now() - t0;
    for (const n of lab.nodes) agents.set(n.name, startAgent(n));
    await Promise.all([...agents.values()].map((a) => a.waitForLog((r) => r.msg === 'agent started')));
    timings['agentsStarted'] = performance.now() - t0;
  }, 60_000);

  afterAll(async () => {
    await procs.run().catch(() => undefined);
    await lab?.destroy();
    if (lab) {
      // wireguard-go leaves its socket behind when killed: ours carry the lab's short id.
      for (const n of lab.nodes)
        await rm(`/var/run/wireguard/${wgIface(n)}.sock`, { force: true }).catch(() => undefined);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(
      `agent-cli e2e timings (ms): ${JSON.stringify(timings, (_, v) => (typeof v === 'number' ? Math.round(v) : v))}`,
    );
  }, 30_000);

  it('serve runs inside the fabric namespace: the file datastore is in sync, health and metrics answer from a node', async () => {
    const scrape = () => scrapeHealth(lab.nodes[0]!.ns, `http://${FABRIC_GATEWAY}:${HEALTH_PORT}`);
    // Every agent holds one felix and one bgp connection once it streams.
    const streaming = (metrics: string, syncer: string) =>
      Number(
        new RegExp(`^tabby_connections\\{syncer="${syncer}",state="streaming"\\} (\\d+)`, 'm').exec(
          metrics,
        )?.[1],
      );
    const got = await until(
      'every agent streaming felix and bgp',
      async () => {
        const m = await scrape();
        const n = lab.nodes.length;
        return streaming(m.metrics, 'felix') === n && streaming(m.metrics, 'bgp') === n ? m : undefined;
      },
      async () => (await scrape()).metrics,
    );
    expect(got.status, got.ready).toBe(200);
    expect(got.ready).toMatch(/in-sync/);
    expect(got.metrics).toMatch(/^tabby_datastore_manifest_errors 0$/m);
    // Two warnings this lab asks for: it opts in to plain-TCP REPORTs, and listens on a
    // namespace address without TLS. Nothing else may warn.
    const expected = [/^INSECURE: REPORTs are accepted/, /^the sync port is plain TCP beyond loopback/];
    const warnings = server.logs.filter((l) => (l.level ?? 0) >= 40).map((l) => l.msg ?? '');
    expect(
      warnings.filter((m) => !expected.some((re) => re.test(m))),
      server.tail(),
    ).toEqual([]);
    expect(warnings).toHaveLength(2);
  });

  it('BGP: every BIRD has the other nodes Established (tabby node status --json) and the kernel holds their blocks', async () => {
    const t0 = performance.now();
    await until(
      'full mesh Established',
      async () => {
        const ok = await Promise.all(
          lab.nodes.map(async (n) => JSON.stringify(await established(n)) === JSON.stringify(otherIps(n))),
        );
        return ok.every(Boolean) ? true : undefined;
      },
      allTails,
    );
    timings['meshEstablished'] = performance.now() - t0;
    await until(
      'kernel routes to every other block',
      async () => {
        const ok = await Promise.all(
          lab.nodes.map(async (n) => {
            const have = await birdRoutes(n);
            return lab.nodes.filter((o) => o !== n).every((o) => have.includes(`${o.podCidr} via ${o.ip}`));
          }),
        );
        return ok.every(Boolean) ? true : undefined;
      },
      async () =>
        (await Promise.all(lab.nodes.map(async (n) => `${n.name}: ${await birdRoutes(n)}`))).join('\n'),
    );
    timings['routesComplete'] = performance.now() - t0;
    // The verdict from the operator's command, run on each node.
    const statuses = await Promise.all(
      lab.nodes.map((n) =>
        run(['node', 'status', '--bird-socket', birdSocket(n), '--json'], 30_000, { netns: n.ns }),
      ),
    );
    for (const [i, n] of lab.nodes.entries()) {
      const st = statuses[i]!;
      expect(st.code, st.stderr).toBe(0);
      const out = JSON.parse(st.stdout) as {
        bird: { running: boolean };
        peers: { peerAddress: string; peerType: string; info: string }[];
      };
      expect(out.bird.running).toBe(true);
      expect(
        out.peers
          .filter((p) => p.peerType === 'node-to-node mesh' && p.info.startsWith('Established'))
          .map((p) => p.peerAddress)
          .sort(),
      ).toEqual(otherIps(n));
    }
  });

  it('policy: the client reaches the server on the allowed port; another port and another pod are dropped', async () => {
    const client = podOf('client');
    const other = podOf('other');
    const srv = podOf('server').ip;
    const t0 = performance.now();
    // The agents program policy on their own schedule: poll until the dataplane shows the policy.
    await until(
      'the policy in force',
      async () => {
        const [a, b, c] = await Promise.all([
          client.connect(srv, ALLOWED_PORT, { timeoutMs: 2000 }),
          client.connect(srv, OTHER_PORT, { timeoutMs: 300 }),
          other.connect(srv, ALLOWED_PORT, { timeoutMs: 300 }),
        ]);
        return a === 'connected' && b === 'timeout' && c === 'timeout' ? true : undefined;
      },
      allTails,
    );
    timings['policyInForce'] = performance.now() - t0;
    // Steady state, with a generous timeout on the denied flows: silence is a DROP, not slowness.
    expect(await client.connect(srv, ALLOWED_PORT)).toBe('connected');
    expect(await client.connect(srv, OTHER_PORT, { timeoutMs: 1000 })).toBe('timeout');
    expect(await other.connect(srv, ALLOWED_PORT, { timeoutMs: 1000 })).toBe('timeout');
    // The unpoliced direction: the server pod has no egress policy (namespace profile allows).
    expect(await podOf('server').connect(other.ip, OTHER_PORT)).toBe('connected');
  });

  it("each agent's health port (127.0.0.1:9099 in its node): ready once every part applied, metrics per part and stream", async () => {
    for (const n of lab.nodes) {
      const h = await until(
        `${n.name} agent ready`,
        async () => {
          const r = await scrapeHealth(n.ns, 'http://127.0.0.1:9099');
          return r.status === 200 ? r : undefined;
        },
        async () => JSON.stringify(await scrapeHealth(n.ns, 'http://127.0.0.1:9099')),
      );
      const ready = JSON.parse(h.ready) as {
        streams: Record<string, string>;
        parts: Record<string, { applies: number; failures: number }>;
      };
      expect(ready.streams).toEqual({ felix: 'in-sync', bgp: 'in-sync' });
      expect(Object.keys(ready.parts).sort()).toEqual(['bird', 'policy/iptables', 'routes', 'wireguard']);
      const count = (name: string, labels: string) => metricValue(h.metrics, name, labels);
      for (const part of Object.keys(ready.parts)) {
        expect(count('tabby_agent_applies_total', `part="${part}"`), part).toBeGreaterThan(0);
        expect(count('tabby_agent_apply_failing', `part="${part}"`), part).toBe(0);
      }
      expect(count('tabby_agent_stream_in_sync', 'syncer="bgp"')).toBe(1);
      // BIRD, read at scrape time: the mesh to the two other nodes.
      expect(count('tabby_agent_bird_up', '')).toBe(1);
      const bgpLines = h.metrics.split('\n').filter((l) => l.startsWith('tabby_agent_bgp_sessions'));
      expect(
        count('tabby_agent_bgp_sessions', 'type="node-to-node mesh",state="Established"'),
        bgpLines.join('\n'),
      ).toBe(lab.nodes.length - 1);
    }
  });

  it('WireGuard: enabled in the FelixConfiguration manifest, keys go through the server, the pod connection crosses the tunnel', async () => {
    const t0 = performance.now();
    await writeManifests('routing.yaml', routingObjects(true));
    const dumps = await until(
      'every node with a WireGuard peer per other node',
      async () => {
        const all = await Promise.all(lab.nodes.map(wgDump));
        return all.every((d) => d !== undefined && d.peers.length === lab.nodes.length - 1)
          ? (all as NonNullable<(typeof all)[number]>[])
          : undefined;
      },
      allTails,
    );
    timings['wireguardMeshUp'] = performance.now() - t0;
    for (const [i, n] of lab.nodes.entries()) keys.set(n.name, dumps[i]!.publicKey);
    // Each node's peers are the other nodes' keys at their node IPs.
    for (const [i, n] of lab.nodes.entries()) {
      const want = lab.nodes
        .filter((o) => o !== n)
        .map((o) => `${keys.get(o.name)} ${o.ip}`)
        .sort();
      expect(dumps[i]!.peers.map((p) => `${p.key} ${p.endpoint.split(':')[0]}`).sort()).toEqual(want);
    }

    // What the server holds: the keys the agents REPORTed, in the felix stream.
    const sync = await run(
      ['sync', '--server', SERVER, '--once', '--dump', '--timeout-ms', '15000'],
      30_000,
      {
        netns: lab.nodes[0]!.ns,
      },
    );
    expect(sync.code, sync.stderr).toBe(0);
    const streamed = new Map<string, string>();
    for (const line of sync.stdout.trim().split('\n')) {
      const { key, value } = JSON.parse(line) as { key: string; value: { publicKey?: string } };
      const m = /^\/calico\/v1\/host\/([^/]+)\/wireguard$/.exec(key);
      if (m && value.publicKey) streamed.set(m[1]!, value.publicKey);
    }
    expect(Object.fromEntries(streamed)).toEqual(Object.fromEntries(keys));

    // A pod connection node0 → node1 moves node0's counter for node1's peer.
    const [n0, n1] = lab.nodes as [LabNode, LabNode];
    const txTo = async () =>
      (await wgDump(n0))?.peers.find((p) => p.key === keys.get(n1.name))?.tx ?? Number.NaN;
    const before = await txTo();
    await expectTunnelConnect(n0, n1);
    expect(await txTo()).toBeGreaterThan(before);
    // node0's agent reports its peers' handshakes (no per-peer series: one per node would not scale).
    await until('node0 reports 2 WireGuard peers with a recent handshake', async () => {
      const m = (await scrapeHealth(n0.ns, 'http://127.0.0.1:9099')).metrics;
      return metricValue(m, 'tabby_agent_wireguard_peers', 'handshake="recent"') === 2 ? true : undefined;
    });
    // The policy still holds across the tunnel.
    expect(await podOf('client').connect(podOf('server').ip, OTHER_PORT, { timeoutMs: 1000 })).toBe(
      'timeout',
    );

    // The operator's view: node status with the WireGuard interface.
    const st = await run(
      ['node', 'status', '--bird-socket', birdSocket(n0), '--wireguard-interface', wgIface(n0), '--json'],
      30_000,
      { netns: n0.ns },
    );
    expect(st.code, st.stderr).toBe(0);
    const wg = (JSON.parse(st.stdout) as { wireguard: { publicKey: string; peers: { publicKey: string }[] } })
      .wireguard;
    expect(wg.publicKey).toBe(keys.get(n0.name));
    expect(wg.peers.map((p) => p.publicKey).sort()).toEqual(
      [keys.get(n1.name), keys.get(lab.nodes[2]!.name)].sort(),
    );
  });

  it('SIGUSR2 rotates a WireGuard key: the peers learn the new one and the pod connection still crosses the tunnel', async () => {
    const [n0, n1] = lab.nodes as [LabNode, LabNode];
    const old = keys.get(n1.name)!;
    const t0 = performance.now();
    agents.get(n1.name)!.proc.kill('SIGUSR2');
    const fresh = await until(
      "the new key on node1 and in node0's peers",
      async () => {
        const [d0, d1] = await Promise.all([wgDump(n0), wgDump(n1)]);
        const k = d1?.publicKey;
        return k && k !== old && d0?.peers.some((p) => p.key === k) ? k : undefined;
      },
      allTails,
    );
    timings['keyRotation'] = performance.now() - t0;
    keys.set(n1.name, fresh);
    expect((await wgDump(n0))?.peers.some((p) => p.key === old)).toBe(false);
    const txTo = async () => (await wgDump(n0))?.peers.find((p) => p.key === fresh)?.tx ?? Number.NaN;
    const before = await txTo();
    timings['rotationToFirstConnect'] = await expectTunnelConnect(n0, n1);
    expect(await txTo()).toBeGreaterThan(before);
  });

  it('SIGTERM: the agent exits 0, stops the daemons it supervises and leaves its iptables rules; a restart picks up where it left', async () => {
    const n = lab.nodes[2]!;
    const agent = agents.get(n.name)!;
    const rulesBefore = (await inNetns(n.ns, 'iptables-save', ['-t', 'filter'])).stdout;
    expect(rulesBefore).toMatch(/cali/);
    expect(await processesIn(n)).toEqual(['bird', 'node', 'wireguard-go']);
    const t0 = performance.now();
    agent.proc.kill('SIGTERM');
    const { code, signal } = await agent.exited;
    timings['sigtermToExit'] = performance.now() - t0;
    expect({ code, signal }, agent.tail()).toEqual({ code: 0, signal: null });
    expect(agent.logs.some((l) => /agent stopping/.test(l.msg ?? ''))).toBe(true);
    // Supervised daemons go with the agent: bird (its routes with it) and wireguard-go.
    expect(await processesIn(n)).toEqual([]);
    const st = await run(['node', 'status', '--bird-socket', birdSocket(n)], 30_000, { netns: n.ns });
    expect(st.code).toBe(1);
    // Policy is never flushed on exit: the rule set is as the agent left it.
    const rulesAfter = (await inNetns(n.ns, 'iptables-save', ['-t', 'filter'])).stdout;
    const strip = (s: string) =>
      s
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) => l.replace(/\[\d+:\d+\]/, ''))
        .join('\n');
    expect(strip(rulesAfter)).toBe(strip(rulesBefore));
    // The other agents carry on.
    expect(agents.get(lab.nodes[0]!.name)!.proc.exitCode).toBeNull();

    // Restarted, as the DaemonSet would: bird and wireguard-go come back, the key file is reused
    // (same public key, still 0600), the mesh re-forms and the policy renders the same rules.
    const t1 = performance.now();
    const again = startAgent(n);
    agents.set(`${n.name}#2`, again);
    await backInMesh(n, again);
    timings['restartToMeshAndTunnel'] = performance.now() - t1;
    expect((await wgDump(n))?.publicKey).toBe(keys.get(n.name));
    expect((await stat(join(nodeDir(n), 'wg.key'))).mode & 0o777).toBe(0o600);
    expect(await processesIn(n)).toEqual(['bird', 'node', 'wireguard-go']);
    // A restarted agent's first apply logs 'first rules applied' (later ones 'in step').
    await again.waitForLog((l) => l.part === 'policy/iptables' && l.msg === 'first rules applied');
    expect(strip((await inNetns(n.ns, 'iptables-save', ['-t', 'filter'])).stdout)).toBe(strip(rulesBefore));
  });

  it('SIGKILL: the bird a killed agent leaves behind is replaced by the next agent, not adopted', async () => {
    const n = lab.nodes[2]!;
    const killed = agents.get(`${n.name}#2`)!;
    killed.proc.kill('SIGKILL');
    await killed.exited;
    // bird outlives a SIGKILLed parent (wireguard-go too, until the next agent replaces its device).
    const orphans = await birdsIn(n);
    expect(orphans).toHaveLength(1);
    const t0 = performance.now();
    const next = startAgent(n);
    agents.set(`${n.name}#3`, next);
    await next.waitForLog((l) => /not started by this agent/.test(l.msg ?? ''));
    // Until the new agent's own bird answers, the orphan (going down) still shows the old mesh.
    await next.waitForLog((l) => l.part === 'bird' && l.msg === 'bird ready');
    await backInMesh(n, next);
    timings['killedRestartToMesh'] = performance.now() - t0;
    // Exactly one bird, and it is the new agent's child, not the orphan: stopping the agent stops it.
    const birds = await birdsIn(n);
    expect(birds, next.tail()).toHaveLength(1);
    expect(birds[0]!.pid).not.toBe(orphans[0]!.pid);
    expect(birds[0]!.ppid).toBe(next.proc.pid);
    expect(await processesIn(n)).toEqual(['bird', 'node', 'wireguard-go']);
    next.proc.kill('SIGTERM');
    expect(await next.exited).toEqual({ code: 0, signal: null });
    expect(await processesIn(n)).toEqual([]);
  });
});
