// Ports and protocols as Calico's numorstring package reads and writes them
// (api/pkg/lib/numorstring/port.go, protocol.go): a port is a number, "lo:hi" or a named
// port; in the model a single port is a number, a range "lo:hi", a name stays a string.
// Protocols are TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1–255; the model lowercases names.

import type { ModelPort } from '../../model/values/policy.js';
import { Invalid } from './errors.js';
import { show } from './fields.js';

/** Kubernetes' IsValidPortName (IANA service name): ≤15 chars, [a-z0-9-], a letter, no "--". */
export function isValidPortName(s: string): boolean {
  return (
    s.length >= 1 &&
    s.length <= 15 &&
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s) &&
    /[a-z]/.test(s) &&
    !s.includes('--')
  );
}

const PORT_MAX = 65535;

/** One port: 80, "80", "8000:8080" or "http". */
export function parsePort(v: unknown, what: string): ModelPort {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > PORT_MAX) throw new Invalid(`${what}: invalid port ${show(v)}`);
    return v;
  }
  if (typeof v !== 'string') throw new Invalid(`${what}: invalid port ${show(v)}`);
  if (/^\d+$/.test(v)) return parsePort(Number(v), what);
  const range = /^(\d+):(\d+)$/.exec(v);
  if (range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    if (lo > PORT_MAX || hi > PORT_MAX) throw new Invalid(`${what}: invalid port range ${show(v)}`);
    if (lo > hi) throw new Invalid(`${what}: port range ${show(v)} has minimum above maximum`);
    return lo === hi ? lo : `${lo}:${hi}`;
  }
  if (!isValidPortName(v)) throw new Invalid(`${what}: invalid port ${show(v)}`);
  return v;
}

export const isNamedPort = (p: ModelPort): boolean => typeof p === 'string' && !/^\d+:\d+$/.test(p);

const PROTOCOL_NAMES = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'] as const;

/** A v3 protocol, validated as Calico's validator does (names are case-sensitive). */
export function parseProtocol(v: unknown, what: string): string | number {
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 255) throw new Invalid(`${what}: invalid protocol ${show(v)}`);
    return n;
  }
  if (typeof v === 'string' && (PROTOCOL_NAMES as readonly string[]).includes(v)) return v;
  throw new Invalid(`${what}: invalid protocol ${show(v)} (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)`);
}

/** numorstring.ProtocolFromString: a Kubernetes protocol name in Calico's spelling. */
export function canonicalProtocolName(name: string): string {
  return PROTOCOL_NAMES.find((n) => n.toLowerCase() === name.toLowerCase()) ?? name;
}

/** Protocol.ToV1(): names lowercased, numbers unchanged. */
export const protocolToModel = (p: string | number): string | number =>
  typeof p === 'number' ? p : p.toLowerCase();

/** Protocol.SupportsPorts(): TCP, UDP, SCTP (6, 17, 132). */
export function supportsPorts(p: string | number): boolean {
  return typeof p === 'number' ? p === 6 || p === 17 || p === 132 : ['TCP', 'UDP', 'SCTP'].includes(p);
}
