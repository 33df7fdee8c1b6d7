// Pure: the map writes that take the kernel from the last applied state to a new policy, as one
// `bpftool batch` file, in an order that makes the change atomic. Endpoint entries exist in two
// slots and the program reads the slot named by tabby_active[0]:
//   1. new sets (fresh ids) and new programs (free code ranges) — nothing reads them yet;
//   2. changed endpoints into the inactive slot;
//   3. one write flips tabby_active: every packet from here on sees the new version whole;
//   4. the same endpoint changes into the old slot (both slots equal again, for next time);
//   5. entries of sets no longer used are deleted; code ranges no longer used are freed.
// Only what changed is written: sets and programs are named by content (encode.ts).

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';
import type { EncodedEndpoint, EncodedPolicy, OpTemplate } from './encode.js';
import {
  CODE_ENTRIES,
  epKeyHex,
  epValHex,
  type MapName,
  opHex,
  STAGES,
  type Stage,
  setKeyHex,
  u32Hex,
} from './layout.js';

export interface EndpointState {
  readonly ifindex: number;
  /** Program names per stage. */
  readonly programs: Readonly<Partial<Record<Stage, string>>>;
  readonly flags: number;
}

/** What is in the maps, persisted by the driver so a restarted agent adopts them. */
export interface BpfState {
  readonly format: 2;
  readonly active: 0 | 1;
  readonly nextSetId: number;
  /** Set name -> kernel id and the hex keys of its entries (to delete them). */
  readonly sets: Readonly<Record<string, { readonly id: number; readonly keys: readonly string[] }>>;
  /** Program name -> its code range. */
  readonly programs: Readonly<Record<string, { readonly start: number; readonly len: number }>>;
  /** Free code ranges [start, len], and the first index never used. */
  readonly free: readonly (readonly [number, number])[];
  readonly top: number;
  /** Interface name -> its entry (the same in both slots between applies). */
  readonly endpoints: Readonly<Record<string, EndpointState>>;
}

export const EMPTY_STATE: BpfState = {
  format: 2,
  active: 0,
  nextSetId: 1,
  sets: {},
  programs: {},
  free: [],
  top: 0,
  endpoints: {},
};

export interface PlanStats {
  setsWritten: number;
  setEntriesWritten: number;
  setEntriesDeleted: number;
  programsWritten: number;
  opsWritten: number;
  endpointsWritten: number;
  endpointsDeleted: number;
  /** Key + value bytes handed to the kernel (the flip included). */
  bytes: number;
}

export interface Plan {
  /** bpftool batch lines (empty when nothing changed). */
  readonly lines: readonly string[];
  readonly state: BpfState;
  readonly stats: PlanStats;
}

export class CodeSpaceError extends TabbyError {
  constructor(need: number) {
    super(
      ErrorCode.BpfCodeSpace,
      `bpf dataplane: no room for a program of ${need} ops in tabby_code (${CODE_ENTRIES} entries)`,
    );
  }
}

/** First fit from the free list, else the top. */
function allocate(free: [number, number][], top: { v: number }, len: number): number {
  const i = free.findIndex(([, l]) => l >= len);
  if (i >= 0) {
    const [start, l] = free[i]!;
    if (l === len) free.splice(i, 1);
    else free[i] = [start + len, l - len];
    return start;
  }
  if (top.v + len > CODE_ENTRIES) throw new CodeSpaceError(len);
  const start = top.v;
  top.v += len;
  return start;
}

const hexBytes = (h: string): number => (h.length + 1) / 3;

/**
 * `ifindex` resolves the desired endpoints' interfaces (one missing is left out: it has no
 * interface yet). `strays`, when given (after a failed apply or an adoption without state),
 * lists every entry in tabby_eps: all desired entries are rewritten and the rest deleted.
 */
