// Parsed-rule fixtures shared by the rule model and translator tests.

import type { ParsedRule, SideMatch } from '../../src/agent/calc/index.js';

/** A side that matches anything. */
export const NO_SIDE: SideMatch = Object.freeze({
  nets: [],
  notNets: [],
  ports: [],
  notPorts: [],
  namedPorts: [],
  notNamedPorts: [],
  ipSets: [],
  notIpSets: [],
});

/** An Allow of anything, with `r` laid over it. */
export const parsedRule = (r: Partial<ParsedRule>): ParsedRule => ({
  action: 'allow',
  src: NO_SIDE,
  dst: NO_SIDE,
  ...r,
});
