// CPU time and resident memory of other processes (Tabby replicas, the API, broadcasters)
// from /proc, so that the figures are the kernel's and need nothing from inside them. Off
// Linux the readings are absent and the report says so.

import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc times are in 1/100 s on every architecture Node supports. */
const TICKS_PER_SEC = 100;

export interface ProcReading {
  cpuMs: number;
  rssBytes: number;
}

export function readProc(pid: number): ProcReading | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name, which may hold spaces and parentheses: utime is 14th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuMs: (ticks * 1_000) / TICKS_PER_SEC, rssBytes: rssKiB * 1024 };
  } catch {
    return undefined;
  }
}

/** Sums over a set of processes; a process that exited contributes what it had when last seen. */
export class ProcGroup {
  private readonly last = new Map<number, ProcReading>();
  private readonly gone = new Map<number, number>();

  constructor(private pids: () => readonly number[]) {}

  /** Total CPU ms so far (including exited members) and the live members' RSS. */
  read(): ProcReading {
    let cpuMs = 0;
    let rssBytes = 0;
    const live = new Set(this.pids());
    for (const pid of live) {
      const r = readProc(pid);
      if (r) {
        this.last.set(pid, r);
        cpuMs += r.cpuMs;
        rssBytes += r.rssBytes;
      }
    }
    for (const [pid, r] of this.last)
      if (!live.has(pid)) {
        this.gone.set(pid, r.cpuMs);
        this.last.delete(pid);
      }
    for (const ms of this.gone.values()) cpuMs += ms;
    return { cpuMs, rssBytes };
  }
}

/**
 * The pids and their children (a replica's worker processes, `tabby serve --workers`), so a
 * replica's CPU and memory are all of its processes'.
 */
export function withChildren(pids: readonly number[]): number[] {
  const all: number[] = [];
  for (const pid of pids) {
    all.push(pid);
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
      if (kids !== '') all.push(...kids.split(' ').map(Number));
    } catch {
      // gone, or a kernel without the children file: the process alone
    }
  }
  return all;
}
