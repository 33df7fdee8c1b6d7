// Compares two V8 heap snapshots (from memory-soak.ts --snapshots-at, or any
// .heapsnapshot): totals per node type and constructor name, sorted by growth in self
// size, so what accumulates between the two moments stands out.
//
//   node --import tsx loadtest/heap-diff.ts before.heapsnapshot after.heapsnapshot [top]

import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

type Totals = Map<string, { count: number; bytes: number }>;

function aggregate(file: string): Totals {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const totals: Totals = new Map();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    let name = s.strings[s.nodes[i + iName]!]!;
    // Strings and code are named by their content: group them by type only.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'code')
      name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const t = totals.get(key) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += s.nodes[i + iSize]!;
    totals.set(key, t);
  }
  return totals;
}

const [a, b, topText] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [top]');
  process.exit(2);
}
const before = aggregate(a);
const after = aggregate(b);
const rows = [...new Set([...before.keys(), ...after.keys()])].map((k) => {
  const x = before.get(k) ?? { count: 0, bytes: 0 };
  const y = after.get(k) ?? { count: 0, bytes: 0 };
  return { k, dCount: y.count - x.count, dBytes: y.bytes - x.bytes, count: y.count, bytes: y.bytes };
});
rows.sort((p, q) => q.dBytes - p.dBytes);
const sum = (t: Totals) => [...t.values()].reduce((s, v) => s + v.bytes, 0);
console.log(
  `total self size: ${(sum(before) / 2 ** 20).toFixed(1)} MiB -> ${(sum(after) / 2 ** 20).toFixed(1)} MiB`,
);
console.log('  dBytes_KiB   dCount   bytes_KiB    count  type:constructor');
for (const r of rows.slice(0, Number(topText ?? 30)))
  console.log(
    `${(r.dBytes / 1024).toFixed(0).padStart(12)} ${String(r.dCount).padStart(8)} ${(r.bytes / 1024).toFixed(0).padStart(11)} ${String(r.count).padStart(8)}  ${r.k}`,
  );
