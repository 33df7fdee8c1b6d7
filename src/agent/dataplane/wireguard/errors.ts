// One error class for the WireGuard dataplane: a stable code plus the stage that failed, so
// the agent can report "routes" apart from "device" without parsing messages.

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';

export type WireguardStage = 'key' | 'device' | 'peers' | 'link' | 'routes' | 'rule' | 'cleanup' | 'status';

export class WireguardError extends TabbyError {
  constructor(
    readonly stage: WireguardStage,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.Wireguard, `wireguard ${stage}: ${message}`, options);
  }
}
