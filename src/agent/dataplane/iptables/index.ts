// The iptables dataplane: render (pure) a calc snapshot to Tabby's chains and IP sets, and a
// driver that diffs them against the kernel and applies only what changed.

export { RenderCache } from '../render-cache.js';
export {
  type ApplyResult,
  DataplaneError,
  execShim,
  IptablesDriver,
  type Shim,
  type ShimResult,
} from './driver.js';
export * from './host-layout.js';
export * from './names.js';
export {
  type DataplaneSnapshot,
  type IpSetSpec,
  opText,
  type RenderedDataplane,
  type RenderOptions,
  render,
  snapshotOf,
} from './render.js';
export {
  appliedState,
  type ChainDigests,
  ChainHashCache,
  digests,
  parseIpsetSave,
  parseIptablesSave,
  type RestorePlan,
  renderCleanup,
  renderIpSets,
  renderRestore,
  TABLES,
  type TableState,
  type TablesState,
} from './restore.js';
export { type RenderedRule, renderRule } from './rule-render.js';
