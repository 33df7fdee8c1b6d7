// Pure: a flow's first packet through the compiled maps, as a BPF policy program runs it: look up
// each address's endpoint in the endpoint map, run the source endpoint's egress array and the
// destination endpoint's ingress array from index 0 (a Pass is a jump), answering set matches
// from the hash maps. Reads only CompiledMaps; explain() is this over the nodes' maps.

import { anyContains } from '../../../model/net/cidr.js';
import type { Ip } from '../../../model/net/ip.js';
import type { FailsafePort } from '../../calc/index.js';
import {
  type CompiledEndpoint,
  type CompiledMaps,
  type Insn,
  type InsnRef,
  type MatchFields,
  type PortRange,
  protocolNumber,
  type SideFields,
} from './compile.js';
import type { Decision, Explanation, Flow, HostStage, RuleRef, SideExplanation } from './explanation.js';
import { maskedKey, parseAddress, probeKeys } from './lpm.js';

interface Packet {
  readonly src: Ip;
  readonly dst: Ip;
  readonly proto: number;
  readonly flow: Flow;
}

/** Hash sets built from a map's member lists on first use (the kernel map, in effect). */
const memberSets = new WeakMap<readonly string[], ReadonlySet<string>>();
function hashOf(members: readonly string[]): ReadonlySet<string> {
  let s = memberSets.get(members);
  if (s === undefined) {
    s = new Set(members);
    memberSets.set(members, s);
  }
  return s;
}

/** The endpoint index an address belongs to: the lowest index among all prefix hits. */
export function endpointIndexOf(maps: CompiledMaps, ip: Ip): number | undefined {
  let found: number | undefined;
  for (const key of probeKeys(maps.endpointPrefixLens, ip)) {
    if (!Object.hasOwn(maps.endpointByNet, key)) continue;
    const i = maps.endpointByNet[key]!;
    if (found === undefined || i < found) found = i;
  }
  return found;
}

/** The id of the endpoint owning an address text, if these maps hold one. */
export function endpointOf(maps: CompiledMaps, ipText: string): string | undefined {
  const ip = parseAddress(ipText);
  const i = ip === undefined ? undefined : endpointIndexOf(maps, ip);
  return i === undefined ? undefined : maps.endpoints[i]!.id;
}

function inNets(nets: readonly string[], ip: Ip): boolean {
  for (const n of nets) {
    const slash = n.lastIndexOf('/');
    const prefix = Number(n.slice(slash + 1));
    const v6 = n.includes(':');
    if (v6 === (ip.version === 6) && maskedKey(ip, prefix) === n) return true;
  }
  return false;
}

function inSet(maps: CompiledMaps, index: number, ip: Ip): boolean {
  const set = maps.ipSets[index];
  if (set === undefined) return false;
  const hash = hashOf(set.members);
  return probeKeys(set.prefixLens, ip).some((k) => hash.has(k));
}

function inNamedPortSet(maps: CompiledMaps, index: number, ip: Ip, port: number, proto: number): boolean {
  const set = maps.namedPortSets[index];
  if (set === undefined) return false;
  const hash = hashOf(set.members);
  if (set.proto === undefined)
    return probeKeys(set.prefixLens, ip).some((k) => hash.has(`${k},${proto},${port}`));
  if (set.proto !== proto) return false;
  return probeKeys(set.prefixLens, ip).some((k) => hash.has(`${k},${port}`));
}

const portIn = ([lo, hi]: PortRange, port: number): boolean => port >= lo && port <= hi;

function sideMatches(maps: CompiledMaps, m: SideFields, ip: Ip, port: number | undefined, proto: number) {
  if (m.nets.length > 0 && !inNets(m.nets, ip)) return false;
  if (m.notNets.length > 0 && inNets(m.notNets, ip)) return false;
  for (const s of m.sets) if (!inSet(maps, s, ip)) return false;
  for (const s of m.notSets) if (inSet(maps, s, ip)) return false;
  for (const s of m.ipPortSets)
    if (port === undefined || !inNamedPortSet(maps, s, ip, port, proto)) return false;
  if (m.ports.length + m.namedPorts.length > 0) {
    if (port === undefined) return false;
    if (
      !m.ports.some((p) => portIn(p, port)) &&
      !m.namedPorts.some((s) => inNamedPortSet(maps, s, ip, port, proto))
    )
      return false;
  }
  if (port !== undefined) {
    if (m.notPorts.some((p) => portIn(p, port))) return false;
    if (m.notNamedPorts.some((s) => inNamedPortSet(maps, s, ip, port, proto))) return false;
  }
  return true;
}

