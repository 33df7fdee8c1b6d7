// The named-port sets (Felix's hash:ip,port sets) a snapshot's rules use. One implementation,
// shared with the iptables and nftables renderers: snapshotOf() computes them
// (namedPortSetsOf in ../rules/snapshot.ts) and carries them in the snapshot.

import type { PolicyCalculator } from '../../calc/index.js';
import { namedPortSetsOf, snapshotOf } from '../rules/snapshot.js';
import { type CompiledMaps, compileMaps } from './compile.js';

export { namedPortSetsOf };

/** The maps for this node: snapshotOf(calc) compiled, with its named-port sets. */
export function mapsOf(calc: PolicyCalculator): CompiledMaps {
  const snapshot = snapshotOf(calc);
  return compileMaps(snapshot, {
    node: calc.nodeName,
    namedPortSets: snapshot.namedPortSets ?? namedPortSetsOf(calc, snapshot),
  });
}
