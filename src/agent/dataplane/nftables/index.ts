// The nftables dataplane: the rule model (../rules) translated (pure) to one `ip tabby`
// table, and a driver that replaces that table atomically when its hash changes.

export { execShim, type Shim, type ShimResult } from '../exec-shim.js';
export { type NftApplyResult, NftablesDriver } from './driver.js';
export { BASE_CHAIN, BASE_CHAINS, nftChainName, TABLE_FAMILY, TABLE_NAME } from './names.js';
export {
  type NftSetSpec,
  parseTableHash,
  type RenderedNftables,
  render,
  renderCleanup,
  renderReplace,
} from './render.js';
export { NFTABLES, renderRule, ruleLines } from './translate.js';
