// The byte layout of bpf/policy.c's maps and ops, in one place (the C file mirrors it: change
// both together). Everything here turns numbers into the hex bytes `bpftool map update` takes;
// integers are little-endian (the host order of the machines Tabby runs on: x86-64, arm64).

export const OP = {
  rule: 1,
  action: 2,
  tierEnd: 3,
  drop: 4,
  end: 5,
  ipVersion: 10,
  proto: 11,
  icmp: 12,
  set: 13,
  portsBegin: 14,
  portRange: 15,
  namedPort: 16,
  portsEnd: 17,
  service: 18,
  call: 19,
  ret: 20,
} as const;

export const FLAG = { dst: 1, neg: 2 } as const;
export const ACT = { allow: 1, deny: 2, pass: 3, log: 4 } as const;

/** Map names as the object declares them (and as they are pinned under <base>/maps/). */
export const MAPS = [
  'tabby_code',
  'tabby_eps',
  'tabby_active',
  'tabby_sets',
  'tabby_ct',
  'tabby_counters',
] as const;
export type MapName = (typeof MAPS)[number];
/**
 * Program names: tc ingress on the host-side interface is traffic from the workload. Host
 * endpoint interfaces run the same two programs (the endpoint entry says which stages apply).
 */
export const PROGS = { fromWorkload: 'tabby_from_wl', toWorkload: 'tabby_to_wl' } as const;

export const CODE_ENTRIES = 1_048_576;
export const ANY_CODE = 0xffffffff;

/** One op as the program reads it: struct op { u8 code, flags; u16 a; u32 b, c, d }. */
export interface Op {
  readonly code: number;
  readonly flags: number;
  readonly a: number;
  readonly b: number;
  readonly c?: number;
}

const hex = (bytes: readonly number[]): string => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
const u16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];
const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

export const u32Hex = (v: number): string => hex(u32(v));

export function opHex(op: Op): string {
  return hex([op.code, op.flags, ...u16(op.a), ...u32(op.b), ...u32(op.c ?? 0), ...u32(0)]);
}

/** struct ep_key { u32 ifindex, slot } */
export const epKeyHex = (ifindex: number, slot: number): string => hex([...u32(ifindex), ...u32(slot)]);
/**
 * The programs of one endpoint, in struct ep_val's order: tcIn / tcOut run at tc ingress / egress
 * (a workload's egress / ingress policy; a host endpoint's failsafes and ingress / egress policy),
 * the rest only on host endpoints (doNotTrack, preDNAT, applyOnForward stages).
 */
export const STAGES = ['tcIn', 'tcOut', 'rawIn', 'rawOut', 'preIn', 'fwdIn', 'fwdOut'] as const;
export type Stage = (typeof STAGES)[number];
/** A stage with no program: it gives no verdict. */
export const NO_PROG = 0xffffffff;
/** ep_val.flags */
export const EP_FLAG = { host: 1, toHostDrop: 2 } as const;

/** struct ep_val { u32 tc_in, tc_out, raw_in, raw_out, pre_in, fwd_in, fwd_out, flags } */
export const epValHex = (starts: Partial<Record<Stage, number>>, flags: number): string =>
  hex([...STAGES.flatMap((s) => u32(starts[s] ?? NO_PROG)), ...u32(flags)]);

/** One member of a set in the LPM trie: a network, with the port and protocol for port sets. */
export interface SetEntry {
  readonly family: 4 | 6;
  /** The network's address bytes (4 or 16). */
  readonly addr: readonly number[];
  readonly prefix: number;
  /** 0 for plain IP sets. */
  readonly port: number;
  readonly proto: number;
}

/** struct set_key { u32 prefixlen; u32 set_id; u16 port; u8 proto, family; u8 addr[16] } */
export function setKeyHex(setId: number, e: SetEntry): string {
  const addr = [...e.addr, ...Array<number>(16 - e.addr.length).fill(0)];
  return hex([...u32(64 + e.prefix), ...u32(setId), ...u16(e.port), e.proto, e.family, ...addr]);
}
