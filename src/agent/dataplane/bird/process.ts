// Optional supervision of a bird daemon for nodes where the agent runs BIRD itself (`--bird-run`)
// rather than talking to one the DaemonSet started: spawn `bird -f -c FILE -s SOCKET`, wait until
// the control socket answers, restart it with jittered exponential backoff when it dies, and on
// stop terminate it and remove its socket.

import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import { ErrorCode } from '../../../errors/codes.js';
import type { Logger } from '../../../model/logger.js';
import { silentLogger } from '../../../model/logger.js';
import { BirdClient, BirdError } from './birdc.js';

export interface BirdProcessOptions {
  readonly configPath: string;
  readonly socketPath: string;
  /** Default `bird`. */
  readonly birdBinary?: string;
  /** Prepended to the command, e.g. `['ip', 'netns', 'exec', 'tbd-a']` in tests. */
  readonly execPrefix?: readonly string[];
  /** How long a start may take until the socket greets us. Default 10,000 ms. */
  readonly readyTimeoutMs?: number;
  /** First restart delay, doubled per consecutive failure up to maxBackoffMs. Default 200 ms. */
  readonly initialBackoffMs?: number;
  /** Default 10,000 ms. */
  readonly maxBackoffMs?: number;
  /** A run this long counts as healthy and resets the backoff. Default 30,000 ms. */
  readonly stableAfterMs?: number;
  /** SIGTERM grace before SIGKILL on stop. Default 3,000 ms. */
  readonly stopGraceMs?: number;
  readonly log?: Logger;
}

/** bird would not start, or started but its socket never answered. */
export class BirdStartError extends BirdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, ErrorCode.BirdStart);
  }
}

export interface BirdProcessEvents {
  ready: [pid: number];
  exit: [code: number | null, signal: NodeJS.Signals | null];
  restart: [attempt: number, delayMs: number];
}

/**
 * One supervised bird. `start()` resolves when the socket answers; after an unexpected exit it
 * restarts on its own (events `exit`, `restart`, `ready`) until `stop()`.
 */
export class BirdProcess extends EventEmitter<BirdProcessEvents> {
  readonly #o: Required<Omit<BirdProcessOptions, 'execPrefix' | 'log'>> & { execPrefix: readonly string[] };
  readonly #log: Logger;
  #child: ChildProcess | undefined;
  #starting: Promise<void> | undefined;
  #stopped = true;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #stderrTail = '';
  /** Until bird first answers, a death is the caller's start failure, not a crash to restart. */
  #firstStart = false;
  /** How many times the supervisor restarted bird after it died. */
  restarts = 0;

  constructor(options: BirdProcessOptions) {
    super();
    this.#o = {
      configPath: options.configPath,
      socketPath: options.socketPath,
      birdBinary: options.birdBinary ?? 'bird',
      execPrefix: options.execPrefix ?? [],
      readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
      initialBackoffMs: options.initialBackoffMs ?? 200,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      stableAfterMs: options.stableAfterMs ?? 30_000,
      stopGraceMs: options.stopGraceMs ?? 3_000,
    };
    this.#log = options.log ?? silentLogger;
  }

  /** bird's own PID (`ip netns exec` execs into bird, so the PID is the same), if running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get configPath(): string {
    return this.#o.configPath;
  }

  get socketPath(): string {
    return this.#o.socketPath;
  }

  /**
   * Starts bird (or waits for the start in progress) and resolves when its socket answers. If
   * the first start fails, supervision stops too: the caller owns the failure.
   */
  start(): Promise<void> {
    const wasStopped = this.#stopped;
    this.#stopped = false;
    if (wasStopped) this.#firstStart = true;
    return this.#ensure().catch(async (err: unknown) => {
      // Only the call that switched supervision on switches it off again: a start asked for
      // while we already supervise (the driver finding the socket dead) leaves the restarts on.
      if (wasStopped) await this.stop();
      throw err;
    });
  }

  #ensure(): Promise<void> {
    if (this.#starting) return this.#starting;
    if (this.#child) return Promise.resolve();
    this.#starting = this.#spawn().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), this.#o.stopGraceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    }
    this.#child = undefined;
    removeSocket(this.#o.socketPath);
  }

  async #spawn(): Promise<void> {
    // A socket left by a killed bird would answer nothing; bird replaces it, but removing it
    // first means "socket answers" can only be the new daemon.
    removeSocket(this.#o.socketPath);
    const argv = [
      ...this.#o.execPrefix,
      this.#o.birdBinary,
      '-f',
      '-c',
      this.#o.configPath,
      '-s',
      this.#o.socketPath,
    ];
    const [file = '', ...args] = argv;
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#stderrTail = '';
    const startedAt = Date.now();
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.#stderrTail = (this.#stderrTail + d).slice(-2_000);
    });
    let exitedEarly: ((why: string) => void) | undefined;
    child.once('error', (err) => exitedEarly?.(`cannot run ${file}: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      exitedEarly?.(`bird exited (${signal ?? `code ${code}`}): ${this.#stderrTail.trim()}`);
      this.emit('exit', code, signal);
      if (!this.#stopped && !this.#firstStart) this.#scheduleRestart(Date.now() - startedAt);
    });
    const early = new Promise<never>((_, reject) => {
      exitedEarly = (why) => reject(new BirdStartError(why));
    });
    early.catch(() => undefined);
    try {
      await Promise.race([this.#waitReady(child), early]);
    } catch (err) {
      if (this.#child === child) child.kill('SIGKILL');
      throw err;
    } finally {
      exitedEarly = undefined;
    }
    this.#firstStart = false;
    this.#log.info({ pid: child.pid, socket: this.#o.socketPath }, 'bird ready');
    this.emit('ready', child.pid ?? 0);
  }

  async #waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.#o.readyTimeoutMs;
    let last: unknown;
    while (Date.now() < deadline && this.#child === child) {
      try {
        const client = await BirdClient.connect({ socketPath: this.#o.socketPath, connectTimeoutMs: 1_000 });
        client.close();
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new BirdStartError(
      `bird did not answer on ${this.#o.socketPath} within ${this.#o.readyTimeoutMs} ms: ${(last as Error | undefined)?.message ?? 'exited'}`,
      { cause: last },
    );
  }

  #scheduleRestart(ranMs: number): void {
    this.#failures = ranMs >= this.#o.stableAfterMs ? 1 : this.#failures + 1;
    const base = Math.min(this.#o.maxBackoffMs, this.#o.initialBackoffMs * 2 ** (this.#failures - 1));
    const delayMs = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#log.warn({ ranMs, delayMs, stderr: this.#stderrTail.trim() }, 'bird exited; restarting');
    this.emit('restart', this.#failures, delayMs);
    this.#restartTimer = setTimeout(() => {
      if (this.#stopped) return;
      this.restarts++;
      this.#ensure().catch((err: unknown) =>
        this.#log.error({ err: (err as Error).message }, 'bird restart failed'),
      );
    }, delayMs);
  }
}

function removeSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // absent: nothing to remove
  }
}
