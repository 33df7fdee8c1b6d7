// Names and mark bits of everything Tabby owns, shared by every dataplane, after Felix's
// felix/rules/rule_defs.go: chain names at most 28 characters (iptables' limit; longer ones end
// in a hash), set names at most 31 (ipset's), marks in the upper half of the mark word.

import { createHash } from 'node:crypto';

/** iptables' chain-name limit (XT_EXTENSION_MAXNAMELEN 29, minus the NUL). */
export const MAX_CHAIN_NAME = 28;
/** ipset's set-name limit (IPSET_MAXNAMELEN 32, minus the NUL). */
export const MAX_SET_NAME = 31;

export const CHAIN_PREFIX = 'tabby-';
export const SET_PREFIX = 'tabby-s-';

export const Chains = {
  forward: 'tabby-FORWARD',
  input: 'tabby-INPUT',
  output: 'tabby-OUTPUT',
  /** raw and mangle tables' entry from PREROUTING. */
  prerouting: 'tabby-PREROUTING',
  fromWlDispatch: 'tabby-from-wl-dispatch',
  toWlDispatch: 'tabby-to-wl-dispatch',
  wlToHost: 'tabby-wl-to-host',
  fromHostDispatch: 'tabby-from-host-endpoint',
  toHostDispatch: 'tabby-to-host-endpoint',
  fromHostForwardDispatch: 'tabby-from-hep-forward',
  toHostForwardDispatch: 'tabby-to-hep-forward',
  failsafeIn: 'tabby-failsafe-in',
  failsafeOut: 'tabby-failsafe-out',
} as const;

/** Mark bits (Felix: accept 0x10000, pass 0x20000, then scratch bits). */
export const Marks = {
  accept: 0x10000,
  pass: 0x20000,
  scratch0: 0x40000,
  scratch1: 0x80000,
} as const;

export const hex = (n: number): string => `0x${n.toString(16)}`;

export const hash = (text: string, length: number): string =>
  createHash('sha256').update(text).digest('base64url').slice(0, length);

/** prefix + suffix if it fits and is plain; else prefix + '_' + a hash of the suffix (GetLengthLimitedID). */
export function limitName(prefix: string, suffix: string, max = MAX_CHAIN_NAME): string {
  if (prefix.length + suffix.length <= max && /^[A-Za-z0-9._-]+$/.test(suffix)) return prefix + suffix;
  return `${prefix}_${hash(suffix, max - prefix.length - 1)}`;
}

/** Policy chains are always hashed: policy ids are model keys (slashes, long names). */
export const policyChain = (policyId: string, dir: 'in' | 'out'): string => {
  const prefix = dir === 'in' ? 'tabby-pi-' : 'tabby-po-';
  return prefix + hash(policyId, MAX_CHAIN_NAME - prefix.length);
};

export const profileChain = (profile: string, dir: 'in' | 'out'): string =>
  limitName(dir === 'in' ? 'tabby-pri-' : 'tabby-pro-', profile);

/** To workload = the endpoint's ingress; from workload = its egress (Felix's tw/fw). */
export const endpointChain = (iface: string, dir: 'to' | 'from'): string =>
  limitName(dir === 'to' ? 'tabby-tw-' : 'tabby-fw-', iface);

/**
 * Host endpoint chains (Felix's fh/th, fhfw/thfw): from host endpoint = its ingress, to = its
 * egress; the fw variants police forwarded traffic. '*' (all interfaces) gets a hashed name.
 */
export const hostEndpointChain = (iface: string, kind: 'fh' | 'th' | 'fhfw' | 'thfw'): string =>
  limitName(`tabby-${kind}-`, iface);

/** A selector IP set's kernel name, derived only from its id, so membership changes never rename it. */
export const ipSetName = (setId: string): string =>
  SET_PREFIX + hash(setId, MAX_SET_NAME - SET_PREFIX.length);

/** A named-port set's kernel name (from its namedPortKey() id; never equal to a selector set's). */
export const namedPortSetName = (id: string): string =>
  SET_PREFIX + hash(`named-port:${id}`, MAX_SET_NAME - SET_PREFIX.length);
