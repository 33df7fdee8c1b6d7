// explain(): what the dataplane does with a flow's first packet, judged on the compiled maps
// (evaluate.ts) the nodes load, not by a second walk of the calculator's plans: egress on the
// maps of the node owning the source address, ingress on the destination's. Both nodes' maps are
// as this calculator sees the cluster (nodeMapsOf), with this node's host policy settings.

import { anyContains } from '../../../model/net/cidr.js';
import { type Ip, parseIp } from '../../../model/net/ip.js';
import type { PolicyCalculator } from '../../calc/index.js';
import type { CompiledMaps } from './compile.js';
import { evaluateAcross } from './evaluate.js';
import type { Explanation, Flow } from './explanation.js';
import { nodeMapsOf } from './node-maps.js';

export function explain(calc: PolicyCalculator, flow: Flow): Explanation {
  return explainer(calc)(flow);
}

/**
 * explain() for many flows on one calculator state: each node's maps are compiled once, on first
 * use, and reused (compiling is what costs; evaluating a flow is cheap). Apply nothing to the
 * calculator while using the returned function: its maps would be stale.
 */
export function explainer(calc: PolicyCalculator): (flow: Flow) => Explanation {
  const compiled = new Map<string, CompiledMaps>();
  const mapsOn = (node: string): CompiledMaps => {
    let maps = compiled.get(node);
    if (maps === undefined) {
      maps = nodeMapsOf(calc, node);
      compiled.set(node, maps);
    }
    return maps;
  };
  // The node of the endpoint owning an address (the first by id if several claim it): its maps
  // then find that endpoint. An address no endpoint owns is unmanaged on any node's maps.
  const nodeOf = (ip: Ip): string => {
    let found: { id: string; node: string } | undefined;
    for (const ep of calc.model.endpoints.values())
      if (anyContains(ep.nets, ip) && (found === undefined || ep.id < found.id)) found = ep;
    return found?.node ?? calc.nodeName;
  };
  return (flow) => {
    const src = parseIp(flow.srcIp, 'lenient');
    const dst = parseIp(flow.dstIp, 'lenient');
    if (src === undefined || dst === undefined)
      throw new TypeError('explain: srcIp and dstIp must be IP addresses');
    return evaluateAcross(mapsOn(nodeOf(src)), mapsOn(nodeOf(dst)), flow);
  };
}
