// Pure: CompiledMaps (maps/compile.ts) as bpf/policy.c runs them. Each endpoint's instruction
// arrays (two for a workload, up to seven stages for a host endpoint: host-stages.ts) become
// fixed-size ops; every address list an op tests (IP sets, a rule's
// nets, named-port and service sets) becomes a set of LPM entries. Programs and sets are named
// by a hash of their content, so identical ones (most endpoints share their programs) are
// stored once and an unchanged one is never written again; ops refer to sets by that name
// until plan.ts gives them kernel ids.

import { createHash } from 'node:crypto';
import { netOf } from '../../../model/net/cidr.js';
import type { HostPolicyConfig } from '../../calc/index.js';
import type {
  CompiledEndpoint,
  CompiledMaps,
  Insn,
  InsnRef,
  MatchFields,
  SideFields,
} from '../maps/compile.js';
import { byInterface } from '../rules/host-layout.js';
import { hostStages } from './host-stages.js';
import { ACT, ANY_CODE, EP_FLAG, FLAG, OP, type SetEntry, type Stage } from './layout.js';

/**
 * An op before linking: `set` names the set whose id goes in b; `jump` is an op index in the
 * program; `call` names the fragment whose start goes in b, `passTo` the op index (in this
 * program) its Pass goes to, in c.
 */
export interface OpTemplate {
  readonly code: number;
  readonly flags: number;
  readonly a: number;
  readonly b: number;
  readonly set?: string;
  readonly jump?: number;
  readonly call?: string;
  readonly passTo?: number;
}

export interface EncodedEndpoint {
  readonly id: string;
  /** '*' for a host endpoint on every interface no other endpoint names (not lo). */
  readonly interfaceName: string;
  /** Program names (keys of EncodedPolicy.programs) per stage; tcIn and tcOut always. */
  readonly programs: Readonly<Partial<Record<Stage, string>>>;
  /** ep_val.flags (layout.ts EP_FLAG). */
  readonly flags: number;
}

export interface EncodedPolicy {
  readonly endpoints: readonly EncodedEndpoint[];
  readonly programs: ReadonlyMap<string, readonly OpTemplate[]>;
  readonly sets: ReadonlyMap<string, readonly SetEntry[]>;
  /** What the kernel program does not enforce, for the log. */
  readonly warnings: readonly string[];
  /** Interfaces with this prefix are workloads' ('*' host endpoints leave them alone). */
  readonly workloadIfacePrefix: string;
}

export interface EncodeOptions {
  /** Felix's InterfacePrefix; default 'cali'. */
  readonly workloadIfacePrefix?: string;
}

/** Set names by compiled member list object (see Encoder.#named). */
const NAME_OF = new WeakMap<readonly string[], string>();

const digest = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 24);

function entryOf(net: string, port: number, proto: number): SetEntry | undefined {
  const c = netOf(net);
  if (c === undefined || proto < 0 || proto > 255) return undefined;
  const len = c.version === 4 ? 4 : 16;
  const bytes = Array.from({ length: len }, (_, i) => Number((c.addr >> BigInt(8 * (len - 1 - i))) & 0xffn));
  return { family: c.version, addr: bytes, prefix: c.prefix, port, proto };
}

export class Encoder {
  readonly sets = new Map<string, readonly SetEntry[]>();
  readonly programs = new Map<string, readonly OpTemplate[]>();
  /** Set names by what they were made from: a big set is sorted and hashed once, not per rule. */
  readonly #byNets = new Map<string, string>();
  readonly #byIpSet = new Map<number, string>();
  readonly #byPortSet = new Map<number, string>();

  /** `known`: entries of sets encoded before (by name), not parsed again. */
  constructor(
    private readonly maps: CompiledMaps,
    private readonly known?: ReadonlyMap<string, readonly SetEntry[]>,
  ) {}

  /** Interns a set by content; `entries` is called only for a set not seen yet. */
  setOf(kind: string, text: string, entries: () => readonly (SetEntry | undefined)[]): string {
    return this.#intern(`${kind}:${digest(text)}`, entries);
  }