export function planApply(
  prev: BpfState,
  desired: EncodedPolicy,
  ifindex: ReadonlyMap<string, number>,
  mapPath: (m: MapName) => string,
  strays?: readonly (readonly [number, number])[],
): Plan {
  const lines: string[] = [];
  const stats: PlanStats = {
    setsWritten: 0,
    setEntriesWritten: 0,
    setEntriesDeleted: 0,
    programsWritten: 0,
    opsWritten: 0,
    endpointsWritten: 0,
    endpointsDeleted: 0,
    bytes: 0,
  };
  const update = (m: MapName, key: string, value: string) => {
    lines.push(`map update pinned ${mapPath(m)} key hex ${key} value hex ${value}`);
    stats.bytes += hexBytes(key) + hexBytes(value);
  };
  const remove = (m: MapName, key: string) => {
    lines.push(`map delete pinned ${mapPath(m)} key hex ${key}`);
    stats.bytes += hexBytes(key);
  };

  const endpoints = endpointsOf(desired, ifindex);
  const progNames = new Set(Object.values(endpoints).flatMap((e) => namesOf(e.programs)));
  // The fragments those programs call (fragments call nothing).
  for (const p of [...progNames])
    for (const op of desired.programs.get(p) ?? []) if (op.call) progNames.add(op.call);
  const setNames = new Set<string>();
  for (const p of progNames) for (const op of desired.programs.get(p) ?? []) if (op.set) setNames.add(op.set);

  // 1. New sets and programs.
  let nextSetId = prev.nextSetId;
  const sets: Record<string, { id: number; keys: readonly string[] }> = {};
  for (const name of [...setNames].sort()) {
    const old = prev.sets[name];
    if (old !== undefined) {
      sets[name] = old;
      continue;
    }
    const id = nextSetId++;
    const keys = (desired.sets.get(name) ?? []).map((e) => setKeyHex(id, e));
    for (const k of keys) update('tabby_sets', k, '01');
    sets[name] = { id, keys };
    stats.setsWritten++;
    stats.setEntriesWritten += keys.length;
  }
  const free = prev.free.map(([s, l]) => [s, l] as [number, number]);
  const top = { v: prev.top };
  const programs: Record<string, { start: number; len: number }> = {};
  // Ranges of programs no longer used are freed only after the new ones are placed: the old
  // version keeps reading them until the flip.
  const placed: string[] = [];
  for (const name of [...progNames].sort()) {
    const old = prev.programs[name];
    if (old !== undefined) {
      programs[name] = old;
      continue;
    }
    const len = desired.programs.get(name)?.length ?? 0;
    programs[name] = { start: allocate(free, top, len), len };
    placed.push(name);
  }
  // Written once every program has its place: a program links to the fragments it calls.
  for (const name of placed) {
    const { start } = programs[name]!;
    const ops = desired.programs.get(name) ?? [];
    for (const [i, op] of ops.entries())
      update('tabby_code', u32Hex(start + i), opHex(link(op, start, sets, programs)));
    stats.programsWritten++;
    stats.opsWritten += ops.length;
  }

  // 2-4. Endpoint entries, flip, shadow.
  const next = prev.active === 0 ? 1 : 0;
  const epWrites: (readonly [string, string])[] = [];
  const epDeletes: number[] = [];
  for (const [iface, e] of Object.entries(endpoints)) {
    const old = prev.endpoints[iface];
    const same =
      old !== undefined &&
      old.ifindex === e.ifindex &&
      old.flags === e.flags &&
      STAGES.every((s) => old.programs[s] === e.programs[s]);
    if (same && strays === undefined) continue;
    const starts: Partial<Record<Stage, number>> = {};
    for (const stage of STAGES) {
      const name = e.programs[stage];
      if (name !== undefined) starts[stage] = programs[name]!.start;
    }
    epWrites.push([`${e.ifindex}`, epValHex(starts, e.flags)] as const);
  }
  const wanted = new Set(Object.values(endpoints).map((e) => e.ifindex));
  for (const old of Object.values(prev.endpoints)) if (!wanted.has(old.ifindex)) epDeletes.push(old.ifindex);
  const extraDeletes = (strays ?? []).filter(([idx]) => !wanted.has(idx) && !epDeletes.includes(idx));
  const anyEndpointChange = epWrites.length + epDeletes.length + extraDeletes.length > 0;
  const slotLines = (slot: number) => {
    for (const [idx, val] of epWrites) update('tabby_eps', epKeyHex(Number(idx), slot), val);
    for (const idx of epDeletes) remove('tabby_eps', epKeyHex(idx, slot));
  };
  if (anyEndpointChange) {
    slotLines(next);
    update('tabby_active', u32Hex(0), u32Hex(next));
    slotLines(prev.active);
    for (const [idx, slot] of extraDeletes) remove('tabby_eps', epKeyHex(idx, slot));
    stats.endpointsWritten = epWrites.length;
    stats.endpointsDeleted = epDeletes.length;
  }

  // 5. Garbage.
  for (const [name, s] of Object.entries(prev.sets)) {
    if (sets[name] !== undefined) continue;
    for (const k of s.keys) remove('tabby_sets', k);
    stats.setEntriesDeleted += s.keys.length;
  }
  for (const [name, p] of Object.entries(prev.programs))
    if (programs[name] === undefined) free.push([p.start, p.len]);

  return {
    lines,
    stats,
    state: {
      format: 2,
      active: anyEndpointChange ? next : prev.active,
      nextSetId,
      sets,
      programs,
      free: mergeFree(free),
      top: top.v,
      endpoints,
    },
  };
}

