// The eBPF dataplane: the compiled policy maps encoded for bpf/policy.c (encode), the ordered
// map writes of one policy version (plan), and the driver that loads, writes and attaches.

export { execShim, type Shim } from '../exec-shim.js';
export { type BpfApplyResult, BpfDriver, type BpfDriverOptions, defaultObjectPath } from './driver.js';
export { type EncodedPolicy, encodePolicy } from './encode.js';
export { BpfApplyError, BpfError, BpfUnavailableError, BpfVerifierError } from './errors.js';
export { BpfCompiler, type CompileStats } from './incremental.js';
export { type BpfState, EMPTY_STATE, type Plan, planApply } from './plan.js';