  #intern(name: string, entries: () => readonly (SetEntry | undefined)[]): string {
    if (!this.sets.has(name))
      this.sets.set(name, this.known?.get(name) ?? entries().filter((e): e is SetEntry => e !== undefined));
    return name;
  }

  /** A compiled set's name by its (immutable) member list: hashed once per list object. */
  #named(members: readonly string[], name: () => string, entries: () => readonly (SetEntry | undefined)[]) {
    const known = NAME_OF.get(members);
    if (known !== undefined) return this.#intern(known, entries);
    const n = name();
    NAME_OF.set(members, n);
    return n;
  }

  netsSet(nets: readonly string[]): string {
    const key = nets.join(' ');
    let name = this.#byNets.get(key);
    if (name === undefined) {
      const sorted = [...new Set(nets)].sort();
      name = this.setOf('nets', sorted.join(' '), () => sorted.map((n) => entryOf(n, 0, 0)));
      this.#byNets.set(key, name);
    }
    return name;
  }

  ipSet(index: number): string {
    let name = this.#byIpSet.get(index);
    if (name === undefined) {
      const members = this.maps.ipSets[index]?.members ?? [];
      // Canonical members are unique and sorted: netsSet names them as they are.
      name = this.#named(
        members,
        () => this.netsSet(members),
        () => members.map((n) => entryOf(n, 0, 0)),
      );
      this.#byIpSet.set(index, name);
    }
    return name;
  }

  portSet(index: number): string {
    let name = this.#byPortSet.get(index);
    if (name !== undefined) return name;
    const set = this.maps.namedPortSets[index];
    if (set === undefined) name = this.setOf('ports', '', () => []);
    else {
      const entries = () =>
        set.members.map((m) => {
          const parts = m.split(',');
          return set.proto === undefined
            ? entryOf(parts[0]!, Number(parts[2]), Number(parts[1]))
            : entryOf(parts[0]!, Number(parts[1]), set.proto);
        });
      // The same member list always comes with the same protocol (compileMaps keys it by set).
      name = this.#named(
        set.members,
        () => this.setOf('ports', `${set.proto ?? '*'} ${set.members.join(' ')}`, entries),
        entries,
      );
    }
    this.#byPortSet.set(index, name);
    return name;
  }

  side(out: OpTemplate[], s: SideFields, dst: boolean): void {
    const f = dst ? FLAG.dst : 0;
    const setOp = (flags: number, set: string, code: number = OP.set) =>
      out.push({ code, flags, a: 0, b: 0, set });
    if (s.nets.length > 0) setOp(f, this.netsSet(s.nets));
    if (s.notNets.length > 0) setOp(f | FLAG.neg, this.netsSet(s.notNets));
    for (const i of s.sets) setOp(f, this.ipSet(i));
    for (const i of s.notSets) setOp(f | FLAG.neg, this.ipSet(i));
    for (const i of s.ipPortSets) setOp(f, this.portSet(i), OP.service);
    if (s.ports.length + s.namedPorts.length > 0) {
      out.push({ code: OP.portsBegin, flags: f, a: 0, b: 0 });
      for (const [lo, hi] of s.ports) out.push({ code: OP.portRange, flags: f, a: lo, b: hi });
      for (const i of s.namedPorts) setOp(f, this.portSet(i), OP.namedPort);
      out.push({ code: OP.portsEnd, flags: f, a: 0, b: 0 });
    }
    for (const [lo, hi] of s.notPorts) out.push({ code: OP.portRange, flags: f | FLAG.neg, a: lo, b: hi });
    for (const i of s.notNamedPorts) setOp(f | FLAG.neg, this.portSet(i), OP.namedPort);
  }

  terms(out: OpTemplate[], m: MatchFields): void {
    const proto = (p: number) => (p >= 0 && p <= 255 ? p : 0xffff);
    if (m.ipVersion !== undefined) out.push({ code: OP.ipVersion, flags: 0, a: m.ipVersion, b: 0 });
    if (m.proto !== undefined) out.push({ code: OP.proto, flags: 0, a: proto(m.proto), b: 0 });
    if (m.notProto !== undefined) out.push({ code: OP.proto, flags: FLAG.neg, a: proto(m.notProto), b: 0 });
    if (m.icmpType !== undefined)
      out.push({ code: OP.icmp, flags: 0, a: m.icmpType, b: m.icmpCode ?? ANY_CODE });
    if (m.notIcmpType !== undefined)
      out.push({ code: OP.icmp, flags: FLAG.neg, a: m.notIcmpType, b: m.notIcmpCode ?? ANY_CODE });
    this.side(out, m.src, false);
    this.side(out, m.dst, true);
  }

  /** Rules as a fragment: each a RULE, its terms and an ACTION (a Pass goes where the call says), then RET. */
  fragment(rules: readonly Insn[]): string {
    const out: OpTemplate[] = [];
    for (const insn of rules) {
      if (!('match' in insn)) continue;
      const rule = out.push({ code: OP.rule, flags: 0, a: 0, b: 0 }) - 1;
      this.terms(out, insn.match);
      out.push({ code: OP.action, flags: ACT[insn.op], a: 0, b: 0 });
      // A failed term goes on with the next rule.
      out[rule] = { ...out[rule]!, jump: out.length };
    }
    out.push({ code: OP.ret, flags: 0, a: 0, b: 0 });
    const name = `frag:${digest(JSON.stringify(out))}`;
    if (!this.programs.has(name)) this.programs.set(name, out);
    return name;
  }

  /**
   * One instruction array as ops; returns the program's name. Each run of rules from one policy
   * (in one tier) or one profile is a fragment of its own, called from the program: a policy
   * edit then writes the policy's fragment and the small calling programs, not every program
   * holding the policy whole.
   */
  program(insns: readonly Insn[]): string {
    const out: OpTemplate[] = [];
    const start: number[] = [];
    const calls: { at: number; insn: number }[] = [];
    let i = 0;
    while (i < insns.length) {
      const insn = insns[i]!;
      if ('ref' in insn) {
        const source = sourceOf(insn.ref);
        let j = i;
        while (j < insns.length && sourceOf((insns[j] as { ref?: InsnRef }).ref) === source) {
          start.push(out.length);
          j++;
        }
        const run = insns.slice(i, j);
        const at = out.push({ code: OP.call, flags: 0, a: 0, b: 0, call: this.fragment(run) }) - 1;
        // Every Pass of a tier (or a profile) goes to the same place: the next one's start.
        const pass = run.find((r) => r.op === 'pass');
        if (pass?.op === 'pass') calls.push({ at, insn: pass.jump });
        i = j;
        continue;
      }
      start.push(out.length);
      switch (insn.op) {
        case 'tier-end':
          out.push({ code: OP.tierEnd, flags: insn.defaultAction === 'deny' ? 1 : 0, a: 0, b: 0 });
          break;
        case 'profile-start':
          if (insn.missing) out.push({ code: OP.drop, flags: 0, a: 0, b: 0 });
          break;
        case 'final-drop':
          out.push({ code: OP.drop, flags: 0, a: 0, b: 0 });
          break;
      }
      i++;
    }
    start.push(out.length);
    if (insns.at(-1)?.op !== 'final-drop') out.push({ code: OP.end, flags: 0, a: 0, b: 0 });
    for (const c of calls) out[c.at] = { ...out[c.at]!, passTo: start[c.insn] ?? start.at(-1)! };
    const name = `prog:${digest(JSON.stringify(out))}`;
    if (!this.programs.has(name)) this.programs.set(name, out);
    return name;
  }
}

