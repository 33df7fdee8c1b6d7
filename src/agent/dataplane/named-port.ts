// Named-port sets shared by every dataplane (iptables, nftables, eBPF-style maps): the key that
// identifies one (protocol, port name, selector) set, and its members — Felix's ip,port sets.

import type { NamedPortMatch } from '../calc/index.js';

export interface NamedPortMember {
  readonly net: string;
  readonly port: number;
  /** Set for service sets, whose members mix protocols; a named-port set's is in its key. */
  readonly protocol?: 'tcp' | 'udp' | 'sctp';
}

export const namedPortKey = (n: NamedPortMatch): string => `${n.protocol}/${n.name}/${n.selector}`;
