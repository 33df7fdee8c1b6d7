// FelixConfiguration and ClusterInformation to one config key per field, with string values
// as Calico's updateprocessors/configurationprocessor.go, felixconfigprocessor.go and
// clusterinfoprocessor.go write them: "default" is global, "node.<name>" per host.

import { parseCidr } from '../../model/net/cidr.js';
import type { KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { FELIX_FIELDS } from './felix-config-fields.js';
import { fields, isFields, show } from './fields.js';

const ANNOTATION_PREFIX = 'config.projectcalico.org/';
const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDuration(s: string, what: string): number {
  const m = /^([-+]?)(.+)$/.exec(s);
  const body = m?.[2] ?? '';
  if (body === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let part = re.exec(body); part !== null; part = re.exec(body)) {
    total += Number(part[1]) * UNITS[part[2]!]!;
    at = re.lastIndex;
  }
  if (at === 0 || at !== body.length) throw new Invalid(`${what}: invalid duration ${show(s)}`);
  return m?.[1] === '-' ? -total : total;
}

/** Go's %v of a float64: shortest digits, exponent form below 1e-4 or from 1e6 up. */
export function goFloat(x: number): string {
  if (x === 0) return '0';
  const [mant, exp] = x.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e >= -4 && e < 6) return String(x);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** Go's time.Duration.String(). */
export function goDuration(ns: number): string {
  const n = Math.round(ns);
  if (n === 0) return '0s';
  const sign = n < 0 ? '-' : '';
  let a = Math.abs(n);
  const trim = (v: number) => String(Number(v.toFixed(9)));
  if (a < 1e3) return `${sign}${a}ns`;
  if (a < 1e6) return `${sign}${trim(a / 1e3)}µs`;
  if (a < 1e9) return `${sign}${trim(a / 1e6)}ms`;
  const h = Math.floor(a / 3600e9);
  a -= h * 3600e9;
  const min = Math.floor(a / 60e9);
  a -= min * 60e9;
  const sec = `${trim(a / 1e9)}s`;
  if (h > 0) return `${sign}${h}h${min}m${sec}`;
  return min > 0 ? `${sign}${min}m${sec}` : `${sign}${sec}`;
}

function expect(ok: boolean, what: string, v: unknown, type: string): void {
  if (!ok) throw new Invalid(`${what}: expected ${type}, got ${show(v)}`);
}

/** BPFConntrackTimeouts fields, JSON name to Go name, in struct order. */
const CONNTRACK_TIMEOUTS: Readonly<Record<string, string>> = {
  creationGracePeriod: 'CreationGracePeriod',
  tcpSynSent: 'TCPSynSent',
  tcpEstablished: 'TCPEstablished',
  tcpFinsSeen: 'TCPFinsSeen',
  tcpResetSeen: 'TCPResetSeen',
  udpTimeout: 'UDPTimeout',
  genericTimeout: 'GenericTimeout',
  icmpTimeout: 'ICMPTimeout',
};

const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v);

/** One spec field's config value; undefined = no key (Calico sends a deletion). */
function stringify(type: string, v: unknown, what: string): string | undefined {
  switch (type) {
    case 'b':
      expect(typeof v === 'boolean', what, v, 'true or false');
      return String(v);
    case 'i':
      expect(int(v), what, v, 'an integer');
      return String(v);
    case 's':
    case 'dscp':
      expect(typeof v === 'string' || (type === 'dscp' && int(v)), what, v, 'a string');
      return v === '' ? undefined : String(v);
    case 'd':
    case 'ms': {
      expect(typeof v === 'string', what, v, 'a duration');
      const ns = parseGoDuration(v as string, what);
      return goFloat(type === 'd' ? ns / 1e9 : ns / 1e6);
    }
    case 'l':
      expect(Array.isArray(v) && v.every((x) => typeof x === 'string'), what, v, 'a list of strings');
      return (v as string[]).join(',');
    case 'm': {
      expect(isFields(v) && Object.values(v).every((x) => typeof x === 'string'), what, v, 'a string map');
      const m = v as Record<string, string>;
      return Object.keys(m)
        .sort()
        .map((k) => `${k}=${m[k]},`)
        .join('');
    }
    case 'pp':
      return protoPorts(v, what);
    case 'rtr': {
      const r = fields(v, what);
      expect(int(r['min']) && int(r['max']), what, v, '{min, max}');
      return `${r['min']}-${r['max']}`;
    }
    case 'rtrs':
      expect(Array.isArray(v), what, v, 'a list of {min, max}');
      return (v as unknown[]).map((r, i) => stringify('rtr', r, `${what}[${i}]`)).join(',');
    case 'hto': {
      expect(Array.isArray(v), what, v, 'a list of {name, timeout}');
      const list = (v as unknown[]).map((h, i) => {
        const f = fields(h, `${what}[${i}]`);
        expect(
          typeof f['name'] === 'string' && typeof f['timeout'] === 'string',
          `${what}[${i}]`,
          h,
          '{name, timeout}',
        );
        return `${f['name']}=${goDuration(parseGoDuration(f['timeout'] as string, `${what}[${i}].timeout`))}`;
      });
      return list.length === 0 ? undefined : list.join(',');
    }
    case 'bct': {
      const f = fields(v, what);
      return Object.entries(CONNTRACK_TIMEOUTS)
        .filter(([k]) => typeof f[k] === 'string' && f[k] !== '')
        .map(([k, goName]) => `${goName}=${f[k]}`)
        .join(',');
    }
    case 'port':
      expect(int(v) || typeof v === 'string', what, v, 'a port or range');
      return String(v);
    case 'ports':
      expect(Array.isArray(v), what, v, 'a list of ports');
      return `[${(v as unknown[]).map(String).join(' ')}]`;
    default:
      throw new Invalid(`${what}: unsupported field type ${type}`);
  }
}

