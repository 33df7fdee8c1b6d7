// The FelixConfiguration fields that shape host-endpoint policing on this node: the failsafe
// ports and DefaultEndpointToHostAction. Values arrive as config keys (one per field, global
// `/calico/v1/config/<Name>` and per node `/calico/v1/host/<node>/config/<Name>`, the node's
// winning); a value Felix would reject falls back to the default, as Felix does.

import { keyKind } from '../../model/keys.js';
import type { JsonValue } from '../../model/types.js';

/** What happens to workload → host traffic once the workload's egress policy allowed it. */
export type EndpointToHostAction = 'drop' | 'accept' | 'return';

export interface FailsafePort {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly port: number;
  /** Optional CIDR: inbound it limits the source, outbound the destination. */
  readonly net?: string;
}

export interface HostPolicyConfig {
  readonly endpointToHostAction: EndpointToHostAction;
  /** Always allowed into a host endpoint, before any policy (dport match). */
  readonly failsafeInbound: readonly FailsafePort[];
  /** Always allowed out of a host endpoint, before any policy (dport match). */
  readonly failsafeOutbound: readonly FailsafePort[];
}

/** Felix's defaults (felix/config/config_params.go). */
export const DEFAULT_FAILSAFE_INBOUND =
  'tcp:22,udp:68,tcp:179,tcp:2379,tcp:2380,tcp:5473,tcp:6443,tcp:6666,tcp:6667';
export const DEFAULT_FAILSAFE_OUTBOUND =
  'udp:53,udp:67,tcp:179,tcp:2379,tcp:2380,tcp:5473,tcp:6443,tcp:6666,tcp:6667';

const FIELDS = ['DefaultEndpointToHostAction', 'FailsafeInboundHostPorts', 'FailsafeOutboundHostPorts'];

/**
 * "tcp:22,udp:68", "tcp:10.0.0.0/8:22", "tcp:[fd00::/8]:22", "none" (empty); undefined when
 * some element does not parse (the caller then keeps the default, as Felix does).
 */
export function parseFailsafePorts(text: string): FailsafePort[] | undefined {
  const t = text.trim();
  if (t === '' || t.toLowerCase() === 'none') return [];
  const out: FailsafePort[] = [];
  for (const part of t.split(',')) {
    const m = /^(tcp|udp|sctp):(?:(\[[0-9a-fA-F:.]+(?:\/\d+)?\]|[0-9.]+(?:\/\d+)?):)?(\d+)$/i.exec(
      part.trim(),
    );
    if (m === null) return undefined;
    const port = Number(m[3]);
    if (port < 0 || port > 65535) return undefined;
    const net = m[2]?.replace(/^\[|\]$/g, '');
    out.push({
      protocol: m[1]!.toLowerCase() as FailsafePort['protocol'],
      port,
      ...(net === undefined
        ? {}
        : { net: net.includes('/') ? net : `${net}/${net.includes(':') ? 128 : 32}` }),
    });
  }
  return out;
}

function parseAction(text: string | undefined): EndpointToHostAction {
  const a = text?.trim().toLowerCase();
  return a === 'accept' || a === 'return' ? a : 'drop';
}

/** The config keys this node reads; apply() says whether the effective config changed. */
export class HostConfigIndex {
  readonly #global = new Map<string, string>();
  readonly #host = new Map<string, string>();
  #config: HostPolicyConfig = HostConfigIndex.resolve(new Map());

  constructor(private readonly nodeName: string) {}

  get config(): HostPolicyConfig {
    return this.#config;
  }

  /** Takes one KV if it is a config key this node reads; true when it was one. */
  take(key: string, value: JsonValue): boolean {
    const kind = keyKind(key);
    if (kind !== 'globalConfig' && kind !== 'hostConfig') return false;
    const seg = key.split('/').map(decodeURIComponent);
    const name = seg[seg.length - 1]!;
    if (!FIELDS.includes(name)) return false;
    if (kind === 'hostConfig' && seg[4] !== this.nodeName) return false;
    const m = kind === 'globalConfig' ? this.#global : this.#host;
    if (typeof value === 'string') m.set(name, value);
    else m.delete(name);
    return true;
  }

  /** Recomputes the effective config; true when it differs from the previous one. */
  refresh(): boolean {
    const merged = new Map([...this.#global, ...this.#host]);
    const next = HostConfigIndex.resolve(merged);
    if (JSON.stringify(next) === JSON.stringify(this.#config)) return false;
    this.#config = next;
    return true;
  }

  static resolve(values: ReadonlyMap<string, string>): HostPolicyConfig {
    const ports = (name: string, fallback: string) =>
      parseFailsafePorts(values.get(name) ?? fallback) ?? parseFailsafePorts(fallback)!;
    return Object.freeze({
      endpointToHostAction: parseAction(values.get('DefaultEndpointToHostAction')),
      failsafeInbound: Object.freeze(ports('FailsafeInboundHostPorts', DEFAULT_FAILSAFE_INBOUND)),
      failsafeOutbound: Object.freeze(ports('FailsafeOutboundHostPorts', DEFAULT_FAILSAFE_OUTBOUND)),
    });
  }
}

/** Felix's defaults, for snapshots built without a calculator. */
export const defaultHostConfig = (): HostPolicyConfig => HostConfigIndex.resolve(new Map());