function matches(maps: CompiledMaps, m: MatchFields, pkt: Packet): boolean {
  if (m.ipVersion !== undefined && m.ipVersion !== pkt.src.version) return false;
  if (m.proto !== undefined && m.proto !== pkt.proto) return false;
  if (m.notProto !== undefined && m.notProto === pkt.proto) return false;
  const f = pkt.flow;
  if (m.icmpType !== undefined) {
    if (f.icmpType !== m.icmpType) return false;
    if (m.icmpCode !== undefined && f.icmpCode !== m.icmpCode) return false;
  }
  if (m.notIcmpType !== undefined && f.icmpType === m.notIcmpType) {
    if (m.notIcmpCode === undefined || f.icmpCode === m.notIcmpCode) return false;
  }
  return (
    sideMatches(maps, m.src, pkt.src, f.srcPort, pkt.proto) &&
    sideMatches(maps, m.dst, pkt.dst, f.dstPort, pkt.proto)
  );
}

function decision(ref: InsnRef, action: 'allow' | 'deny', stage?: HostStage): Decision {
  return ref.kind === 'policy'
    ? {
        kind: 'rule',
        action,
        tier: ref.tier,
        policy: ref.policy,
        ruleIndex: ref.ruleIndex,
        ...(stage === undefined ? {} : { stage }),
      }
    : { kind: 'profile', profile: ref.profile, ruleIndex: ref.ruleIndex, action };
}

/** A folded run's deciding rule: the first whose nets hold the packet's address on the run's side. */
function decidingRef(insn: Extract<Insn, { op: 'allow' | 'deny' }>, pkt: Packet): InsnRef {
  const run = insn.run;
  if (run === undefined) return insn.ref;
  const ip = run.side === 'src' ? pkt.src : pkt.dst;
  return run.parts.find((p) => inNets(p.nets, ip))?.ref ?? insn.ref;
}

/**
 * Runs one instruction array; jumps only go forward. A normal program ends in final-drop; a
 * host endpoint's doNotTrack / preDNAT program (a stage) may end with no verdict: undefined.
 */
function run(
  maps: CompiledMaps,
  endpoint: string,
  prog: readonly Insn[],
  pkt: Packet,
  logged: RuleRef[] = [],
  stage?: HostStage,
): SideExplanation | undefined {
  const done = (allowed: boolean, decidedBy: Decision): SideExplanation => ({
    allowed,
    endpoint,
    decidedBy,
    logged,
  });
  let pc = 0;
  while (pc < prog.length) {
    const insn = prog[pc]!;
    switch (insn.op) {
      case 'allow':
      case 'deny':
        if (matches(maps, insn.match, pkt))
          return done(insn.op === 'allow', decision(decidingRef(insn, pkt), insn.op, stage));
        break;
      case 'log':
        // Only policy log rules are recorded (a profile has no tier to name).
        if (insn.ref.kind === 'policy' && matches(maps, insn.match, pkt)) {
          const { tier, policy, ruleIndex } = insn.ref;
          logged.push({ tier, policy, ruleIndex });
        }
        break;
      case 'pass':
        if (matches(maps, insn.match, pkt)) {
          pc = insn.jump;
          continue;
        }
        break;
      case 'tier-end':
        if (insn.defaultAction === 'deny') return done(false, { kind: 'tier-end', tier: insn.tier });
        break;
      case 'profile-start':
        if (insn.missing) return done(false, { kind: 'profile-missing', profile: insn.profile });
        break;
      case 'final-drop':
        return done(false, { kind: 'default' });
    }
    pc++;
  }
  return stage === undefined ? done(false, { kind: 'default' }) : undefined;
}

function packetOf(flow: Flow): Packet {
  const src = parseAddress(flow.srcIp);
  const dst = parseAddress(flow.dstIp);
  if (src === undefined || dst === undefined)
    throw new TypeError('evaluateMaps: srcIp and dstIp must be IP addresses');
  return { src, dst, proto: protocolNumber(flow.protocol), flow };
}

