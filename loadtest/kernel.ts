// Kernel TCP counters (Linux /proc/net/netstat) that explain slow phases: a full listen
// queue drops handshakes (the client retries a second later), and when all sockets together
// exceed net.ipv4.tcp_mem, receive queues drop segments that then wait for a retransmission
// timeout. Host-wide counters, so the bench reads them around a phase and reports the change.

import { readFileSync } from 'node:fs';

const WANTED = [
  'ListenOverflows',
  'TCPSynRetrans',
  'TCPMemoryPressures',
  'TCPRcvQDrop',
  'TCPTimeouts',
] as const;
export type TcpCounters = Record<(typeof WANTED)[number], number>;

export function readTcpCounters(): TcpCounters | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/net/netstat', 'utf8');
  } catch {
    return undefined; // not Linux: the report just lacks these figures
  }
  const lines = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  if (lines.length < 2) return undefined;
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  const out = {} as TcpCounters;
  for (const w of WANTED) out[w] = values[names.indexOf(w)] ?? 0;
  return out;
}

export function diffTcpCounters(
  a: TcpCounters | undefined,
  b: TcpCounters | undefined,
): TcpCounters | undefined {
  if (!a || !b) return undefined;
  const out = {} as TcpCounters;
  for (const w of WANTED) out[w] = b[w] - a[w];
  return out;
}
