// The named-port sets (Felix's hash:ip,port sets) a snapshot's rules use, from the calculator's
// model: every endpoint selected by the match's selector that declares a port of that name and
// protocol contributes (net, port) for each of its nets. Pure.

import type { PolicyCalculator, RuleProgram } from '../../calc/index.js';
import { selectorOf } from '../../calc/values.js';
import { type DataplaneSnapshot, snapshotOf } from '../iptables/render.js';
import { type CompiledMaps, compileMaps, type NamedPortMember, namedPortKey } from './compile.js';

export function namedPortSetsOf(
  calc: PolicyCalculator,
  snapshot: DataplaneSnapshot,
): Map<string, NamedPortMember[]> {
  const out = new Map<string, NamedPortMember[]>();
  const programs: RuleProgram[] = [...snapshot.policies.values(), ...snapshot.profiles.values()];
  for (const prog of programs)
    for (const rule of [...prog.inbound, ...prog.outbound])
      for (const n of [
        ...rule.src.namedPorts,
        ...rule.src.notNamedPorts,
        ...rule.dst.namedPorts,
        ...rule.dst.notNamedPorts,
      ]) {
        const key = namedPortKey(n);
        if (out.has(key)) continue;
        const sel = selectorOf(n.selector);
        const members: NamedPortMember[] = [];
        for (const ep of calc.model.endpoints.values()) {
          if (!sel.evaluate(calc.labelsOf(ep.id) ?? ep.labels)) continue;
          for (const p of ep.ports)
            if (p.name === n.name && p.protocol === n.protocol)
              for (const net of ep.nets) members.push({ net, port: p.port });
        }
        out.set(key, members);
      }
  return out;
}

/** The maps for this node: snapshotOf(calc) compiled, with its named-port sets. */
export function mapsOf(calc: PolicyCalculator): CompiledMaps {
  const snapshot = snapshotOf(calc);
  return compileMaps(snapshot, { namedPortSets: namedPortSetsOf(calc, snapshot) });
}
