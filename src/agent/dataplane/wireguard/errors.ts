// One error class for the WireGuard dataplane: a stable code plus the stage that failed, so
// the agent can report "routes" apart from "device" without parsing messages.

export type WireguardStage = 'key' | 'device' | 'peers' | 'link' | 'routes' | 'rule' | 'cleanup' | 'status';

export class WireguardError extends Error {
  readonly code = 'TABBY_ERR_WIREGUARD';
  constructor(
    readonly stage: WireguardStage,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`wireguard ${stage}: ${message}`, options);
    this.name = 'WireguardError';
  }
}
