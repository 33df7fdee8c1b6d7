// Public surface of the simulated cluster: the DatastoreSource, the pure generators tests,
// load tests and the API emulator drive without timers, and the options. Internals (IPAM,
// object building) stay private.

export { ChurnGenerator, ChurnKind } from './churn.js';
export type { Cluster, SimNode, SimPod } from './cluster.js';
export { buildCluster, generateInitialState, generateObjects } from './generate.js';
export { DEFAULT_SIM_OPTIONS, resolveSimOptions, type SimOptions, SimOptionsError } from './options.js';
export { SimulatedCluster } from './simulated-cluster.js';