/** "tcp:22,udp:68", "tcp:10.0.0.0/8:22", "tcp:[fd00::/8]:22"; "none" when empty. */
function protoPorts(v: unknown, what: string): string {
  expect(Array.isArray(v), what, v, 'a list of {protocol, port}');
  const parts = (v as unknown[]).map((p, i) => {
    const f = fields(p, `${what}[${i}]`);
    expect(int(f['port']), `${what}[${i}].port`, f['port'], 'a port');
    const proto = String(f['protocol'] ?? 'tcp').toLowerCase();
    const net = typeof f['net'] === 'string' ? f['net'] : '';
    if (net === '') return `${proto}:${f['port']}`;
    const c = parseCidr(net, { bare: true });
    if (c === undefined) throw new Invalid(`${what}[${i}].net: invalid CIDR ${show(net)}`);
    return c.version === 6 ? `${proto}:[${net}]:${f['port']}` : `${proto}:${net}:${f['port']}`;
  });
  return parts.length === 0 ? 'none' : parts.join(',');
}

/** "default" → '' (global), "node.<n>" → n; other names are selector-scoped (undefined). */
function scope(name: string): string | undefined {
  if (name === 'default') return '';
  return name.startsWith('node.') ? name.slice(5) : undefined;
}

const configKV = (node: string, name: string, value: string) =>
  node === '' ? modelKV('globalConfig', [name], value) : modelKV('hostConfig', [node, name], value);

/** Selector-scoped FelixConfigurations (Calico hands them to its ConfigBatcher) yield no keys. */
export function convertFelixConfiguration(obj: KubeObject): KV[] {
  const node = scope(obj.metadata.name);
  if (node === undefined) return [];
  const spec = fields(obj.spec, 'spec');
  const values = new Map<string, string>();
  for (const [json, v] of Object.entries(spec)) {
    if (v === undefined || v === null || json === 'nodeSelector') continue;
    const def = FELIX_FIELDS[json];
    if (def === undefined) throw new Invalid(`spec.${json}: unknown FelixConfiguration field`);
    const [name, type] = def.includes(' ')
      ? (def.split(' ') as [string, string])
      : [json[0]!.toUpperCase() + json.slice(1), def];
    const s = stringify(type, v, `spec.${json}`);
    if (s !== undefined) values.set(name, s);
  }
  // Annotations override (or add) keys verbatim, unvalidated, as in Calico.
  for (const [k, v] of Object.entries(obj.metadata.annotations ?? {}))
    if (k.startsWith(ANNOTATION_PREFIX) && k.length > ANNOTATION_PREFIX.length)
      values.set(k.slice(ANNOTATION_PREFIX.length), v);
  return [...values].map(([name, value]) => configKV(node, name, value));
}

const CLUSTER_INFO: Readonly<Record<string, string>> = {
  clusterGUID: 'ClusterGUID',
  clusterType: 'ClusterType',
  calicoVersion: 'CalicoVersion',
  variant: 'Variant',
};

/** ClusterInformation: string config keys, and datastoreReady as the global Ready flag. */
export function convertClusterInformation(obj: KubeObject): KV[] {
  const node = scope(obj.metadata.name);
  if (node === undefined) return [];
  const spec = fields(obj.spec, 'spec');
  const out: KV[] = [];
  for (const [json, v] of Object.entries(spec)) {
    if (v === undefined || v === null) continue;
    if (json === 'datastoreReady') {
      expect(typeof v === 'boolean', 'spec.datastoreReady', v, 'true or false');
      if (node === '') out.push(modelKV('readyFlag', [], v as boolean));
      continue;
    }
    const name = CLUSTER_INFO[json];
    if (name === undefined) throw new Invalid(`spec.${json}: unknown ClusterInformation field`);
    const s = stringify('s', v, `spec.${json}`);
    if (s !== undefined) out.push(configKV(node, name, s));
  }
  return out;
}