/** Which policy (in which tier) or profile a rule comes from. */
const sourceOf = (ref: InsnRef | undefined): string | undefined =>
  ref === undefined ? undefined : ref.kind === 'policy' ? `p ${ref.tier} ${ref.policy}` : `r ${ref.profile}`;

/** One endpoint's programs per stage, encoded into `enc`. */
export function stagePrograms(
  enc: Encoder,
  ep: CompiledEndpoint,
  cfg: HostPolicyConfig,
): Partial<Record<Stage, string>> {
  // tc ingress on the host side of a veth is what the workload sends.
  if (ep.kind === 'workload') return { tcIn: enc.program(ep.egress), tcOut: enc.program(ep.ingress) };
  const programs: Partial<Record<Stage, string>> = {};
  for (const [stage, insns] of Object.entries(hostStages(ep, cfg)))
    if (insns !== undefined) programs[stage as Stage] = enc.program(insns);
  return programs;
}

/** An endpoint with its encoded programs, before interfaces are assigned. */
export interface EndpointPrograms {
  readonly id: string;
  readonly kind: 'workload' | 'host';
  readonly interfaceName: string;
  readonly programs: Partial<Record<Stage, string>>;
}

/**
 * The endpoint entries, workloads (in the order given: by id) then one host endpoint per
 * interface, chosen as the iptables layout chooses; its warnings go to `warnings`.
 */
export function assignInterfaces(
  eps: readonly EndpointPrograms[],
  cfg: HostPolicyConfig,
  warnings: string[],
): EncodedEndpoint[] {
  const toHostDrop = cfg.endpointToHostAction === 'drop' ? EP_FLAG.toHostDrop : 0;
  const out: EncodedEndpoint[] = eps
    .filter((e) => e.kind === 'workload')
    .map((e) => ({ id: e.id, interfaceName: e.interfaceName, programs: e.programs, flags: toHostDrop }));
  const { named, star } = byInterface(
    eps.filter((e) => e.kind === 'host'),
    warnings,
  );
  for (const [iface, e] of [...named, ...(star === undefined ? [] : [['*', star] as const])])
    out.push({ id: e.id, interfaceName: iface, programs: e.programs, flags: EP_FLAG.host });
  return out;
}

export function encodePolicy(maps: CompiledMaps, options: EncodeOptions = {}): EncodedPolicy {
  const enc = new Encoder(maps);
  const warnings: string[] = [];
  const eps = maps.endpoints.map((ep) => ({
    id: ep.id,
    kind: ep.kind,
    interfaceName: ep.interfaceName,
    programs: stagePrograms(enc, ep, maps.hostConfig),
  }));
  return {
    endpoints: assignInterfaces(eps, maps.hostConfig, warnings),
    programs: enc.programs,
    sets: enc.sets,
    warnings,
    workloadIfacePrefix: options.workloadIfacePrefix ?? 'cali',
  };
}
