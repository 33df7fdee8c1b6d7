// User errors: thrown before anything starts (or when a setting proves unusable, e.g. a busy
// port), printed as one line without a stack trace, exit code 2 (cli/main.ts).

import { ErrorCode } from '../errors/codes.js';
import { TabbyError } from '../errors/tabby-error.js';
import { settingName } from './setting-names.js';

export class ConfigError extends TabbyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Config, message, options);
  }
}

/** A ConfigError naming the setting by flag and env var: "--path (TABBY_PATH): why". */
export function settingError(key: string, why: string, cause?: unknown): ConfigError {
  return new ConfigError(`${settingName(key)}: ${why}`, cause === undefined ? undefined : { cause });
}

/** Why a listen() failed, in words, for the errors an operator can fix by choosing an address. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no such address on this host',
  ENOTFOUND: 'unknown host name',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * A failed listen on the address of setting `key` as a ConfigError when the operator can fix
 * it by choosing another address; any other error is returned as it is.
 */
export function listenError(key: string, address: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code === undefined ? undefined : LISTEN_ERRORS[code];
  if (why === undefined) return err;
  return settingError(key, `cannot listen on ${address}: ${why} (${code})`, err);
}