/** The program names of an endpoint's stages. */
export const namesOf = (programs: Readonly<Partial<Record<Stage, string>>>): string[] =>
  STAGES.flatMap((s) => programs[s] ?? []);

/**
 * Desired endpoints whose interface exists (one missing has no interface yet), by interface; a
 * '*' host endpoint takes every interface no endpoint names, except lo and workloads'.
 */
function endpointsOf(desired: EncodedPolicy, ifindex: ReadonlyMap<string, number>) {
  const endpoints: Record<string, EndpointState> = {};
  const entry = (idx: number, ep: EncodedEndpoint): EndpointState => ({
    ifindex: idx,
    programs: ep.programs,
    flags: ep.flags,
  });
  let star: EncodedEndpoint | undefined;
  for (const ep of desired.endpoints) {
    if (ep.interfaceName === '*') {
      star = ep;
      continue;
    }
    const idx = ifindex.get(ep.interfaceName);
    // A workload's interface stays the workload's (iptables dispatches it first).
    if (idx !== undefined && endpoints[ep.interfaceName] === undefined)
      endpoints[ep.interfaceName] = entry(idx, ep);
  }
  if (star !== undefined)
    for (const [name, idx] of [...ifindex].sort(([a], [b]) => (a < b ? -1 : 1)))
      if (name !== 'lo' && !name.startsWith(desired.workloadIfacePrefix) && endpoints[name] === undefined)
        endpoints[name] = entry(idx, star);
  return endpoints;
}

/** An op with its set id, absolute jump target, or called fragment and Pass target filled in. */
function link(
  op: OpTemplate,
  start: number,
  sets: Readonly<Record<string, { id: number }>>,
  programs: Readonly<Record<string, { start: number }>>,
) {
  if (op.set !== undefined) return { ...op, b: sets[op.set]!.id };
  if (op.jump !== undefined) return { ...op, b: start + op.jump };
  if (op.call !== undefined)
    return { ...op, b: programs[op.call]!.start, c: op.passTo === undefined ? 0 : start + op.passTo };
  return op;
}

/** Adjacent free ranges merged, sorted by start. */
function mergeFree(free: readonly (readonly [number, number])[]): [number, number][] {
  const out: [number, number][] = [];
  for (const [s, l] of [...free].sort((a, b) => a[0] - b[0])) {
    const last = out.at(-1);
    if (last !== undefined && last[0] + last[1] === s) last[1] += l;
    else out.push([s, l]);
  }
  return out;
}
