// Three network namespaces as nodes on one bridge, each with a "pod" address on lo and plaintext routes to the others' blocks in its main table (what the IPAM routes
// programme). Three WireguardDataplanes with real wireguard-go, each fed its own RoutingState
// from the same KVs; a tiny in-test "datastore" fans the published keys out to all of them.
// Node c holds 10.124.2.5, borrowed from b's block.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { WireguardDataplane } from '../../src/agent/dataplane/wireguard/index.js';
import { Keys } from '../../src/model/keys.js';
import type { Logger } from '../../src/model/logger.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { exec, inNetns } from '../e2e/harness/exec.js';
import { describeE2E, preflight } from '../e2e/harness/preflight.js';

const reason = await preflight(['ip', 'wg', 'wireguard-go']);

const SFX = randomBytes(2).toString('hex');
const NODES = ['a', 'b', 'c'] as const;
type Node = (typeof NODES)[number];
const ns = (n: Node | 's') => `twg${SFX}${n}`;
const wgName = (n: Node) => `twg${SFX}w${n}`;
const nodeIp = (n: Node) => `10.123.0.${NODES.indexOf(n) + 1}`;
const block = (n: Node) => `10.124.${NODES.indexOf(n) + 1}.0/26`;
const pod = (n: Node) => `10.124.${NODES.indexOf(n) + 1}.1`;
const BORROWED = '10.124.2.5';

const logs: { level: string; msg: string; obj: unknown }[] = [];
function logger(node: string): Logger {
  const rec =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      logs.push({
        level,
        msg: typeof obj === 'string' ? obj : (msg ?? ''),
        obj: { node, ...(obj as object) },
      });
    };
  const l: Logger = {
    debug: () => undefined,
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error'),
    child: () => l,
  };
  return l;
}

const blockKV = (n: Node, borrowed: Record<number, Node> = {}): KV => {
  const allocations: (number | null)[] = new Array(64).fill(null);
  const attributes: JsonValue[] = [];
  allocations[1] = attributes.push({ handle_id: 'p', secondary: { node: n } }) - 1;
  for (const [ord, owner] of Object.entries(borrowed))
    allocations[Number(ord)] = attributes.push({ handle_id: 'p', secondary: { node: owner } }) - 1;
  return {
    key: Keys.ipamBlock(block(n)),
    value: { cidr: block(n), affinity: `host:${n}`, allocations, attributes, unallocated: [] },
  };
};

/** The in-test datastore: every KV goes to every node's RoutingState; keys come from REPORTs. */
class Lab {
  readonly states = new Map<Node, RoutingState>(NODES.map((n) => [n, new RoutingState()]));
  readonly dps = new Map<Node, WireguardDataplane>();
  readonly errors: Error[] = [];
  /** When set, published keys are not fanned out (a test delivers them itself). */
  manual = false;
  #pending: KV[] = [];
  #flush: Promise<void> | undefined;

  apply(kvs: KV[]): void {
    for (const s of this.states.values()) s.apply(kvs);
  }

  /** Queues KVs and syncs every dataplane once per tick (the fan-out). */
  publish(kvs: KV[]): Promise<void> {
    this.#pending.push(...kvs);
    this.#flush ??= new Promise<void>((r) => setImmediate(r)).then(async () => {
      this.#flush = undefined;
      this.apply(this.#pending.splice(0));
      await this.syncAll();
    });
    return this.#flush;
  }

  /** Waits until no fan-out is pending (a sync may publish a key, which queues another). */
  async settled(): Promise<void> {
    while (this.#flush !== undefined) await this.#flush;
  }

  async syncAll(): Promise<void> {
    await Promise.all(
      NODES.map((n) =>
        this.dps
          .get(n)
          ?.sync(this.states.get(n)!)
          .catch((e: Error) => void this.errors.push(e)),
      ),
    );
  }
}

