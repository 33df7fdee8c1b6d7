// Settings of `tabby agent`, the node agent: the policy dataplane, and the routing parts
// (BIRD for BGP, kernel routes from IPAM, WireGuard), each of which can be turned off.

import { z } from 'zod';
import { discoveryService, serverAddresses } from './fields.js';
import { clientTlsFields } from './tls-config.js';

const hostPath = (what: string, def: string) => z.string().min(1).default(def).describe(what);

export const agentSchema = z.object({
  server: serverAddresses
    .default('127.0.0.1:5473')
    .describe(
      'Tabby servers HOST:PORT[,HOST:PORT...], ranked per node by rendezvous hashing (unused with --discovery-service)',
    ),
  discoveryService: discoveryService
    .optional()
    .describe(
      "k8s:<namespace>/<service>: find the replicas from this Service's EndpointSlices (ready endpoints, port named sync) instead of --server",
    ),
  kubeconfig: z
    .string()
    .optional()
    .describe('--discovery-service: kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)'),
  driftIntervalMs: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(600_000)
    .describe('off its preferred replica, move back after this long ±50 % (0: never)'),
  node: z.string().min(1).describe("this node's name (as in the Node resource)"),
  dataplane: z
    .enum(['iptables', 'nftables', 'bpf', 'auto', 'none'])
    .default('iptables')
    .describe(
      'policy dataplane to program (bpf: tc programs reading pinned maps; auto: bpf, else iptables with a warning; none: no policy part, or only --dry-run output)',
    ),
  bpfDir: hostPath(
    '--dataplane bpf: the bpffs directory its maps and programs are pinned in',
    '/sys/fs/bpf/tabby',
  ),
  bpfStateFile: hostPath(
    '--dataplane bpf: what the pinned maps hold, so a restarted agent adopts them (keep it on tmpfs, like the pins)',
    '/var/run/tabby/bpf-state.json',
  ),
  bpfObject: z
    .string()
    .optional()
    .describe('--dataplane bpf: the compiled tc program (default: bpf/build/policy.o of this install)'),
  cleanup: z
    .boolean()
    .default(false)
    .describe('remove everything the policy dataplane programmed (chains, sets, tc programs, pins) and exit'),
  cleanupOnStop: z
    .boolean()
    .default(false)
    .describe(
      'on SIGTERM/SIGINT, remove what the policy dataplane programmed before exiting (default: leave it enforcing)',
    ),
  dryRun: z
    .string()
    .optional()
    .describe(
      'write the rendered policy to this directory instead of programming it (routing parts do not run)',
    ),
  bgp: z
    .enum(['bird', 'off'])
    .default('off')
    .describe('BGP: follow the bgp stream and keep BIRD 2 configured (bird), or leave BGP alone (off)'),
  birdSocket: hostPath("BIRD's control socket", '/var/run/tabby/bird.ctl'),
  birdConfig: hostPath('the BIRD configuration file the agent writes', '/etc/tabby/bird.conf'),
  birdRun: z
    .boolean()
    .default(false)
    .describe(
      'run and supervise bird; a bird a killed agent left on --bird-socket is shut down first (otherwise: reload a bird already running there)',
    ),
  birdTimers: z
    .enum(['production', 'fast'])
    .default('production')
    .describe("BGP timers: Calico's (production) or short ones for labs and tests (fast)"),
  bgpSecretsDir: hostPath('BGP password secrets mounted as DIR/<secret>/<key>', '/etc/tabby/bgp-secrets'),
  routerId: z
    .string()
    .optional()
    .describe('BGP router id: an IPv4 address or "hash" (default: the node IPv4)'),
  routes: z
    .enum(['bgp', 'direct', 'off'])
    .default('off')
    .describe(
      'kernel routes from IPAM: bgp (BIRD owns plain routes, the agent encapsulated ones), direct (the agent owns all), off',
    ),
  routeTable: z.string().default('main').describe('routing table for IPAM routes ("main" or a number)'),
  wireguard: z
    .enum(['auto', 'kernel', 'userspace', 'off'])
    .default('auto')
    .describe(
      'WireGuard device when FelixConfiguration enables it: kernel, userspace (wireguard-go), auto (kernel, else wireguard-go), off',
    ),
  wireguardKeyFile: hostPath('the private key file (mode 0600)', '/var/lib/tabby/wireguard.key'),
  hostMtu: z.coerce
    .number()
    .int()
    .min(576)
    .max(65535)
    .default(1500)
    .describe('uplink MTU (WireGuard MTU auto = this - 60)'),
  readyDisconnectedMs: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(60_000)
    .describe(
      '/readyz fails once a stream has been without a server this long (the dataplane keeps its last state; 0: never)',
    ),
  healthListen: z
    .string()
    .default('127.0.0.1:9099')
    .describe('HTTP address for /livez, /readyz and /metrics (Felix uses 9099); "off" disables it'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('log level'),
  ...clientTlsFields,
});

export type AgentConfig = z.infer<typeof agentSchema>;
