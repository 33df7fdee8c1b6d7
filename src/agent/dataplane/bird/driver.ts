// Applies a rendered BIRD configuration to the node: skip if identical to the last one applied,
// write it atomically (tmp + rename) after `bird -p` accepted it, then `configure "FILE"` through
// the control socket — or start bird when we supervise it and it is not running. A config BIRD
// rejects never replaces the good one: it is kept beside it as FILE.rejected for the operator.

import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode } from '../../../errors/codes.js';
import type { Logger } from '../../../model/logger.js';
import { silentLogger } from '../../../model/logger.js';
import { execShim, type Shim } from '../exec-shim.js';
import { BirdClient, BirdCommandError, BirdConnectError, BirdError } from './birdc.js';
import type { BirdProcess } from './process.js';

export type BirdApplyOutcome = 'unchanged' | 'reloaded' | 'started';

/** BIRD refused the configuration (`bird -p` or `configure`); the previous one stays in force. */
export class BirdConfigError extends BirdError {
  /** BIRD's message, e.g. `/etc/tabby/bird.cfg.rejected:2:51 syntax error, unexpected ';', …`. */
  readonly birdMessage: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** Where the refused text was saved for inspection. */
  readonly rejectedPath: string;
  constructor(birdMessage: string, rejectedPath: string, options?: { cause?: unknown }) {
    super(`BIRD refused the configuration: ${birdMessage}`, options, ErrorCode.BirdConfig);
    this.birdMessage = birdMessage;
    this.rejectedPath = rejectedPath;
    const m = /:(\d+):(\d+)\b/.exec(birdMessage);
    this.line = m ? Number(m[1]) : undefined;
    this.column = m ? Number(m[2]) : undefined;
  }
}

/** BIRD is not running and we do not supervise it: the file is written, nothing reloaded. */
export class BirdNotRunningError extends BirdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, ErrorCode.BirdNotRunning);
  }
}

export interface BirdDriverOptions {
  /** The live configuration file BIRD reads. */
  readonly configPath: string;
  readonly socketPath: string;
  /** Runs `bird -p -c FILE`; default: execFile without a shell. */
  readonly shim?: Shim;
  /** Default `bird`. */
  readonly birdBinary?: string;
  /** Set when the agent runs bird itself (`--bird-run`); started on the first apply. */
  readonly process?: BirdProcess;
  /** Deadline for `configure`. Default 30,000 ms (a big config takes a while to parse). */
  readonly configureTimeoutMs?: number;
  readonly log?: Logger;
}

export interface BirdApplyTimings {
  readonly outcome: BirdApplyOutcome;
  /** `bird -p` on the new text. */
  readonly validateMs: number;
  /** `configure` round trip, or the time to start bird until its socket answered. */
  readonly reloadMs: number;
  readonly totalMs: number;
}

export class BirdDriver {
  readonly #o: BirdDriverOptions;
  readonly #shim: Shim;
  readonly #log: Logger;
  #chain: Promise<unknown> = Promise.resolve();
  /** The text BIRD runs, as far as we know (undefined until the first successful apply). */
  lastApplied: string | undefined;
  lastError: BirdError | undefined;
  lastTimings: BirdApplyTimings | undefined;

  constructor(options: BirdDriverOptions) {
    const p = options.process;
    if (p && (p.configPath !== options.configPath || p.socketPath !== options.socketPath))
      throw new BirdError(
        `BirdDriver: the supervised bird must use the driver's files (config ${options.configPath}, socket ${options.socketPath}), not ${p.configPath} / ${p.socketPath}`,
      );
    this.#o = options;
    this.#shim = options.shim ?? execShim({ timeoutMs: 30_000 });
    this.#log = options.log ?? silentLogger;
  }

  /** Applies one configuration; calls are serialised. Rejects with BirdConfigError on bad text. */
  apply(configText: string): Promise<BirdApplyOutcome> {
    const run = this.#chain.then(() => this.#apply(configText));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #apply(text: string): Promise<BirdApplyOutcome> {
    if (text === this.lastApplied) {
      this.lastTimings = { outcome: 'unchanged', validateMs: 0, reloadMs: 0, totalMs: 0 };
      return 'unchanged';
    }
    const t0 = performance.now();
    try {
      const previous = await readFile(this.#o.configPath, 'utf8').catch(() => undefined);
      await this.#writeValidated(text);
      const t1 = performance.now();
      const outcome = await this.#load(previous);
      const t2 = performance.now();
      this.lastApplied = text;
      this.lastError = undefined;
      this.lastTimings = { outcome, validateMs: t1 - t0, reloadMs: t2 - t1, totalMs: t2 - t0 };
      this.#log.info(
        { outcome, reloadMs: Math.round(t2 - t1), validateMs: Math.round(t1 - t0) },
        'bird config applied',
      );
      return outcome;
    } catch (err) {
      this.lastError =
        err instanceof BirdError
          ? err
          : new BirdError(`bird apply: ${(err as Error).message}`, { cause: err });
      throw this.lastError;
    }
  }

  /** tmp file beside the target (same filesystem, so rename is atomic), checked by `bird -p`. */
  async #writeValidated(text: string): Promise<void> {
    const target = this.#o.configPath;
    const tmp = path.join(
      path.dirname(target),
      `.${path.basename(target)}.${randomBytes(4).toString('hex')}.tmp`,
    );
    // 0600: the config can hold BGP passwords.
    await writeFile(tmp, text, { mode: 0o600 });
    try {
      await this.#shim.run(this.#o.birdBinary ?? 'bird', ['-p', '-c', tmp]);
    } catch (err) {
      const rejected = `${target}.rejected`;
      await rename(tmp, rejected).catch(() => rm(tmp, { force: true }));
      throw new BirdConfigError(birdMessage((err as Error).message, tmp, rejected), rejected, { cause: err });
    }
    await rename(tmp, target);
  }

  async #load(previous: string | undefined): Promise<BirdApplyOutcome> {
    const { socketPath } = this.#o;
    let client: BirdClient;
    try {
      client = await BirdClient.connect({ socketPath });
    } catch (err) {
      if (!(err instanceof BirdConnectError)) throw err;
      if (this.#o.process === undefined)
        throw new BirdNotRunningError(
          `configuration written to ${this.#o.configPath} but BIRD is not running: ${err.message}`,
          { cause: err },
        );
      await this.#o.process.start();
      return 'started';
    }
    try {
      await client.configure(this.#o.configPath, { timeoutMs: this.#o.configureTimeoutMs ?? 30_000 });
      return 'reloaded';
    } catch (err) {
      // bird -p passed but configure failed (e.g. a resource check at load): put the running
      // text back on disk so file and daemon agree.
      if (previous !== undefined)
        await writeFile(this.#o.configPath, previous, { mode: 0o600 }).catch(() => undefined);
      if (err instanceof BirdCommandError)
        throw new BirdConfigError(err.birdMessage, this.#o.configPath, { cause: err });
      throw err;
    } finally {
      client.close();
    }
  }
}

/** `bird -p` prints `bird: FILE:L:C message`; point FILE at the kept copy. */
function birdMessage(execMessage: string, tmp: string, rejected: string): string {
  const line =
    execMessage
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.includes(tmp)) ?? execMessage.trim();
  return line
    .replace(/^.*?bird: /, '')
    .replaceAll(tmp, rejected)
    .trim();
}
