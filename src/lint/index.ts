// Public surface of the lint rules: lint() over a state, the incremental LintStage for the
// server and the agent, finding types and counts for metrics, and the text renderer.

export {
  compareFindings,
  countFindings,
  type Finding,
  type FindingCount,
  findingId,
  LINT_RULES,
  type RuleInfo,
  resourceRef,
  SEVERITIES,
  type Severity,
} from './finding.js';
export { type FindingChanges, LintStage, lint } from './linter.js';
export {
  DEFAULT_MAX_MESH_NODES,
  type LintOptions,
  LintOptionsError,
  type ResolvedLintOptions,
  resolveLintOptions,
} from './options.js';
export { renderFindings, summaryLine } from './render.js';
export { findDuplicates, type SourcedObject } from './sources.js';
