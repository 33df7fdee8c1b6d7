// The nftables dataplane: the iptables renderer's snapshot rendered (pure) as one `ip tabby`
// table, and a driver that replaces that table atomically when its hash changes.

export { DataplaneError, execShim, type Shim, type ShimResult } from '../iptables/driver.js';
export { type DataplaneSnapshot, type RenderOptions, snapshotOf } from '../iptables/render.js';
export { RenderCache } from '../render-cache.js';
export { type NftApplyResult, NftablesDriver } from './driver.js';
export {
  BASE_CHAIN,
  BASE_CHAINS,
  type NftSetSpec,
  nftChainName,
  nftOpText,
  parseTableHash,
  type RenderedNftables,
  render,
  renderCleanup,
  renderReplace,
  TABLE_FAMILY,
  TABLE_NAME,
} from './render.js';
export { type RenderedRule, renderRule } from './rule-render.js';
