// Public surface of the simulated cluster: the DatastoreSource, the pure generators tests and
// load tests drive without timers, and the options. Internals (IPAM, rendering) stay private.

export { ChurnGenerator, ChurnKind } from './churn.js';
export type { Cluster, SimNode, SimPod } from './cluster.js';
export { buildCluster, generateInitialState } from './generate.js';
export { DEFAULT_SIM_OPTIONS, resolveSimOptions, type SimOptions, SimOptionsError } from './options.js';
export { SimulatedCluster } from './simulated-cluster.js';
