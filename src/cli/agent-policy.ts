// The agent's policy dataplane, chosen by --dataplane: iptables, nftables, bpf, or auto (bpf
// when this kernel and process can load it, else iptables with a warning), each with the
// cleanup that removes what it programmed (--cleanup, --cleanup-on-stop).

import { BpfDriver, BpfError, defaultObjectPath } from '../agent/dataplane/bpf/index.js';
import { BpfDataplane } from '../agent/dataplane/bpf/manager.js';
import { DryRunDataplane } from '../agent/dataplane/dry-run/manager.js';
import { execShim, IptablesDriver } from '../agent/dataplane/iptables/index.js';
import { dryRunIptables, IptablesDataplane } from '../agent/dataplane/iptables/manager.js';
import { NftablesDriver } from '../agent/dataplane/nftables/index.js';
import { dryRunNftables, NftablesDataplane } from '../agent/dataplane/nftables/manager.js';
import type { PolicyDataplane } from '../agent/runtime/parts.js';
import type { AgentConfig } from '../config/agent-config.js';
import type { Logger } from '../model/logger.js';
import { CommandFailed } from './exit.js';

export interface PolicyPart {
  readonly dataplane: PolicyDataplane;
  /** Removes what the dataplane programmed (idempotent); undefined for a dry run. */
  readonly cleanup?: () => Promise<void>;
}

export async function createPolicyPart(cfg: AgentConfig, log: Logger): Promise<PolicyPart | undefined> {
  if (cfg.dryRun) {
    const extra = { iptables: dryRunIptables, nftables: dryRunNftables }[cfg.dataplane as string];
    return { dataplane: new DryRunDataplane(cfg.dryRun, extra) };
  }
  switch (cfg.dataplane) {
    case 'none':
      return undefined;
    case 'iptables':
      return iptablesPart(log);
    case 'nftables': {
      const driver = new NftablesDriver(execShim());
      return {
        dataplane: new NftablesDataplane(log.child({ dataplane: 'nftables' }), driver),
        cleanup: () => driver.cleanup(),
      };
    }
    case 'bpf':
      return bpfPart(cfg, log).catch((err: unknown) => {
        throw err instanceof BpfError
          ? new CommandFailed(`${err.message} [${err.code}]`, { cause: err })
          : err;
      });
    case 'auto':
      return bpfPart(cfg, log).catch((err: unknown) => {
        if (!(err instanceof BpfError)) throw err;
        log.warn(
          { err: err.message, code: err.code },
          '--dataplane auto: bpf cannot run here; using iptables',
        );
        return iptablesPart(log);
      });
  }
}

function iptablesPart(log: Logger): PolicyPart {
  const driver = new IptablesDriver(execShim());
  return {
    dataplane: new IptablesDataplane(log.child({ dataplane: 'iptables' }), driver),
    cleanup: () => driver.cleanup(),
  };
}

/** Loads (or adopts) the programs now, so a kernel or permission problem shows at start. */
async function bpfPart(cfg: AgentConfig, log: Logger): Promise<PolicyPart> {
  const driver = new BpfDriver(execShim(), {
    baseDir: cfg.bpfDir,
    stateFile: cfg.bpfStateFile,
    object: cfg.bpfObject ?? defaultObjectPath(),
  });
  if (!cfg.cleanup) await driver.start();
  return {
    dataplane: new BpfDataplane(log.child({ dataplane: 'bpf' }), driver),
    cleanup: () => driver.cleanup(),
  };
}
