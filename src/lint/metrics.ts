// The lint stage's Prometheus family: tabby_lint_findings{rule,severity}, the current counts
// read at scrape time, zero for rules with nothing to report, so an alert clears when the
// resource is fixed. Wired by the composition root (cli/serve.ts): the stage does not know.

import { Gauge, type Registry } from 'prom-client';
import { countFindings, type LintStage } from './index.js';

export function registerLintMetrics(registry: Registry, stage: Pick<LintStage, 'findings'>): void {
  new Gauge({
    name: 'tabby_lint_findings',
    help: 'Configuration problems the lint rules find in the synced state, by rule and severity',
    labelNames: ['rule', 'severity'],
    registers: [registry],
    collect(this: Gauge) {
      for (const c of countFindings(stage.findings()))
        this.set({ rule: c.rule, severity: c.severity }, c.count);
    },
  });
}
