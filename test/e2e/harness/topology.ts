// A cluster-shaped network made of namespaces: a fabric bridge (the underlay), N node namespaces
// on it, and per node M pod namespaces wired the Calico way (veth `cali*` on the node, `eth0` in
// the pod with a /32 and a default route via 169.254.1.1 answered by proxy-ARP).

import { randomBytes } from 'node:crypto';
import {
  FABRIC_GATEWAY,
  MAX_NODES,
  MAX_PODS_PER_NODE,
  nodeIp,
  POD_GATEWAY,
  podBlock,
  podIp,
  UNDERLAY_CIDR,
} from './addressing.js';
import { Cleanup, E2E_NS_PREFIX, sweepStale } from './cleanup.js';
import { type ExecOptions, type ExecResult, exec, inNetns } from './exec.js';
import {
  type Listener,
  type ProbeOptions,
  type ProbeResult,
  startListener,
  tcpConnect,
  type UdpProbeResult,
  udpPing,
} from './probe.js';

export interface LabOptions {
  /** Default 2. */
  nodes?: number;
  /** Default 2. */
  podsPerNode?: number;
  /** Routes on each node to the other nodes' pod blocks; turn off when BIRD provides them. Default true. */
  staticRoutes?: boolean;
  /** Remove namespaces of dead earlier runs first. Default true. */
  sweep?: boolean;
}

const UNDERLAY_PREFIX_LEN = UNDERLAY_CIDR.split('/')[1];

/** Runs `ip [-n ns] -batch -` with the given lines: one process for many link/addr/route changes. */
function ipBatch(ns: string | undefined, lines: readonly string[]): Promise<ExecResult> {
  const args = ns === undefined ? ['-batch', '-'] : ['-n', ns, '-batch', '-'];
  return exec('ip', args, { input: `${lines.join('\n')}\n` });
}

export class LabNode {
  readonly pods: LabPod[] = [];
  /** The node's underlay interface (in its namespace). */
  readonly iface = 'eth0';

  constructor(
    readonly name: string,
    readonly index: number,
    readonly ns: string,
    readonly ip: string,
    readonly podCidr: string,
  ) {}

  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return inNetns(this.ns, cmd, args, opts);
  }

  iptables(args: readonly string[]): Promise<ExecResult> {
    return this.exec('iptables', ['-w', ...args]);
  }
}

export class LabPod {
  constructor(
    readonly name: string,
    readonly index: number,
    readonly node: LabNode,
    readonly ns: string,
    readonly ip: string,
    /** The node-side end of the pod's veth, Calico style. */
    readonly hostIface: string,
    private readonly cleanup: Cleanup,
  ) {}

  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return inNetns(this.ns, cmd, args, opts);
  }

  /** A real TCP connect from this pod: SYN-ACK → 'connected', RST → 'refused', silence → 'timeout'. */
  connect(dstIp: string, port: number, opts?: ProbeOptions): Promise<ProbeResult> {
    return tcpConnect(this.ns, dstIp, port, opts);
  }

  /** One UDP datagram to an echo listener: echo → 'reply', ICMP port-unreachable → 'refused'. */
  udpPing(dstIp: string, port: number, opts?: ProbeOptions): Promise<UdpProbeResult> {
    return udpPing(this.ns, dstIp, port, opts);
  }

  /** A TCP echo server on 0.0.0.0:port, stopped by `close()` or the lab's destroy. */
  listen(port: number): Promise<Listener> {
    return startListener(this.ns, 'tcp', port, this.cleanup);
  }

  listenUdp(port: number): Promise<Listener> {
    return startListener(this.ns, 'udp', port, this.cleanup);
  }
}

export class Lab {
  readonly nodes: LabNode[] = [];
  readonly pods: LabPod[] = [];
  readonly fabricNs: string;
  private readonly cleanup = new Cleanup();
  private readonly byName = new Map<string, LabNode | LabPod>();

  private constructor(
    /** `<pid>-<4 hex>`: unique per run, and lets `sweepStale` tell live runs from dead ones. */
    readonly runId: string,
    private readonly opts: Required<LabOptions>,
  ) {
    this.fabricNs = `${this.prefix}fabric`;
  }

  /**
   * The random part of the run id (4 hex): for names that are global on the host although the
   * kernel does not make them so, e.g. wireguard-go's UAPI sockets in /var/run/wireguard.
   */
  get shortId(): string {
    return this.runId.split('-')[1] ?? this.runId;
  }

  /** Namespace-name prefix of everything this lab creates. */
  get prefix(): string {
    return `${E2E_NS_PREFIX}${this.runId}-`;
  }

