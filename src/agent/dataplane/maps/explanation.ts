// What explain() and the maps evaluator answer for a flow: the verdict and, per side, the
// endpoint whose policy decided, what decided it (rule, tier end, profile, host path) and the
// log rules the packet passed. Plain data: `tabby explain --json` prints it as is.

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