// No ping on this machine: UDP echo servers bound to each pod address, and a UDP "ping" from
// a pod address every 10 ms. Binding to the pod address matters: WireGuard accepts a packet
// only if its source is in the sending peer's allowed IPs.
const ECHO_PORT = 7007;
const ECHO = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(${ECHO_PORT}, process.argv[1], () => process.stdout.write('ready\\n'));
`;
const PINGER = `
const [src, dst, every] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
s.on('message', () => process.stdout.write(Date.now() + '\\n'));
s.on('error', () => undefined);
s.bind(0, src, () => setInterval(() => s.send('x', ${ECHO_PORT}, dst, () => undefined), Number(every)));
`;
const children: ChildProcess[] = [];
function inNs(n: Node, script: string, args: string[]): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns(n), process.execPath, '-e', script, ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  return child;
}
async function startEcho(n: Node, addr: string): Promise<void> {
  const child = inNs(n, ECHO, [addr]);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`echo on ${addr} exited ${code}`)));
  });
}

/** A continuous UDP ping (10 ms interval) whose reply times we keep. */
class Pinger {
  readonly replies: number[] = [];
  readonly child: ChildProcess;
  constructor(from: Node, to: string, everyMs = 10) {
    this.child = inNs(from, PINGER, [pod(from), to, String(everyMs)]);
    this.child.stdout!.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line !== '') this.replies.push(Number(line));
    });
  }
  firstAfter(t: number): number | undefined {
    return this.replies.find((r) => r >= t);
  }
  /** The longest time without a reply in [from, to]. */
  maxGap(from: number, to: number): number {
    const rs = [from, ...this.replies.filter((r) => r > from && r < to), to];
    let gap = 0;
    for (let i = 1; i < rs.length; i++) gap = Math.max(gap, rs[i]! - rs[i - 1]!);
    return gap;
  }
  stop(): void {
    this.child.kill('SIGKILL');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
/** True when a UDP echo from `from`'s pod to `to` comes back within a second. */
async function ping1(from: Node, to: string): Promise<boolean> {
  const p = new Pinger(from, to, 100);
  const t0 = Date.now();
  try {
    await until('reply', () => p.firstAfter(t0), 1000);
    return true;
  } catch {
    return false;
  } finally {
    p.stop();
  }
}
const peerCounters = async (on: Node, peer: Node) => {
  const st = await lab.dps.get(on)!.status();
  const p = st.peers.find((x) => x.node === peer);
  return p && { rx: p.rxBytes, tx: p.txBytes, handshake: p.latestHandshake };
};

const lab = new Lab();
let keyDir = '';
const figures: Record<string, string> = {};

describeE2E('WireGuard dataplane with wireguard-go in namespaces', reason, () => {
  beforeAll(async () => {
    keyDir = await mkdtemp(path.join(os.tmpdir(), 'twg-fv-'));
    await exec('ip', ['netns', 'add', ns('s')]);
    await inNetns(ns('s'), 'ip', ['link', 'add', 'twgbr', 'type', 'bridge']);
    await inNetns(ns('s'), 'ip', ['link', 'set', 'twgbr', 'up']);
    for (const n of NODES) {
      await exec('ip', ['netns', 'add', ns(n)]);
      await exec('ip', [
        'link',
        'add',
        `twg${SFX}v${n}`,
        'netns',
        ns(n),
        'type',
        'veth',
        'peer',
        'name',
        `twgp${n}`,
        'netns',
        ns('s'),
      ]);
      await inNetns(ns('s'), 'ip', ['link', 'set', `twgp${n}`, 'master', 'twgbr', 'up']);
      const ip = (args: string[]) => inNetns(ns(n), 'ip', args);
      await ip(['link', 'set', 'lo', 'up']);
      await ip(['addr', 'add', `${nodeIp(n)}/24`, 'dev', `twg${SFX}v${n}`]);
      await ip(['link', 'set', `twg${SFX}v${n}`, 'up']);
      // No dummy module on this kernel: pod addresses live on lo.
      await ip(['addr', 'add', `${pod(n)}/32`, 'dev', 'lo']);
      if (n === 'c') await ip(['addr', 'add', `${BORROWED}/32`, 'dev', 'lo']);
      await startEcho(n, pod(n));
      if (n === 'c') await startEcho(n, BORROWED);
    }
    lab.apply([
      { key: Keys.globalConfig('WireguardEnabled'), value: 'true' },
      ...NODES.map((n) => ({ key: Keys.hostConfig(n, 'WireguardInterfaceName'), value: wgName(n) })),
      ...NODES.map((n) => ({
        key: Keys.node(n),
        value: { metadata: { name: n }, spec: { bgp: { ipv4Address: `${nodeIp(n)}/24` } } },
      })),
      blockKV('a'),
      blockKV('b', { 5: 'c' }),
      blockKV('c'),
    ]);
    for (const n of NODES) {
      const dp = new WireguardDataplane({
        nodeName: n,
        netns: ns(n),
        keyFile: path.join(keyDir, n, 'wireguard.key'),
        deviceMode: 'auto',
        hostMtu: 1500,
        logger: logger(n),
      });
      // The REPORT → server → Node → fan-out path, in one tick.
      dp.onPublicKey((k) => {
        if (!lab.manual)
          void lab.publish([{ key: Keys.wireguard(n), value: k === undefined ? null : { publicKey: k } }]);
      });
      lab.dps.set(n, dp);
    }
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    const pids = [...lab.dps.values()].map((d) => d.daemonPid()).filter((p) => p !== undefined);
    for (const dp of lab.dps.values()) await dp.stop({ cleanup: true }).catch(() => undefined);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const n of [...NODES, 's'] as const)
      await exec('ip', ['netns', 'del', ns(n)]).catch(() => undefined);
    const socks = await readdir('/var/run/wireguard').catch(() => [] as string[]);
    for (const s of socks)
      if (s.startsWith(`twg${SFX}`)) await rm(path.join('/var/run/wireguard', s), { force: true });
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
    console.log('WireGuard figures:', figures);
  });

  it('brings the tunnel up: auto picks wireguard-go here, pods reach each other through it', async () => {
    const pinger = new Pinger('a', pod('b'));
    const t0 = Date.now();
    await lab.syncAll();
    // No plaintext routes yet: a reply can only come through the tunnel.
    const up = await until('a first reply a→b', () => pinger.firstAfter(t0));
    await lab.settled();
    figures['tunnel up (first sync → first reply a→b through wg)'] = `${Math.round(up - t0)} ms`;
    expect(lab.errors).toEqual([]);
    for (const dp of lab.dps.values()) expect(dp.deviceKind()).toBe('userspace');
    expect(logs.some((l) => l.level === 'warn' && /falling back to wireguard-go/.test(l.msg))).toBe(true);
    // The packets cross the tunnel: a's table sends b's block to the device, counters move.
    const route = await inNetns(ns('a'), 'ip', ['route', 'get', pod('b'), 'from', pod('a')]);
    expect(route.stdout).toContain(`dev ${wgName('a')}`);
    const before = await peerCounters('a', 'b');
    await until('a→b replies', () => ping1('a', pod('b')));
    const after = await peerCounters('a', 'b');
    expect(after!.tx).toBeGreaterThan(before!.tx);
    expect(after!.rx).toBeGreaterThan(before!.rx);
    expect(after!.handshake).toBeInstanceOf(Date);
    pinger.stop();
  });

  it('sends a borrowed address to the borrower, not to the block’s owner (WireGuard LPM)', async () => {
    // Past the staggered handshake nudges and checks of the first sync: a nudge moves the
    // counters, a re-created peer starts them again.
    await Promise.all([...lab.dps.values()].map((d) => d.handshakesIdle()));
    const bBefore = await peerCounters('a', 'b');
    const cBefore = await peerCounters('a', 'c');
    expect(await until('a→c borrowed address', () => ping1('a', BORROWED))).toBe(true);
    const cAfter = await peerCounters('a', 'c');
    const bAfter = await peerCounters('a', 'b');
    expect(cAfter!.tx).toBeGreaterThan(cBefore!.tx);
    expect(cAfter!.rx).toBeGreaterThan(cBefore!.rx);
    expect(bAfter!.tx).toBe(bBefore!.tx);
    const allowed = (await inNetns(ns('a'), 'wg', ['show', wgName('a'), 'allowed-ips'])).stdout;
    expect(allowed).toContain(`${BORROWED}/32`);
    expect(allowed).toContain(block('b'));
  });

  it('is idempotent: a second sync changes nothing', async () => {
    await lab.syncAll();
    for (const dp of lab.dps.values())
      expect(dp.lastResult).toEqual({ peersWritten: false, keySwitched: false, commands: [] });
  });

  it('restarts wireguard-go when it dies and re-applies its configuration', async () => {
    const dp = lab.dps.get('b')!;
    const pid = dp.daemonPid()!;
    const pinger = new Pinger('a', pod('b'));
    await until('steady replies', () => pinger.replies.length > 5);
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    await until('a new wireguard-go', () => {
      const p = dp.daemonPid();
      return p !== undefined && p !== pid;
    });
    const back = await until('replies after the restart', () =>
      pinger.firstAfter(Date.now() > t0 + 50 ? t0 + 50 : Infinity),
    );
    figures['wireguard-go killed → traffic back'] = `${Math.round(back - t0)} ms`;
    pinger.stop();
    expect(lab.errors).toEqual([]);
  });

  it('rotates a key with continuous traffic; the gap stays about one handshake', async () => {
    const pinger = new Pinger('a', pod('b'));
    await until('steady replies', () => pinger.replies.length > 20);
    const gaps: number[] = [];
    for (const n of ['b', 'a', 'b'] as const) {
      const dp = lab.dps.get(n)!;
      const old = dp.publicKey();
      const t0 = Date.now();
      const next = await dp.rotateKey();
      expect(next).not.toBe(old);
      await until(`${n} switched`, async () => (await dp.status()).publicKey === next);
      await lab.settled();
      await sleep(1500);
      const gap = pinger.maxGap(t0, Date.now());
      gaps.push(Math.round(gap));
      const other = n === 'a' ? 'b' : 'a';
      const seen = (await lab.dps.get(other)!.status()).peers.find((p) => p.node === n);
      expect(seen?.publicKey).toBe(next);
    }
    pinger.stop();
    figures['key rotation (b, a, b): longest gap between replies (10 ms UDP ping)'] = `${gaps.join(', ')} ms`;
    expect(lab.errors).toEqual([]);
    for (const gap of gaps) expect(gap).toBeLessThan(1000);
  });

  it('rotation with a 300 ms fan-out skew between the nodes: the later side’s handshake closes the gap', async () => {
    const pinger = new Pinger('a', pod('b'));
    await until('steady replies', () => pinger.replies.length > 20);
    const b = lab.dps.get('b')!;
    // Deliver the new key to b (the rotating node) at once, to a and c 300 ms later.
    const skew = new Promise<void>((resolve) => {
      const off = b.onPublicKey((k) => {
        off();
        const kv = { key: Keys.wireguard('b'), value: { publicKey: k! } };
        lab.states.get('b')!.apply([kv]);
        void b
          .sync(lab.states.get('b')!)
          .catch((e: Error) => void lab.errors.push(e))
          .then(async () => {
            await sleep(300);
            for (const n of ['a', 'c'] as const) lab.states.get(n)!.apply([kv]);
            await lab.syncAll();
            resolve();
          });
      });
    });
    lab.manual = true;
    const t0 = Date.now();
    await b.rotateKey();
    await skew;
    lab.manual = false;
    await sleep(2500);
    const t1 = Date.now();
    pinger.stop();
    const gap = pinger.maxGap(t0, t1);
    figures['key rotation, 300 ms skew: longest gap'] = `${Math.round(gap)} ms`;
    expect(gap).toBeLessThan(1500);
  });

  it('rotation with both ends applying within ±20 ms of each other: no gap waits for WireGuard’s 5 s retry', async () => {
    // Both ends nudging at once used to cross their initiations (each answers the other's and
    // drops the answer to its own): 1 in ~20 rotations stalled until the 5 s retry.
    const b = lab.dps.get('b')!;
    const gaps: string[] = [];
    const offsets = (process.env['TABBY_WG_SWEEP'] ?? '0,0,0,0,-1,1,-5,5,-20,20,0,0').split(',').map(Number);
    for (const offset of offsets) {
      const pinger = new Pinger('a', pod('b'));
      await until('steady replies', () => pinger.replies.length > 10);
      // b (rotating) gets its echo at once and a `offset` ms later (a negative offset: a first).
      const delivered = new Promise<void>((resolve) => {
        const off = b.onPublicKey((k) => {
          off();
          const kv = { key: Keys.wireguard('b'), value: { publicKey: k! } };
          const deliver = async (n: Node, delay: number) => {
            if (delay > 0) await sleep(delay);
            lab.states.get(n)!.apply([kv]);
            await lab.dps
              .get(n)!
              .sync(lab.states.get(n)!)
              .catch((e: Error) => void lab.errors.push(e));
          };
          void Promise.all([deliver('b', -offset), deliver('a', offset), deliver('c', offset)]).then(() =>
            resolve(),
          );
        });
      });
      lab.manual = true;
      const t0 = Date.now();
      await b.rotateKey();
      await delivered;
      lab.manual = false;
      await sleep(1500);
      const gap = pinger.maxGap(t0, Date.now());
      pinger.stop();
      gaps.push(`${offset}: ${Math.round(gap)}`);
    }
    figures['key rotation, delivery offset a vs b (ms): longest gap (ms)'] = gaps.join(', ');
    expect(lab.errors).toEqual([]);
    for (const g of gaps) expect(Number(g.split(': ')[1]), g).toBeLessThan(1000);
  });

  it('disabling WireGuard on b removes its key: a throws b’s CIDRs — dropped without a plaintext route, plaintext with one', async () => {
    const t0 = Date.now();
    await lab.publish([{ key: Keys.hostConfig('b', 'WireguardEnabled'), value: 'false' }]);
    // b announced "no key"; the fan-out of that removal is queued by its listener.
    await lab.settled();
    expect(lab.states.get('a')!.wireguard.has('b')).toBe(false);
    expect(lab.errors).toEqual([]);
    figures['disable on b → a has thrown b’s CIDRs'] = `${Date.now() - t0} ms`;
    // Without a main-table route the throw leads nowhere: a→b is dropped (unreachable).
    expect(await ping1('a', pod('b'))).toBe(false);
    // The routes the IPAM routes programme in the main table make it plaintext.
    for (const n of NODES)
      for (const m of NODES)
        if (m !== n) await inNetns(ns(n), 'ip', ['route', 'add', block(m), 'via', nodeIp(m)]);
    const a = await lab.dps.get('a')!.status();
    expect(a.peers.map((p) => p.node).sort()).toEqual(['c']);
    const table = (await inNetns(ns('a'), 'ip', ['route', 'show', 'table', '1'])).stdout;
    expect(table).toContain(`throw ${block('b')}`);
    const route = await inNetns(ns('a'), 'ip', ['route', 'get', pod('b'), 'from', pod('a')]);
    expect(route.stdout).toContain(`via ${nodeIp('b')}`);
    expect(await ping1('a', pod('b'))).toBe(true);
    // b's device, rule and routes are gone.
    expect(
      await inNetns(ns('b'), 'ip', ['link', 'show', wgName('b')]).then(
        () => true,
        () => false,
      ),
    ).toBe(false);
    expect((await inNetns(ns('b'), 'ip', ['rule', 'show'])).stdout).not.toContain('lookup 1');
    expect((await inNetns(ns('b'), 'ip', ['route', 'show', 'table', '1'])).stdout.trim()).toBe('');
    // c still reaches a through the tunnel.
    const before = await peerCounters('a', 'c');
    expect(await ping1('c', pod('a'))).toBe(true);
    expect((await peerCounters('a', 'c'))!.rx).toBeGreaterThan(before!.rx);
  });
});
