// The decision the dataplane encodes for a new flow, as a procedure (felix/rules/endpoints.go
// and policy.go semantics): the source endpoint's egress plan and the destination endpoint's
// ingress plan, each walked tiers -> policies -> rules, then profiles. Both must allow.
// Established/related traffic (accepted before policy) is not modelled: this is the first packet.
// Host endpoints (the endpoint owning an address by its expectedIPs) follow Felix's host path:
// failsafe ports first, then doNotTrack (raw), preDNAT (ingress, mangle), then normal policy;
// a workload reaching a host endpoint of its own node meets DefaultEndpointToHostAction instead
// of that endpoint's ingress policy, and host → local workload traffic is not policed at all.
// Policy applied to traffic forwarded through a host interface (applyOnForward) is not modelled:
// which interface a flow leaves by is a routing question.

import { anyContains } from '../../model/net/cidr.js';
import { type Ip, parseIp } from '../../model/net/ip.js';
import { type ModelPort, selectorOf } from '../../model/values/policy.js';
import type { EndpointPlan, TierPlan } from './endpoint-plan.js';
import type { FailsafePort } from './host-config.js';
import type { PolicyCalculator } from './policy-calculator.js';
import type { NamedPortMatch, ParsedRule, SideMatch } from './rule-scan.js';
import { serviceOfSetId } from './service-index.js';

