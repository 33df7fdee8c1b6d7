// eBPF-style dataplane maps: the policy compiled to lookup maps and per-endpoint instruction
// arrays (compile), the decision procedure that runs them (evaluate), and explain(): a flow
// judged on the maps of the nodes it crosses.

export * from './compile.js';
export { endpointIndexOf, endpointOf, evaluateAcross, evaluateMaps } from './evaluate.js';
export { explain, explainer } from './explain.js';
export type {
  Decision,
  Explanation,
  Flow,
  HostStage,
  RuleRef,
  SideExplanation,
} from './explanation.js';
export { mapsOf, namedPortSetsOf } from './named-ports.js';
export { nodeMapsOf } from './node-maps.js';
