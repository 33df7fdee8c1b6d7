// iptables-only names: the temporary sets of the atomic swap and Felix's per-rule hashes.

import { hash, SET_PREFIX } from '../rules/names.js';

/** Prefix of the temporary set a changed set is rebuilt in before the atomic swap. */
export const TEMP_SET_PREFIX = 'tabby-t-';

export const tempSetName = (name: string): string => TEMP_SET_PREFIX + name.slice(SET_PREFIX.length);

/** Felix-style rule hash: depends on the chain, the previous rule's hash and the rule text. */
export const ruleHash = (chain: string, prev: string, rule: string): string =>
  hash(`${chain}\n${prev}\n${rule}`, 16);
