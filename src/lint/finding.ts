// What a lint rule reports: one proven fact about named resources, and how to fix it. Also
// the catalogue of rules (for docs and for zero-filled metric counts) and stable ordering.

export type Severity = 'error' | 'warning' | 'info';

export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];

export interface Finding {
  /** Rule id, e.g. "bgp-peer-asn-mismatch". */
  readonly rule: string;
  readonly severity: Severity;
  /**
   * The resource the finding is about: "Kind/namespace/name" for namespaced resources,
   * "Kind/name" for cluster-scoped ones (e.g. "BGPPeer/rack7-tor").
   */
  readonly resource: string;
  /** Other resources the fact involves (the other pool of an overlap, the target node…). */
  readonly related: readonly string[];
  /** The fact the data proves, in one or two sentences. */
  readonly message: string;
  /** What to change. */
  readonly fix: string;
  /** Where the resource was read from ("file.yaml#2"), when known (tabby lint -f). */
  readonly source?: string;
}

export interface RuleInfo {
  readonly id: string;
  /** Every severity the rule can report with. */
  readonly severities: readonly Severity[];
  readonly summary: string;
}

export const LINT_RULES: readonly RuleInfo[] = [
  {
    id: 'bgp-peer-asn-mismatch',
    severities: ['error'],
    summary:
      'a BGPPeer names an AS number the target does not use (the target is a node, or other BGPPeers to the same address claim another AS)',
  },
  {
    id: 'bgp-peer-self',
    severities: ['warning'],
    summary: "a BGPPeer for one node points at that node's own address: the session is never configured",
  },
  {
    id: 'full-mesh-too-large',
    severities: ['warning'],
    summary: 'the node-to-node BGP mesh is on with more BGP nodes than the threshold',
  },
  { id: 'ippool-overlap', severities: ['error'], summary: 'two enabled IPPools overlap' },
  {
    id: 'ippool-overlaps-network',
    severities: ['error'],
    summary: "an enabled IPPool overlaps nodes' subnets or the service cluster IP range",
  },
  {
    id: 'tier-deny-without-pass',
    severities: ['warning', 'info'],
    summary:
      'a tier with defaultAction Deny drops traffic its policies do not match (no catch-all Pass), so later tiers never see it',
  },
  {
    id: 'policy-tier-missing',
    severities: ['warning'],
    summary: 'a policy names a tier that does not exist',
  },
  {
    id: 'invalid-resource',
    severities: ['error'],
    summary: 'a resource (or model value) is invalid and is ignored',
  },
  { id: 'invalid-manifest', severities: ['error'], summary: 'a manifest file or document does not parse' },
  {
    id: 'duplicate-resource',
    severities: ['warning'],
    summary: 'the same resource is defined more than once; the last definition wins',
  },
  {
    id: 'unchecked-resource',
    severities: ['info'],
    summary: 'resources of a kind Tabby does not model were not checked',
  },
];

/** "Kind/namespace/name", or "Kind/name" when the namespace is empty. */
export function resourceRef(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

/** Identity of a finding across recalculations: the message (counts, ASNs) may change. */
export function findingId(f: Finding): string {
  return `${f.rule}|${f.resource}|${f.related.join(',')}`;
}

const rank = (s: Severity): number => SEVERITIES.indexOf(s);

/** Errors first, then by rule, resource, related. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    rank(a.severity) - rank(b.severity) ||
    cmp(a.rule, b.rule) ||
    cmp(a.resource, b.resource) ||
    cmp(a.related.join(','), b.related.join(','))
  );
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export interface FindingCount {
  readonly rule: string;
  readonly severity: Severity;
  readonly count: number;
}

/**
 * Findings per (rule, severity), with a zero entry for every pair a rule can report, so a
 * gauge such as tabby_lint_findings{rule,severity} drops back to 0 when a finding clears.
 */
export function countFindings(findings: readonly Finding[]): FindingCount[] {
  const counts = new Map<string, FindingCount>();
  const key = (rule: string, severity: Severity) => `${rule}\0${severity}`;
  for (const r of LINT_RULES)
    for (const severity of r.severities) counts.set(key(r.id, severity), { rule: r.id, severity, count: 0 });
  for (const f of findings) {
    const k = key(f.rule, f.severity);
    counts.set(k, { rule: f.rule, severity: f.severity, count: (counts.get(k)?.count ?? 0) + 1 });
  }
  return [...counts.values()];
}

/** A list of names, at most `max` shown: "a, b, c and 4 more". */
export function nameList(names: readonly string[], max = 5): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}
