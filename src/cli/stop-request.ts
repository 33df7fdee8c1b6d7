// When a long-running command (serve, agent, sync, apiserver-emulator) stops: on SIGTERM or
// SIGINT, and, when run by npm or npx, once its launcher has gone (see config/launcher.ts) —
// containers, systemd units and scripts stop a service by signalling what they started.

import { launchedByNpm } from '../config/launcher.js';

/** How often the parent process is checked (when bound to it). */
const PARENT_CHECK_MS = 500;

/**
 * Calls `stop` once with the reason. A second SIGTERM/SIGINT after that is not caught: it
 * ends the process at once (an operator who does not want to wait for the drain).
 */
export function onStopRequest(stop: (reason: string) => void, bindToLauncher = launchedByNpm()): void {
  const launcher = process.ppid;
  let timer: NodeJS.Timeout | undefined;
  const request = (reason: string) => {
    process.removeListener('SIGTERM', onTerm);
    process.removeListener('SIGINT', onInt);
    clearInterval(timer);
    stop(reason);
  };
  const onTerm = () => request('SIGTERM');
  const onInt = () => request('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  if (bindToLauncher) {
    // Linux has no "tell me when my parent exits" for node; a re-parented process has a new ppid.
    timer = setInterval(() => {
      if (process.ppid !== launcher) request(`launcher (pid ${launcher}) exited`);
    }, PARENT_CHECK_MS);
    timer.unref();
  }
}
