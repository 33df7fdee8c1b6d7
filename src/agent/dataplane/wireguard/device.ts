// The WireGuard network device: the kernel's (`ip link add NAME type wireguard`) or
// wireguard-go's userspace one, chosen by config; `auto` tries the kernel first and falls back
// to wireguard-go, saying so once. wireguard-go is supervised: restarted with backoff when it
// dies (the dataplane then re-applies everything, since a new device starts blank) and killed
// on stop. Its control socket lives in /var/run/wireguard, shared by all network namespaces.

import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../../model/logger.js';
import { WireguardError } from './errors.js';
import type { WireguardShim } from './shim.js';

export type DeviceMode = 'auto' | 'kernel' | 'userspace';
export type DeviceKind = 'kernel' | 'userspace';

export interface DeviceOptions {
  readonly shim: WireguardShim;
  readonly log: Logger;
  readonly mode: DeviceMode;
  readonly wireguardGo: string;
  readonly socketDir: string;
  readonly readyTimeoutMs: number;
  readonly restartBackoffMs: { readonly min: number; readonly max: number };
  /** Called after wireguard-go was restarted: the new device holds no configuration. */
  readonly onRestarted: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class WireguardDevice {
  #kind: DeviceKind | undefined;
  #name: string | undefined;
  #child: ChildProcess | undefined;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  #startedAt = 0;

  constructor(private readonly opts: DeviceOptions) {
    this.#backoffMs = opts.restartBackoffMs.min;
  }

  get kind(): DeviceKind | undefined {
    return this.#kind;
  }

  get name(): string | undefined {
    return this.#name;
  }

  /** The wireguard-go pid while it runs (tests kill it to exercise the supervisor). */
  get pid(): number | undefined {
    return this.#child?.exitCode === null ? this.#child.pid : undefined;
  }

  /** Makes sure a WireGuard device called `name` exists (replacing one of another name). */
  async ensure(name: string): Promise<void> {
    if (this.#name !== undefined && this.#name !== name) await this.remove();
    this.#stopping = false;
    this.#name = name;
    if (this.#kind === 'userspace') {
      if (this.#child === undefined && this.#restartTimer === undefined) await this.#startUserspace(name);
      return;
    }
    const info = await this.#linkKind(name);
    if (info === 'wireguard') {
      this.#kind = 'kernel';
      return;
    }
    if (this.opts.mode !== 'userspace') {
      try {
        if (info !== undefined) await this.#run(['link', 'del', 'dev', name]);
        await this.#run(['link', 'add', 'dev', name, 'type', 'wireguard']);
        this.#kind = 'kernel';
        return;
      } catch (err) {
        if (this.opts.mode === 'kernel')
          throw new WireguardError(
            'device',
            `cannot create kernel device ${name}: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        this.opts.log.warn(
          { interface: name, reason: (err as Error).message },
          'kernel WireGuard unavailable; falling back to wireguard-go (userspace)',
        );
      }
    }
    this.#kind = 'userspace';
    await this.#startUserspace(name);
  }

  /** Deletes the device (kills wireguard-go); a missing device is not an error. */
  async remove(nameHint?: string): Promise<void> {
    // A device left by an earlier run is ours too when it carries our configured name.
    const name = this.#name ?? nameHint;
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      if ((await Promise.race([exited, sleep(3000).then(() => 'timeout')])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    }
    if (name !== undefined) {
      const kind = await this.#linkKind(name);
      if (kind === 'wireguard' || (kind === 'tun' && this.#name !== undefined))
        await this.#run(['link', 'del', 'dev', name]).catch(() => undefined);
      // wireguard-go removes its socket on a clean exit; after a crash it is left behind.
      if (this.#kind === 'userspace' && child !== undefined)
        await rm(path.join(this.opts.socketDir, `${name}.sock`), { force: true });
    }
    this.#name = undefined;
  }

  async #startUserspace(name: string): Promise<void> {
    // A leftover device of our name (a crashed agent's wireguard-go) would block a new one.
    if ((await this.#linkKind(name)) !== undefined)
      await this.#run(['link', 'del', 'dev', name]).catch(() => undefined);
    const log = this.opts.log.child({ interface: name, daemon: 'wireguard-go' });
    let child: ChildProcess;
    try {
      child = this.opts.shim.spawn(this.opts.wireguardGo, ['-f', name], (line) =>
        log.debug({ line }, 'output'),
      );
    } catch (err) {
      throw new WireguardError('device', `cannot start wireguard-go: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#child = child;
    this.#startedAt = Date.now();
    const failed = new Promise<Error>((resolve) => {
      child.once('error', resolve);
      child.once('exit', (code, signal) => resolve(new Error(`wireguard-go exited (${signal ?? code})`)));
    });
    child.once('exit', (code, signal) => this.#exited(child, name, code, signal));
    child.once('error', () => undefined);
    const deadline = Date.now() + this.opts.readyTimeoutMs;
    for (;;) {
      const ready = await this.opts.shim
        .run('wg', ['show', name, 'listen-port'])
        .then(() => true)
        .catch(() => false);
      if (ready) break;
      const err = await Promise.race([failed, sleep(20).then(() => undefined)]);
      if (err !== undefined || Date.now() > deadline) {
        if (err === undefined) child.kill('SIGKILL');
        throw new WireguardError(
          'device',
          `wireguard-go ${name} did not come up: ${err?.message ?? 'timeout'}`,
        );
      }
    }
    log.info({ pid: child.pid }, 'wireguard-go started');
  }

  #exited(child: ChildProcess, name: string, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    if (this.#stopping) return;
    // A daemon that ran a while had a real failure, not a crash loop: start again quickly.
    if (Date.now() - this.#startedAt > 10_000) this.#backoffMs = this.opts.restartBackoffMs.min;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.opts.restartBackoffMs.max);
    this.opts.log.warn(
      { interface: name, code, signal, restartInMs: delay },
      'wireguard-go exited; restarting',
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopping || this.#name !== name) return;
      this.#startUserspace(name).then(
        () => this.opts.onRestarted(),
        // The failed daemon's own exit schedules the next attempt.
        (err) =>
          this.opts.log.error(
            { interface: name, err: (err as Error).message },
            'wireguard-go restart failed',
          ),
      );
    }, delay);
  }

  /** 'wireguard', 'tun' (wireguard-go), another kind, '' (plain), or undefined when absent. */
  async #linkKind(name: string): Promise<string | undefined> {
    let out: string;
    try {
      out = (await this.opts.shim.run('ip', ['-d', '-j', 'link', 'show', 'dev', name])).stdout;
    } catch {
      return undefined;
    }
    const links = JSON.parse(out || '[]') as { linkinfo?: { info_kind?: string } }[];
    return links.length === 0 ? undefined : (links[0]?.linkinfo?.info_kind ?? '');
  }

  async #run(args: readonly string[]): Promise<void> {
    await this.opts.shim.run('ip', args);
  }
}
