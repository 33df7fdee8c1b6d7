// `tabby explain`: which tier, policy and rule decide a flow, on the egress and the ingress
// side, using the same calculation (agent/calc) the dataplane is rendered from. The state
// comes from a Tabby server (as an agent sees it) or straight from manifest files.

import { Command } from 'commander';
import { PolicyCalculator } from '../agent/calc/index.js';
import {
  type Decision,
  type Explanation,
  evaluateAcross,
  mapsOf,
  type SideExplanation,
} from '../agent/dataplane/maps/index.js';
import { ConfigError } from '../config/errors.js';
import { type ExplainConfig, explainSchema } from '../config/explain-config.js';
import { requireDirectory } from '../config/paths.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { clientTlsOptions } from '../config/tls-config.js';
import { convertObject } from '../datastore/convert/index.js';
import { FileDatastore } from '../datastore/file/file-datastore.js';
import { keyKind } from '../model/keys.js';
import { silentLogger } from '../model/logger.js';
import type { JsonValue, KV } from '../model/types.js';
import { type EndpointValue, parseEndpoint } from '../model/values/endpoint.js';
import { BadValue } from '../model/values/read.js';
import { readFelixState } from './read-state.js';

export function explainCommand(): Command {
  const cmd = new Command('explain').description(
    'show which tier, policy and rule decide a flow, and the verdict',
  );
  addSchemaOptions(cmd, explainSchema.shape);
  cmd.action(async () => {
    const cfg = resolveConfig(cmd, explainSchema);
    if (!cfg.server === !cfg.path)
      throw new ConfigError('give exactly one of --server HOST:PORT or --path DIR');
    if (cfg.path) await requireDirectory('path', cfg.path);
    const state = cfg.path
      ? await readFiles(cfg.path)
      : await readFelixState(cfg.server!, cfg.timeoutMs, clientTlsOptions(cfg));
    // No node of its own: explain computes plans on demand for whichever endpoints a flow involves.
    const src = resolveEndpoint(state, cfg.from, 'from');
    const dst = parseDestination(state, cfg.to);
    // Evaluate what the nodes would run: each side's node compiles the policy to lookup maps
    // (the eBPF-style dataplane) and the flow is judged on them; property and packet tests keep
    // these equal to the calculator's own explain() and to the iptables/nftables dataplanes.
    const kvs = [...state].map(([key, value]) => ({ key, value }));
    const mapsFor = (node: string | undefined) => {
      const calc = new PolicyCalculator(node ?? '(no node)');
      calc.apply(kvs);
      return mapsOf(calc);
    };
    const srcMaps = mapsFor(src.node);
    const dstMaps = src.node === dst.node ? srcMaps : mapsFor(dst.node);
    const result = evaluateAcross(srcMaps, dstMaps, {
      srcIp: src.ip,
      dstIp: dst.ip,
      protocol: dst.protocol,
      dstPort: dst.port,
    });
    process.stdout.write(cfg.json ? `${JSON.stringify(result)}\n` : render(cfg, src, dst, result));
  });
  return cmd;
}

async function readFiles(path: string): Promise<Map<string, JsonValue>> {
  const state = new Map<string, JsonValue>();
  const ds = new FileDatastore({ path, convert: convertObject, log: silentLogger });
  await ds.start({
    onUpdates: (kvs: readonly KV[]) => {
      for (const kv of kvs) kv.value === null ? state.delete(kv.key) : state.set(kv.key, kv.value);
    },
    onStatus: () => {},
  });
  await ds.stop();
  for (const e of ds.lastErrors) process.stderr.write(`warning: ${e.source}: ${e.message}\n`);
  // An object that does not convert is not in the state: say so, or a verdict silently
  // reflects a policy that is not there (as lint -f reports it, and agents would never get it).
  for (const r of ds.rejectedObjects())
    process.stderr.write(`warning: ${r.source}: ${r.reason} (dropped: the verdict is computed without it)\n`);
  return state;
}

interface Endpoint {
  label: string;
  ip: string;
  /** The node whose agent polices this endpoint (undefined: not a workload endpoint). */
  node?: string;
}

