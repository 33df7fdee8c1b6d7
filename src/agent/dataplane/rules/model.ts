// The rule model every table-based dataplane translates (in the spirit of Felix's
// generictables): chains of rules, each an AND of typed match terms and one action, plus the
// sets the rules reference and the hooks into the built-in chains. Built once per render from
// calc output (build.ts); iptables and nftables only turn it into their syntax.
// Adding a match kind: a Term variant here, its text in each translator, a row in
// test/unit/rule-model.test.ts.

export type Table = 'raw' | 'mangle' | 'filter';
export type Side = 'src' | 'dst';

/** One match condition; a rule matches when all its terms do. */
export type Term =
  /** Input / output interface; a trailing '+' matches any suffix. */
  | { readonly t: 'iif' | 'oif'; readonly name: string }
  /** Address in any of the CIDRs (a translator that cannot OR nets gets one at a time). */
  | { readonly t: 'net'; readonly side: Side; readonly nets: readonly string[]; readonly not?: boolean }
  /** Address in the named address set. */
  | { readonly t: 'set'; readonly side: Side; readonly set: string; readonly not?: boolean }
  /** (address, protocol, port) in the named set (named ports, destination services). */
  | { readonly t: 'port-set'; readonly side: Side; readonly set: string; readonly not?: boolean }
  /** The layer-4 protocol (a normalised name: tcp, udp, icmp, sctp, udplite, or a number). */
  | { readonly t: 'proto'; readonly proto: string; readonly not?: boolean }
  /**
   * Port in any of the ports or ranges ('lo:hi'), for `proto` (which needs no separate proto
   * term). A policy's port list.
   */
  | {
      readonly t: 'ports';
      readonly side: Side;
      readonly proto: string;
      readonly ports: readonly (number | string)[];
      readonly not?: boolean;
    }
  /** One protocol with optional single ports (the host layout's failsafes). */
  | { readonly t: 'l4'; readonly proto: string; readonly dport?: number; readonly sport?: number }
  /** ICMP type, and code if given; `not` negates the (type, code) pair. */
  | { readonly t: 'icmp'; readonly type: number; readonly code?: number; readonly not?: boolean }
  | { readonly t: 'ct'; readonly state: 'established' | 'invalid' }
  /** Not DNAT'd (host-originated DNAT'd traffic has a stale output interface in OUTPUT). */
  | { readonly t: 'not-dnat' }
  /** Every one of the mark bits is set (`clear`: every one is clear). */
  | { readonly t: 'mark'; readonly bits: number; readonly clear?: boolean };

export type Action =
  | { readonly t: 'accept' | 'drop' | 'return' | 'notrack' }
  | { readonly t: 'jump' | 'goto'; readonly chain: string }
  | { readonly t: 'set-mark' | 'clear-mark'; readonly bits: number }
  /** Sets the bits and returns (a policy's Allow or Pass verdict). */
  | { readonly t: 'mark-return'; readonly bits: number }
  | { readonly t: 'log'; readonly prefix: string }
  /** Goes to the chain of the packet's interface, per `side`; nothing when none is listed. */
  | {
      readonly t: 'dispatch';
      readonly side: 'iif' | 'oif';
      readonly to: readonly (readonly [iface: string, chain: string])[];
    };

export interface Rule {
  readonly match: readonly Term[];
  readonly action: Action;
  readonly comment?: string;
}

/**
 * What the translator can say in one rule; the model spreads what does not fit over several
 * rules ORed with scratch mark bits, as Felix does.
 */
export interface Capabilities {
  /** A short tag, part of every cache key (models built for different syntaxes differ). */
  readonly name: string;
  /** CIDRs one net term may hold (iptables: 1). */
  readonly netsPerTerm: number;
  /** Whether a rule may hold a negated net term beside a positive one on the same side. */
  readonly netAndNotNet: boolean;
  /** Port slots one ports term may hold; a range takes two (iptables multiport: 15). */
  readonly portSlotsPerTerm: number;
}

export interface SetModel {
  readonly id: string;
  /** 'net': addresses/CIDRs; 'ip-port': (address, protocol, port) members. */
  readonly kind: 'net' | 'ip-port';
  /** As calc gives them: CIDRs or addresses for 'net', `addr,proto:port` for 'ip-port', sorted. */
  readonly members: readonly string[];
}

/** A set as one syntax declares it: its type and its members in that syntax, sorted. */
export interface SetSpec<Type extends string> {
  readonly id: string;
  readonly type: Type;
  readonly members: readonly string[];
}

export type ChainMap = ReadonlyMap<string, readonly Rule[]>;

export interface RuleModel {
  /** Chains per table; policy and profile chains sit in each table that jumps to them. */
  readonly tables: ReadonlyMap<Table, ChainMap>;
  /** Kernel set name -> set; only sets the rules reference. */
  readonly sets: ReadonlyMap<string, SetModel>;
  /** Built-in hook -> the chain it enters first. */
  readonly entries: readonly { readonly table: Table; readonly builtin: string; readonly chain: string }[];
  readonly warnings: readonly string[];
}
