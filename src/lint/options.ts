// Settings of the lint rules: what the datastore cannot tell (the service CIDR the API
// server was started with) and thresholds.

import { ErrorCode } from '../errors/codes.js';
import { TabbyError } from '../errors/tabby-error.js';
import { parseNet } from '../model/net/cidr.js';

export interface LintOptions {
  /**
   * Service cluster IP ranges known from outside the datastore (kube-apiserver's
   * --service-cluster-ip-range), in addition to BGPConfiguration serviceClusterIPs.
   */
  readonly serviceCidrs?: readonly string[];
  /** full-mesh-too-large fires above this many BGP nodes (default 100). */
  readonly maxMeshNodes?: number;
}

export interface ResolvedLintOptions {
  readonly serviceCidrs: readonly string[];
  readonly maxMeshNodes: number;
}

export const DEFAULT_MAX_MESH_NODES = 100;

export class LintOptionsError extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.LintOptions, message);
  }
}

/** Checks and fills in defaults; bad options throw at construction, not mid-run. */
export function resolveLintOptions(opts: LintOptions = {}): ResolvedLintOptions {
  const serviceCidrs = [...(opts.serviceCidrs ?? [])];
  for (const c of serviceCidrs)
    if (parseNet(c) === undefined) throw new LintOptionsError(`service CIDR: invalid CIDR "${c}"`);
  const maxMeshNodes = opts.maxMeshNodes ?? DEFAULT_MAX_MESH_NODES;
  if (!Number.isInteger(maxMeshNodes) || maxMeshNodes < 1)
    throw new LintOptionsError(`max mesh nodes: want a positive integer, got ${maxMeshNodes}`);
  return { serviceCidrs, maxMeshNodes };
}
