// Pure: a host endpoint's instruction arrays per bpf stage (layout.ts STAGES), built so that
// bpf/policy.c running them in order gives the verdicts of the iptables layout
// (rules/host-layout.ts): failsafe ports are rules in front of the normal and preDNAT programs
// (allow) and in front of the doNotTrack programs (a Pass to the end: the stage gives no verdict
// and conntrack takes over, as a raw-table ACCEPT does). A stage with no policy has no program.

import type { FailsafePort, HostPolicyConfig } from '../../calc/index.js';
import {
  type CompiledEndpoint,
  type Insn,
  type MatchFields,
  protocolNumber,
  type SideFields,
} from '../maps/compile.js';
import { canonicalNet } from '../maps/lpm.js';
import type { Stage } from './layout.js';

const EMPTY_SIDE: SideFields = {
  nets: [],
  notNets: [],
  sets: [],
  notSets: [],
  ports: [],
  notPorts: [],
  namedPorts: [],
  notNamedPorts: [],
  ipPortSets: [],
};

type Side = 'src' | 'dst';

/** One failsafe port as a match: `port` on the port side, its net (if any) on the peer side. */
function failsafeMatch(f: FailsafePort, portSide: Side, peerSide: Side): MatchFields | undefined {
  const net = f.net === undefined ? undefined : canonicalNet(f.net);
  if (f.net !== undefined && net === undefined) return undefined; // matches nothing
  const side = (s: Side): SideFields => ({
    ...EMPTY_SIDE,
    ...(s === portSide ? { ports: [[f.port, f.port] as const] } : {}),
    ...(s === peerSide && net !== undefined ? { nets: [net] } : {}),
  });
  return { proto: protocolNumber(f.protocol), src: side('src'), dst: side('dst') };
}

/** Failsafe rules: 'allow', or 'pass' to the end of a program `total` insns long (set later). */
function failsafeRules(ports: readonly FailsafePort[], portSide: Side, peerSide: Side, op: 'allow' | 'pass') {
  const out: Insn[] = [];
  for (const [ruleIndex, f] of ports.entries()) {
    const match = failsafeMatch(f, portSide, peerSide);
    if (match === undefined) continue;
    const ref = { kind: 'profile', profile: `failsafe:${f.protocol}:${f.port}`, ruleIndex } as const;
    out.push(op === 'allow' ? { op, match, ref } : { op, match, ref, jump: -1 });
  }
  return out;
}

/** `prefix` in front of `rest` (whose jumps move along); a prefix Pass goes to the very end. */
function prepend(prefix: readonly Insn[], rest: readonly Insn[]): Insn[] {
  const total = prefix.length + rest.length;
  return [
    ...prefix.map((i) => (i.op === 'pass' ? { ...i, jump: total } : i)),
    ...rest.map((i) => (i.op === 'pass' ? { ...i, jump: i.jump + prefix.length } : i)),
  ];
}

export function hostStages(ep: CompiledEndpoint, cfg: HostPolicyConfig): Partial<Record<Stage, Insn[]>> {
  const h = ep.host;
  if (h === undefined) throw new TypeError(`hostStages: ${ep.id} is not a host endpoint`);
  const { failsafeInbound: fin, failsafeOutbound: fout } = cfg;
  const out: Partial<Record<Stage, Insn[]>> = {
    // filter INPUT / OUTPUT: failsafes, then tiers, profiles and the final drop.
    tcIn: prepend(failsafeRules(fin, 'dst', 'src', 'allow'), ep.ingress),
    tcOut: prepend(failsafeRules(fout, 'dst', 'dst', 'allow'), ep.egress),
  };
  // raw: failsafe flows, and replies of the other direction's, skip doNotTrack policy.
  if (h.untrackedIngress.length > 0)
    out.rawIn = prepend(
      [...failsafeRules(fin, 'dst', 'src', 'pass'), ...failsafeRules(fout, 'src', 'src', 'pass')],
      h.untrackedIngress,
    );
  if (h.untrackedEgress.length > 0)
    out.rawOut = prepend(
      [...failsafeRules(fout, 'dst', 'dst', 'pass'), ...failsafeRules(fin, 'src', 'dst', 'pass')],
      h.untrackedEgress,
    );
  // mangle PREROUTING: failsafes, then preDNAT policy.
  if (h.preDNATIngress.length > 0)
    out.preIn = prepend(failsafeRules(fin, 'dst', 'src', 'allow'), h.preDNATIngress);
  if (h.forwardIngress.length > 0) out.fwdIn = [...h.forwardIngress];
  if (h.forwardEgress.length > 0) out.fwdOut = [...h.forwardEgress];
  return out;
}
