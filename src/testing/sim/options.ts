// Options of the simulated cluster: defaults in one place, validated and frozen before any
// generation starts, so that a bad value throws at construction and never half-way through
// a 150k-pod build.

import { ErrorCode } from '../../errors/codes.js';
import { TabbyError } from '../../errors/tabby-error.js';

export interface SimOptions {
  /** PRNG seed: the same seed and options always give the same sequence of batches. */
  readonly seed: number;
  readonly nodes: number;
  /** Pods with an IP (host-network pods have no workload endpoint, so they are not counted). */
  readonly pods: number;
  /** Generated tenant namespaces, on top of the seed and platform namespaces. */
  readonly namespaces: number;
  /** Churn events per second once in sync; 0 turns churn off. */
  readonly churnPerSec: number;
  /** Churn timer period; each tick emits churnPerSec * churnTickMs / 1000 events (fractions carry over). */
  readonly churnTickMs: number;
  /** Objects per page of the initial list; each page is converted and sent in one onUpdates(). */
  readonly initialBatchSize: number;
  /** Fraction of IP assignments that borrow from another node's block (block-claim contention). */
  readonly borrowRate: number;
  /** kubelet's default --max-pods. */
  readonly maxPodsPerNode: number;
  readonly nodeToNodeMesh: boolean;
  readonly wireguardEnabled: boolean;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = Object.freeze({
  seed: 1,
  nodes: 50,
  pods: 1500,
  namespaces: 12,
  churnPerSec: 20,
  churnTickMs: 100,
  initialBatchSize: 1000,
  borrowRate: 0.002,
  maxPodsPerNode: 110,
  nodeToNodeMesh: true,
  wireguardEnabled: false,
});

/** Node IPs are 10.0.<rack>.<10+slot> with at most 200 nodes per rack and 250 racks. */
export const MAX_NODES = 50_000;
/** The seed lab's three bare pods (frontend, api, db) always exist. */
export const MIN_PODS = 3;
/** The special nodes (two route reflectors, the rack2 ASN override) need four nodes. */
export const MIN_NODES = 4;

export class SimOptionsError extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.SimOptions, message);
  }
}

function intIn(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new SimOptionsError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

function numIn(name: string, v: number, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new SimOptionsError(`${name} must be a number in [${min}, ${max}], got ${v}`);
  }
}

export function resolveSimOptions(partial: Partial<SimOptions> = {}): SimOptions {
  for (const k of Object.keys(partial)) {
    if (!(k in DEFAULT_SIM_OPTIONS)) throw new SimOptionsError(`unknown option ${k}`);
  }
  const o: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...stripUndefined(partial) };
  intIn('seed', o.seed, -0x8000_0000, 0xffff_ffff);
  intIn('nodes', o.nodes, MIN_NODES, MAX_NODES);
  intIn('maxPodsPerNode', o.maxPodsPerNode, 1, 1000);
  intIn('pods', o.pods, MIN_PODS, o.nodes * o.maxPodsPerNode);
  intIn('namespaces', o.namespaces, 0, 1000);
  numIn('churnPerSec', o.churnPerSec, 0, 1_000_000);
  intIn('churnTickMs', o.churnTickMs, 1, 60_000);
  intIn('initialBatchSize', o.initialBatchSize, 1, 1_000_000);
  numIn('borrowRate', o.borrowRate, 0, 1);
  if (typeof o.nodeToNodeMesh !== 'boolean') throw new SimOptionsError('nodeToNodeMesh must be a boolean');
  if (typeof o.wireguardEnabled !== 'boolean')
    throw new SimOptionsError('wireguardEnabled must be a boolean');
  return Object.freeze(o);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
