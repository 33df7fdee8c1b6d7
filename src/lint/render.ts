// Findings as text for people: grouped by severity, each with its resource, the fact and the
// fix, then a one-line summary. Pure, so the CLI and any log sink print the same thing.

import { type Finding, SEVERITIES, type Severity } from './finding.js';

const TITLE: Record<Severity, string> = { error: 'Errors', warning: 'Warnings', info: 'Info' };

export function summaryLine(findings: readonly Finding[]): string {
  const n = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const plural = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
  return `${plural(n('error'), 'error')}, ${plural(n('warning'), 'warning')}, ${n('info')} info`;
}

export function renderFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'No findings.\n';
  const lines: string[] = [];
  for (const s of SEVERITIES) {
    const group = findings.filter((f) => f.severity === s);
    if (group.length === 0) continue;
    lines.push(`${TITLE[s]} (${group.length}):`);
    for (const f of group) {
      const where = f.source !== undefined ? `  (${f.source})` : '';
      lines.push(`  [${f.rule}] ${f.resource}${where}`);
      lines.push(`    ${f.message}`);
      if (f.related.length > 0) lines.push(`    related: ${f.related.join(', ')}`);
      lines.push(`    fix: ${f.fix}`);
    }
    lines.push('');
  }
  lines.push(summaryLine(findings));
  return `${lines.join('\n')}\n`;
}