export interface Flow {
  readonly srcIp: string;
  readonly dstIp: string;
  /** A name (tcp, udp, icmp, icmpv6, sctp, udplite; any case) or a number. */
  readonly protocol: string | number;
  readonly dstPort?: number;
  /** Rules with source ports never match a flow without one. */
  readonly srcPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export interface RuleRef {
  readonly tier: string;
  readonly policy: string;
  readonly ruleIndex: number;
}

/** Where a host endpoint's policy ran: raw (doNotTrack) or mangle (preDNAT); absent = normal. */
export type HostStage = 'untracked' | 'preDNAT';

export type Decision =
  /** A policy rule allowed or denied. */
  | ({ readonly kind: 'rule'; readonly action: 'allow' | 'deny'; readonly stage?: HostStage } & RuleRef)
  /** A failsafe port of a host endpoint: allowed before any policy. */
  | {
      readonly kind: 'failsafe';
      readonly direction: 'inbound' | 'outbound';
      readonly protocol: string;
      readonly port: number;
    }
  /** Workload → a host endpoint of its own node: DefaultEndpointToHostAction decides. */
  | { readonly kind: 'endpoint-to-host'; readonly action: 'drop' | 'accept' | 'return' }
  /** Host → a workload of the same node: Felix polices neither side. */
  | { readonly kind: 'host-to-workload' }
  /** A tier whose policies applied ended without a verdict or Pass: its default action (deny). */
  | { readonly kind: 'tier-end'; readonly tier: string }
  /** A profile rule allowed or denied. */
  | {
      readonly kind: 'profile';
      readonly profile: string;
      readonly ruleIndex: number;
      readonly action: 'allow' | 'deny';
    }
  /** The endpoint lists a profile that does not exist: Felix drops everything there. */
  | { readonly kind: 'profile-missing'; readonly profile: string }
  /** Nothing allowed: the final drop of the endpoint chain. */
  | { readonly kind: 'default' }
  /** The address is not a known endpoint, so no policy applies on this side. */
  | { readonly kind: 'unmanaged' };

export interface SideExplanation {
  readonly allowed: boolean;
  /** The endpoint whose policy decided (model key), if the address belongs to one. */
  readonly endpoint?: string;
  readonly decidedBy: Decision;
  /** Log rules the packet passed on the way (tier, policy, rule index). */
  readonly logged: readonly RuleRef[];
}

export interface Explanation {
  readonly verdict: 'allow' | 'deny';
  readonly egress: SideExplanation;
  readonly ingress: SideExplanation;
}

const PROTOCOLS: Readonly<Record<string, number>> = {
  tcp: 6,
  udp: 17,
  icmp: 1,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

function protocolNumber(p: string | number): number {
  if (typeof p === 'number') return p;
  return PROTOCOLS[p.toLowerCase()] ?? (/^\d+$/.test(p) ? Number(p) : -1);
}

interface Packet {
  readonly src: Ip;
  readonly dst: Ip;
  readonly proto: number;
  readonly flow: Flow;
}

export function explain(calc: PolicyCalculator, flow: Flow): Explanation {
  const src = parseIp(flow.srcIp, 'lenient');
  const dst = parseIp(flow.dstIp, 'lenient');
  if (src === undefined || dst === undefined)
    throw new TypeError('explain: srcIp and dstIp must be IP addresses');
  const pkt: Packet = { src, dst, proto: protocolNumber(flow.protocol), flow };
  const srcEp = endpointWith(calc, src);
  const dstEp = endpointWith(calc, dst);
  const a = srcEp === undefined ? undefined : calc.model.endpoints.get(srcEp);
  const b = dstEp === undefined ? undefined : calc.model.endpoints.get(dstEp);
  const sameNode = a !== undefined && b !== undefined && a.node === b.node;
  if (sameNode && a.kind === 'host' && b.kind === 'workload') {
    const free = (endpoint: string): SideExplanation => ({
      allowed: true,
      endpoint,
      decidedBy: { kind: 'host-to-workload' },
      logged: [],
    });
    return { verdict: 'allow', egress: free(a.id), ingress: free(b.id) };
  }
  const egress = side(calc, pkt, 'egress', srcEp);
  const ingress =
    sameNode && a.kind === 'workload' && b.kind === 'host'
      ? endpointToHost(calc, b.id)
      : side(calc, pkt, 'ingress', dstEp);
  return { verdict: egress.allowed && ingress.allowed ? 'allow' : 'deny', egress, ingress };
}

function endpointToHost(calc: PolicyCalculator, endpoint: string): SideExplanation {
  const action = calc.hostConfig.endpointToHostAction;
  return {
    allowed: action !== 'drop',
    endpoint,
    decidedBy: { kind: 'endpoint-to-host', action },
    logged: [],
  };
}

/** A failsafe port list against the packet: inbound/outbound lists match the destination port. */
export function failsafeMatch(
  ports: readonly FailsafePort[],
  proto: number,
  port: number | undefined,
  peer: Ip,
): FailsafePort | undefined {
  if (port === undefined) return undefined;
  return ports.find(
    (f) =>
      PROTOCOLS[f.protocol] === proto &&
      f.port === port &&
      (f.net === undefined || anyContains([f.net], peer)),
  );
}

/** The endpoint owning an address (the first by id if several claim it). */
function endpointWith(calc: PolicyCalculator, ip: Ip): string | undefined {
  let found: string | undefined;
  for (const ep of calc.model.endpoints.values())
    if (anyContains(ep.nets, ip) && (found === undefined || ep.id < found)) found = ep.id;
  return found;
}

function side(
  calc: PolicyCalculator,
  pkt: Packet,
  dir: 'ingress' | 'egress',
  endpoint: string | undefined,
): SideExplanation {
  const plan: EndpointPlan | undefined = endpoint === undefined ? undefined : calc.planFor(endpoint);
  if (plan === undefined) return { allowed: true, decidedBy: { kind: 'unmanaged' }, logged: [] };
  const logged: RuleRef[] = [];
  const done = (allowed: boolean, decidedBy: Decision): SideExplanation => ({
    allowed,
    endpoint: plan.id,
    decidedBy,
    logged,
  });
  if (plan.host !== undefined) {
    const cfg = calc.hostConfig;
    const f = pkt.flow;
    const [peer, inbound, outbound] =
      dir === 'ingress'
        ? [pkt.src, cfg.failsafeInbound, cfg.failsafeOutbound]
        : [pkt.dst, cfg.failsafeOutbound, cfg.failsafeInbound];
    const failsafe = failsafeMatch(inbound, pkt.proto, f.dstPort, peer);
    // raw: the failsafe chain also passes replies of the opposite direction's failsafe flows
    // (by source port) so they are never half untracked; then doNotTrack policy.
    const rawFailsafe = failsafe ?? failsafeMatch(outbound, pkt.proto, f.srcPort, peer);
    if (rawFailsafe === undefined) {
      const d = walkTiers(calc, plan.host.untracked[dir], dir, pkt, logged, 'untracked');
      if (d !== undefined) return done(d.kind === 'rule' && d.action === 'allow', d);
    }
    if (failsafe !== undefined)
      return done(true, {
        kind: 'failsafe',
        direction: dir === 'ingress' ? 'inbound' : 'outbound',
        protocol: failsafe.protocol,
        port: failsafe.port,
      });
    if (dir === 'ingress') {
      const d = walkTiers(calc, plan.host.preDNAT.ingress, dir, pkt, logged, 'preDNAT');
      if (d !== undefined) return done(d.kind === 'rule' && d.action === 'allow', d);
    }
  }
  const d = walkTiers(calc, plan[dir].tiers, dir, pkt, logged, undefined);
  if (d !== undefined) return done(d.kind === 'rule' && d.action === 'allow', d);
  for (const profile of plan[dir].profiles) {
    const program = calc.profileProgram(profile);
    if (program === undefined) return done(false, { kind: 'profile-missing', profile });
    const rules = dir === 'ingress' ? program.inbound : program.outbound;
    for (const [ruleIndex, rule] of rules.entries()) {
      if (!ruleMatches(calc, rule, pkt)) continue;
      if (rule.action === 'allow' || rule.action === 'deny')
        return done(rule.action === 'allow', { kind: 'profile', profile, ruleIndex, action: rule.action });
      if (rule.action === 'next-tier') break; // on to the next profile
    }
  }
  return done(false, { kind: 'default' });
}

/**
 * Runs tiers in order: the first allow/deny rule, or a tier-end drop, decides; undefined when
 * every tier passed or ended with 'pass' (on to what follows).
 */
function walkTiers(
  calc: PolicyCalculator,
  tiers: readonly TierPlan[],
  dir: 'ingress' | 'egress',
  pkt: Packet,
  logged: RuleRef[],
  stage: HostStage | undefined,
): Decision | undefined {
  for (const tier of tiers) {
    let passed = false;
    policies: for (const pol of tier.policies) {
      const program = calc.policyProgram(pol.id);
      const rules = (dir === 'ingress' ? program?.inbound : program?.outbound) ?? [];
      for (const [ruleIndex, rule] of rules.entries()) {
        if (!ruleMatches(calc, rule, pkt)) continue;
        const ref = { tier: tier.name, policy: pol.id, ruleIndex };
        if (rule.action === 'allow' || rule.action === 'deny')
          return { kind: 'rule', action: rule.action, ...ref, ...(stage === undefined ? {} : { stage }) };
        if (rule.action === 'log') logged.push(ref);
        else {
          passed = true; // next-tier: skip the rest of this tier
          break policies;
        }
      }
    }
    if (!passed && tier.defaultAction === 'deny') return { kind: 'tier-end', tier: tier.name };
  }
  return undefined;
}

export function ruleMatches(calc: PolicyCalculator, rule: ParsedRule, pkt: Packet): boolean {
  if (rule.ipVersion !== undefined && rule.ipVersion !== pkt.src.version) return false;
  if (rule.protocol !== undefined && protocolNumber(rule.protocol) !== pkt.proto) return false;
  if (rule.notProtocol !== undefined && protocolNumber(rule.notProtocol) === pkt.proto) return false;
  const f = pkt.flow;
  if (rule.icmpType !== undefined) {
    if (f.icmpType !== rule.icmpType) return false;
    if (rule.icmpCode !== undefined && f.icmpCode !== rule.icmpCode) return false;
  }
  if (rule.notIcmpType !== undefined && f.icmpType === rule.notIcmpType) {
    if (rule.notIcmpCode === undefined || f.icmpCode === rule.notIcmpCode) return false;
  }
  return (
    sideMatches(calc, rule.src, pkt.src, f.srcPort, pkt.proto) &&
    sideMatches(calc, rule.dst, pkt.dst, f.dstPort, pkt.proto)
  );
}

function sideMatches(calc: PolicyCalculator, m: SideMatch, ip: Ip, port: number | undefined, proto: number) {
  if (m.nets.length > 0 && !anyContains(m.nets, ip)) return false;
  if (m.notNets.length > 0 && anyContains(m.notNets, ip)) return false;
  for (const id of m.ipSets) if (!inSet(calc, id, ip)) return false;
  for (const id of m.notIpSets) if (inSet(calc, id, ip)) return false;
  for (const id of m.ipPortSets ?? []) if (!serviceHas(calc, id, ip, port, proto)) return false;
  // Numeric and named ports together form one OR'd list.
  if (m.ports.length + m.namedPorts.length > 0) {
    if (port === undefined) return false;
    if (
      !m.ports.some((p) => portIn(p, port)) &&
      !m.namedPorts.some((n) => namedPortIs(calc, n, ip, port, proto))
    )
      return false;
  }
  if (port !== undefined) {
    if (m.notPorts.some((p) => portIn(p, port))) return false;
    if (m.notNamedPorts.some((n) => namedPortIs(calc, n, ip, port, proto))) return false;
  }
  return true;
}

/** Active sets answer from their members; others (remote endpoints' policies) on demand. */
function inSet(calc: PolicyCalculator, id: string, ip: Ip): boolean {
  return calc.ipSetContains(id, ip);
}

/** A destination-service set holds (address, protocol, port) of the service's slices. */
function serviceHas(calc: PolicyCalculator, id: string, ip: Ip, port: number | undefined, proto: number) {
  const svc = serviceOfSetId(id);
  if (svc === undefined || port === undefined) return false;
  return calc
    .servicePorts(svc.service)
    .some((m) => m.port === port && PROTOCOLS[m.protocol] === proto && anyContains([m.net], ip));
}

function portIn(p: ModelPort, port: number): boolean {
  if (typeof p === 'number') return p === port;
  const [lo, hi] = p.split(':').map(Number);
  return lo !== undefined && hi !== undefined && port >= lo && port <= hi;
}

/**
 * A named port matches if an endpoint owning the address, selected by the rule's selector
 * for that side, declares a port of that name and protocol with this number (what Felix's
 * hash:ip,port named-port sets hold).
 */
function namedPortIs(
  calc: PolicyCalculator,
  n: NamedPortMatch,
  ip: Ip,
  port: number,
  proto: number,
): boolean {
  if (PROTOCOLS[n.protocol] !== proto) return false;
  const sel = selectorOf(n.selector);
  for (const ep of calc.model.endpoints.values()) {
    if (!anyContains(ep.nets, ip)) continue;
    if (!ep.ports.some((p) => p.name === n.name && p.protocol === n.protocol && p.port === port)) continue;
    if (sel.evaluate(calc.labelsOf(ep.id) ?? ep.labels)) return true;
  }
  return false;
}
