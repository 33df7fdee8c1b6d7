// Address tables as a BPF dataplane keeps them: hash maps keyed by a masked network, probed once
// per prefix length present (longest first), which is how an LPM trie answers "is this address
// in any of these nets?". Keys are canonical CIDR texts, so the tables stay JSON-serialisable.

import { type Cidr, netOf } from '../../../model/net/cidr.js';
import { type Ip, parseIp } from '../../../model/net/ip.js';

export interface PrefixLens {
  /** Prefix lengths present among IPv4 keys, longest first. */
  readonly v4: readonly number[];
  /** Prefix lengths present among IPv6 keys, longest first. */
  readonly v6: readonly number[];
}

function v4Text(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
}

function v6Text(v: bigint): string {
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((v >> s) & 0xffffn).toString(16));
  return groups.join(':');
}

/** The canonical text of a network: host bits cleared, IPv6 uncompressed. */
export function formatNet(c: Cidr): string {
  return `${c.version === 4 ? v4Text(c.addr) : v6Text(c.addr)}/${c.prefix}`;
}

/** A CIDR or bare address text as its canonical network text (undefined if it does not parse). */
export function canonicalNet(text: string): string | undefined {
  const c = netOf(text);
  return c === undefined ? undefined : formatNet(c);
}

/** `ip` masked to `prefix` bits, as a table key. */
export function maskedKey(ip: Ip, prefix: number): string {
  const host = BigInt((ip.version === 4 ? 32 : 128) - prefix);
  return formatNet({ version: ip.version, addr: (ip.addr >> host) << host, prefix });
}

export function prefixLensOf(keys: Iterable<string>): PrefixLens {
  const v4 = new Set<number>();
  const v6 = new Set<number>();
  for (const k of keys) {
    const c = netOf(k.split(',')[0]!);
    if (c !== undefined) (c.version === 4 ? v4 : v6).add(c.prefix);
  }
  const desc = (s: Set<number>) => [...s].sort((a, b) => b - a);
  return { v4: desc(v4), v6: desc(v6) };
}

/** The probe keys for an address: one per prefix length present, longest first. */
export function probeKeys(lens: PrefixLens, ip: Ip): string[] {
  return (ip.version === 4 ? lens.v4 : lens.v6).map((p) => maskedKey(ip, p));
}

export function parseAddress(text: string): Ip | undefined {
  return parseIp(text, 'lenient');
}
