// The iptables dataplane: the rule model (../rules) translated (pure) to Tabby's chains and IP
// sets, and a driver that diffs them against the kernel and applies only what changed.

export { type ApplyResult, execShim, IptablesDriver, type Shim, type ShimResult } from './driver.js';
export { type IpSetSpec, type RenderedDataplane, render } from './render.js';
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
export { IPTABLES, renderRule, ruleLines } from './translate.js';