/** `<ns>/<pod>` (a workload endpoint in the state) or a literal IP. */
function resolveEndpoint(state: ReadonlyMap<string, JsonValue>, ref: string, what: string): Endpoint {
  if (/^[0-9.]+$|:/.test(ref) && !ref.includes('/'))
    return { label: ref, ip: ref, node: nodeOwning(state, ref) };
  const m = /^([^/]+)\/([^/]+)$/.exec(ref);
  if (!m) throw new ConfigError(`--${what}: want <namespace>/<pod> or an IP, got "${ref}"`);
  const needle = `/workload/k8s/${encodeURIComponent(`${m[1]}/${m[2]}`)}/endpoint/`;
  for (const [key, value] of state) {
    if (keyKind(key) !== 'workloadEndpoint' || !key.includes(needle)) continue;
    const ep = endpointOf(key, value);
    const first = ep?.nets[0];
    if (ep === undefined || first === undefined) throw new ConfigError(`--${what}: ${ref} has no IP`);
    return { label: ref, ip: first.split('/')[0]!, node: ep.node };
  }
  throw new ConfigError(`--${what}: no workload endpoint ${ref} in the state`);
}

/** The endpoint stored at `key`, or undefined if its value does not parse (it is skipped). */
function endpointOf(key: string, value: JsonValue): EndpointValue | undefined {
  try {
    return parseEndpoint(key, value);
  } catch (err) {
    if (err instanceof BadValue) return undefined;
    throw err;
  }
}

/** The node of the workload (or host) endpoint that has `ip` among its addresses, if any. */
function nodeOwning(state: ReadonlyMap<string, JsonValue>, ip: string): string | undefined {
  let host: string | undefined;
  for (const [key, value] of state) {
    const kind = keyKind(key);
    if (kind !== 'workloadEndpoint' && (kind !== 'hostEndpoint' || host !== undefined)) continue;
    // A host endpoint's expected IPs: the flow is host-bound or host-originated on that node.
    const ep = endpointOf(key, value);
    if (ep === undefined || !ep.nets.some((n) => n.split('/')[0] === ip)) continue;
    if (kind === 'workloadEndpoint') return ep.node;
    host = ep.node;
  }
  return host;
}

function parseDestination(state: ReadonlyMap<string, JsonValue>, to: string) {
  const m = /^(.+):(\d+)\/([A-Za-z0-9]+)$/.exec(to);
  if (!m)
    throw new ConfigError(`--to: want <ns>/<pod>:<port>/<protocol> or <ip>:<port>/<protocol>, got "${to}"`);
  return { ...resolveEndpoint(state, m[1]!, 'to'), port: Number(m[2]), protocol: m[3]!.toLowerCase() };
}

/** "/calico/v1/policy/NetworkPolicy/ns/name" → "NetworkPolicy ns/name". */
function policyName(key: string): string {
  const m = /^\/calico\/v1\/policy\/([^/]+)\/(.+)$/.exec(key);
  return m ? `${decodeURIComponent(m[1]!)} ${m[2]!.split('/').map(decodeURIComponent).join('/')}` : key;
}

function describe(d: Decision): string {
  switch (d.kind) {
    case 'rule':
      return `${d.action} by tier ${d.tier}, ${d.stage === undefined ? '' : `${d.stage} `}policy ${policyName(d.policy)}, rule ${d.ruleIndex}`;
    case 'tier-end':
      return `deny at the end of tier ${d.tier} (its policies apply and none allowed or passed)`;
    case 'profile':
      return `${d.action} by profile ${d.profile}, rule ${d.ruleIndex}`;
    case 'profile-missing':
      return `deny: profile ${d.profile} does not exist`;
    case 'default':
      return 'deny: nothing allowed it (end of the endpoint chain)';
    case 'unmanaged':
      return 'not a Calico endpoint: no policy on this side';
    case 'failsafe':
      return `allow: ${d.direction} failsafe port ${d.protocol}:${d.port} (before any policy)`;
    case 'endpoint-to-host':
      return `${d.action === 'drop' ? 'deny' : 'allow'}: workload to its own host, DefaultEndpointToHostAction ${d.action}`;
    case 'host-to-workload':
      return 'allow: host to a local workload is not policed';
  }
}

function render(
  cfg: ExplainConfig,
  src: Endpoint,
  dst: Endpoint & { port: number; protocol: string },
  r: Explanation,
) {
  const side = (name: string, s: SideExplanation) =>
    `  ${name.padEnd(7)} ${s.allowed ? 'allowed' : 'DENIED '}  ${describe(s.decidedBy)}\n`;
  return (
    `${cfg.from} (${src.ip}) → ${dst.label} (${dst.ip}):${dst.port}/${dst.protocol}: ${r.verdict.toUpperCase()}\n` +
    side('egress', r.egress) +
    side('ingress', r.ingress)
  );
}
