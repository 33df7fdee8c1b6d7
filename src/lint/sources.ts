// Findings about the input files themselves rather than the model: the same resource defined
// twice (the later definition silently wins). Pure: the caller reads the files.

import type { Finding } from './finding.js';

export interface SourcedObject {
  /** Identity across API versions (e.g. objectId(): "group/Kind/namespace/name"). */
  readonly id: string;
  /** "Kind/namespace/name" or "Kind/name". */
  readonly ref: string;
  /** "file.yaml#2". */
  readonly source: string;
}

export function findDuplicates(objects: readonly SourcedObject[]): Finding[] {
  const byId = new Map<string, SourcedObject[]>();
  for (const o of objects) {
    const l = byId.get(o.id);
    if (l === undefined) byId.set(o.id, [o]);
    else l.push(o);
  }
  const out: Finding[] = [];
  for (const list of byId.values()) {
    if (list.length < 2) continue;
    const last = list[list.length - 1]!;
    out.push({
      rule: 'duplicate-resource',
      severity: 'warning',
      resource: last.ref,
      related: [],
      message: `${last.ref} is defined ${list.length} times (${list.map((o) => o.source).join(', ')}); only the last one (${last.source}) takes effect.`,
      fix: 'Keep one definition and merge the intended settings into it.',
      source: last.source,
    });
  }
  return out;
}
