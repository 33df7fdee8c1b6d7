// eBPF-style dataplane maps: the policy compiled to lookup maps and per-endpoint instruction
// arrays (compile), and the decision procedure that runs them (evaluate).

export * from './compile.js';
export { endpointIndexOf, endpointOf, evaluateAcross, evaluateMaps } from './evaluate.js';
export { mapsOf, namedPortSetsOf } from './named-ports.js';
