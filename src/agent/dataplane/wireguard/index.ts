// The WireGuard dataplane: the class the agent composes, plus the pieces its tests and
// `tabby node status` use.

export { type DesiredDevice, type DeviceDump, deviceMatches, parseDump, renderConf } from './conf.js';
export type { DeviceKind, DeviceMode } from './device.js';
export { WireguardError, type WireguardStage } from './errors.js';
export { generatePrivateKey, KeyStore, publicKeyOf } from './keys.js';
export {
  DEFAULT_KEY_FILE,
  WireguardDataplane,
  type WireguardDataplaneOptions,
  type WireguardPeerStatus,
  type WireguardStatus,
  type WireguardSyncResult,
} from './manager.js';
export { execShim, type WireguardShim } from './shim.js';