/** A failsafe port list against the packet: inbound/outbound lists match the destination port. */
function failsafeMatch(
  ports: readonly FailsafePort[],
  proto: number,
  port: number | undefined,
  peer: Ip,
): FailsafePort | undefined {
  if (port === undefined) return undefined;
  return ports.find(
    (f) =>
      protocolNumber(f.protocol) === proto &&
      f.port === port &&
      (f.net === undefined || anyContains([f.net], peer)),
  );
}

/** One side, as Felix's host path runs it: a host endpoint's failsafe ports, doNotTrack and preDNAT first. */
function side(
  maps: CompiledMaps,
  pkt: Packet,
  dir: 'ingress' | 'egress',
  ep: CompiledEndpoint | undefined,
): SideExplanation {
  if (ep === undefined) return { allowed: true, decidedBy: { kind: 'unmanaged' }, logged: [] };
  const logged: RuleRef[] = [];
  if (ep.host !== undefined) {
    const cfg = maps.hostConfig;
    const f = pkt.flow;
    const [peer, inbound, outbound] =
      dir === 'ingress'
        ? [pkt.src, cfg.failsafeInbound, cfg.failsafeOutbound]
        : [pkt.dst, cfg.failsafeOutbound, cfg.failsafeInbound];
    const failsafe = failsafeMatch(inbound, pkt.proto, f.dstPort, peer);
    if (failsafe === undefined && failsafeMatch(outbound, pkt.proto, f.srcPort, peer) === undefined) {
      const prog = dir === 'ingress' ? ep.host.untrackedIngress : ep.host.untrackedEgress;
      const r = run(maps, ep.id, prog, pkt, logged, 'untracked');
      if (r !== undefined) return r;
    }
    if (failsafe !== undefined)
      return {
        allowed: true,
        endpoint: ep.id,
        decidedBy: {
          kind: 'failsafe',
          direction: dir === 'ingress' ? 'inbound' : 'outbound',
          protocol: failsafe.protocol,
          port: failsafe.port,
        },
        logged,
      };
    if (dir === 'ingress') {
      const r = run(maps, ep.id, ep.host.preDNATIngress, pkt, logged, 'preDNAT');
      if (r !== undefined) return r;
    }
  }
  return run(maps, ep.id, ep[dir], pkt, logged)!;
}

/** The flow through one set of maps: egress of the source's endpoint, ingress of the destination's. */
export function evaluateMaps(maps: CompiledMaps, flow: Flow): Explanation {
  return evaluateAcross(maps, maps, flow);
}

/**
 * The flow across two nodes: egress policy from the source node's maps, ingress policy from the
 * destination node's (each node's maps hold only its own endpoints).
 */
export function evaluateAcross(egressMaps: CompiledMaps, ingressMaps: CompiledMaps, flow: Flow): Explanation {
  const pkt = packetOf(flow);
  const si = endpointIndexOf(egressMaps, pkt.src);
  const di = endpointIndexOf(ingressMaps, pkt.dst);
  const a = si === undefined ? undefined : egressMaps.endpoints[si];
  const b = di === undefined ? undefined : ingressMaps.endpoints[di];
  // Each node's maps hold only its own endpoints: two found endpoints share a node when the
  // maps are one node's.
  const sameNode =
    a !== undefined &&
    b !== undefined &&
    (egressMaps === ingressMaps || (egressMaps.node !== undefined && egressMaps.node === ingressMaps.node));
  if (sameNode && a.kind === 'host' && b.kind === 'workload') {
    const free = (endpoint: string): SideExplanation => ({
      allowed: true,
      endpoint,
      decidedBy: { kind: 'host-to-workload' },
      logged: [],
    });
    return { verdict: 'allow', egress: free(a.id), ingress: free(b.id) };
  }
  const egress = side(egressMaps, pkt, 'egress', a);
  let ingress: SideExplanation;
  if (sameNode && a.kind === 'workload' && b.kind === 'host') {
    const action = ingressMaps.hostConfig.endpointToHostAction;
    ingress = {
      allowed: action !== 'drop',
      endpoint: b.id,
      decidedBy: { kind: 'endpoint-to-host', action },
      logged: [],
    };
  } else ingress = side(ingressMaps, pkt, 'ingress', b);
  return { verdict: egress.allowed && ingress.allowed ? 'allow' : 'deny', egress, ingress };
}
