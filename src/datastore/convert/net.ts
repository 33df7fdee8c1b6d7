// The converters' checked readings of addresses and CIDRs: src/model/net in Go syntax (as Calico's
// conversions check them), failing with the converters' Invalid error naming the field.

import { type Cidr, formatCidr, masked, parseCidr } from '../../model/net/cidr.js';
import { type Ip, parseIp } from '../../model/net/ip.js';
import { Invalid } from './errors.js';

/** A CIDR (or bare IP) as Calico's model stores it: the masked network, e.g. "10.0.0.0/24". */
export function networkText(s: string, what: string): string {
  const c = parseCidr(s, { bare: true });
  if (c === undefined) throw new Invalid(`${what}: invalid CIDR ${JSON.stringify(s)}`);
  return formatCidr(masked(c));
}

/** A required CIDR (with prefix), checked and returned with its parsed form. */
export function cidrOf(s: string, what: string): Cidr {
  const c = parseCidr(s);
  if (c === undefined) throw new Invalid(`${what}: invalid CIDR ${JSON.stringify(s)}`);
  return c;
}

export function ipOf(s: string, what: string): Ip {
  const ip = parseIp(s);
  if (ip === undefined) throw new Invalid(`${what}: invalid IP address ${JSON.stringify(s)}`);
  return ip;
}
