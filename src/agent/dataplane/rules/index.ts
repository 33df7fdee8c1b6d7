// The rule model shared by the table-based dataplanes (iptables, nftables): names, marks, the
// host layout, the snapshot of calc output, and the model built from it; see model.ts.

export { buildModel, sortedMap } from './build.js';
export { DataplaneError, dataplaneError } from './errors.js';
export { SnapshotFeed } from './feed.js';
export * from './host-layout.js';
export type * from './model.js';
export * from './names.js';
export {
  type LoweredRule,
  lowerRule,
  lowerRuleChain,
  type RenderedRule,
  type RuleChain,
  type RuleContext,
  type RuleNames,
  translateRule,
} from './policy-rules.js';
export { RenderCache } from './render-cache.js';
export {
  type DataplaneSnapshot,
  namedPortMembers,
  namedPortSetsOf,
  type RenderOptions,
  snapshotOf,
} from './snapshot.js';
export { type Render, renderer, type Syntax, type Translated } from './translator.js';