  static async create(options: LabOptions = {}): Promise<Lab> {
    const opts: Required<LabOptions> = {
      nodes: 2,
      podsPerNode: 2,
      staticRoutes: true,
      sweep: true,
      ...options,
    };
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
      throw new RangeError(`Lab: nodes must be 1..${MAX_NODES}, got ${opts.nodes}`);
    }
    if (!Number.isInteger(opts.podsPerNode) || opts.podsPerNode < 0 || opts.podsPerNode > MAX_PODS_PER_NODE) {
      throw new RangeError(`Lab: podsPerNode must be 0..${MAX_PODS_PER_NODE}, got ${opts.podsPerNode}`);
    }
    if (opts.sweep) await sweepStale();
    const lab = new Lab(`${process.pid}-${randomBytes(2).toString('hex')}`, opts);
    try {
      await lab.build();
    } catch (err) {
      await lab.destroy().catch(() => undefined);
      throw err;
    }
    return lab;
  }

  node(name: string): LabNode {
    const n = this.byName.get(name);
    if (!(n instanceof LabNode))
      throw new Error(`Lab: no node "${name}" (have ${this.nodes.map((x) => x.name)})`);
    return n;
  }

  pod(name: string): LabPod {
    const p = this.byName.get(name);
    if (!(p instanceof LabPod))
      throw new Error(`Lab: no pod "${name}" (have ${this.pods.map((x) => x.name)})`);
    return p;
  }

  /** All namespaces of this lab, fabric first. */
  get namespaces(): string[] {
    return [this.fabricNs, ...this.nodes.map((n) => n.ns), ...this.pods.map((p) => p.ns)];
  }

  /** Static routes from each node to every other node's pod block (what BIRD would learn). */
  async addStaticRoutes(): Promise<void> {
    await Promise.all(this.nodes.map((n) => ipBatch(n.ns, this.staticRouteLines(n, 'add'))));
  }

  async removeStaticRoutes(): Promise<void> {
    await Promise.all(this.nodes.map((n) => ipBatch(n.ns, this.staticRouteLines(n, 'del'))));
  }

  /** Removes every process and namespace of this lab; safe to call twice. */
  destroy(): Promise<void> {
    return this.cleanup.run();
  }

  private staticRouteLines(node: LabNode, verb: 'add' | 'del'): string[] {
    return this.nodes
      .filter((other) => other !== node)
      .map((other) => `route ${verb} ${other.podCidr} via ${other.ip} dev ${node.iface}`);
  }

  private async build(): Promise<void> {
    for (let i = 0; i < this.opts.nodes; i++) {
      const node = new LabNode(`node${i}`, i, `${this.prefix}node${i}`, nodeIp(i), podBlock(i));
      this.nodes.push(node);
      this.byName.set(node.name, node);
      for (let j = 0; j < this.opts.podsPerNode; j++) {
        const name = `${node.name}-pod${j}`;
        const pod = new LabPod(name, j, node, `${this.prefix}${name}`, podIp(i, j), `cali${j}`, this.cleanup);
        node.pods.push(pod);
        this.pods.push(pod);
        this.byName.set(name, pod);
      }
    }
    // Track before creating, so a failure half-way still removes what exists.
    for (const ns of this.namespaces) this.cleanup.trackNamespace(ns);
    await ipBatch(
      undefined,
      this.namespaces.map((ns) => `netns add ${ns}`),
    );
    // Both veth ends are created directly inside their namespaces: nothing ever appears in the
    // host namespace, so interface names only need to be unique per namespace.
    await ipBatch(undefined, [
      ...this.nodes.map(
        (n) => `link add eth0 netns ${n.ns} type veth peer name ${n.name} netns ${this.fabricNs}`,
      ),
      ...this.pods.map(
        (p) => `link add eth0 netns ${p.ns} type veth peer name ${p.hostIface} netns ${p.node.ns}`,
      ),
    ]);
    await Promise.all([this.configureFabric(), ...this.nodes.map((n) => this.configureNode(n))]);
    await Promise.all(this.pods.map((p) => this.configurePod(p)));
  }

  private async configureFabric(): Promise<void> {
    // A new namespace may inherit the host's ip_forward=1; the fabric must be a sink, not a router.
    await inNetns(this.fabricNs, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
    await ipBatch(this.fabricNs, [
      'link set lo up',
      'link add br0 type bridge',
      `addr add ${FABRIC_GATEWAY}/${UNDERLAY_PREFIX_LEN} dev br0`,
      'link set br0 up',
      ...this.nodes.flatMap((n) => [`link set ${n.name} master br0`, `link set ${n.name} up`]),
    ]);
  }

  private async configureNode(node: LabNode): Promise<void> {
    // Calico's host side: no address on cali*, proxy-ARP answers the pod's 169.254.1.1 lookups
    // (it needs the node to have a route to that address elsewhere — the default route).
    await node.exec('sysctl', [
      '-q',
      '-w',
      'net.ipv4.ip_forward=1',
      ...node.pods.flatMap((p) => [
        `net.ipv4.conf.${p.hostIface}.proxy_arp=1`,
        `net.ipv4.neigh.${p.hostIface}.proxy_delay=0`,
      ]),
    ]);
    await ipBatch(node.ns, [
      'link set lo up',
      `addr add ${node.ip}/${UNDERLAY_PREFIX_LEN} dev ${node.iface}`,
      `link set ${node.iface} up`,
      `route add default via ${FABRIC_GATEWAY} dev ${node.iface}`,
      ...node.pods.flatMap((p) => [
        `link set ${p.hostIface} up`,
        `route add ${p.ip}/32 dev ${p.hostIface} scope link`,
      ]),
      ...(this.opts.staticRoutes ? this.staticRouteLines(node, 'add') : []),
    ]);
  }

  private configurePod(pod: LabPod): Promise<ExecResult> {
    return ipBatch(pod.ns, [
      'link set lo up',
      `addr add ${pod.ip}/32 dev eth0`,
      'link set eth0 up',
      `route add ${POD_GATEWAY} dev eth0 scope link`,
      `route add default via ${POD_GATEWAY} dev eth0`,
    ]);
  }
}
