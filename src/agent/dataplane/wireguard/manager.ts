// The agent's WireGuard dataplane: computes the model for this node from the RoutingState and
// applies it in order (device, link, peers, routes, then the rule that sends traffic to the
// table), idempotently, one sync at a time. It owns the key pair and its rotation:
// the next key is published first and the device switches to it when the datastore echoes
// it back (peers get the same fan-out at the same moment) or after a timeout, so traffic
// stops for about one handshake rather than for the whole fan-out delay.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Logger, silentLogger } from '../../../model/logger.js';
import type { RoutingState } from '../../calc/routing/state.js';
import { computeWireguard, type WireguardModel } from '../../calc/routing/wireguard.js';
import type { RoutingPart } from '../../runtime/parts.js';
import { type DesiredDevice, deviceMatches, parseDump, renderConf } from './conf.js';
import { type DeviceKind, type DeviceMode, WireguardDevice } from './device.js';
import { WireguardError } from './errors.js';
import { HandshakeNudger, type HandshakeTimings } from './handshakes.js';
import { KeyStore } from './keys.js';
import { Netlink } from './netlink.js';
import { execShim, type WireguardShim } from './shim.js';

export interface WireguardDataplaneOptions {
  /** This node's name in the datastore. */
  readonly nodeName: string;
  /** The private key file (mode 0600; its directory is created 0700). */
  readonly keyFile?: string;
  /** 'auto' (default): the kernel device if the module is there, else wireguard-go. */
  readonly deviceMode?: DeviceMode;
  /** The host's uplink MTU, for WireguardMTU = 0 (auto: host MTU - 60). Default 1500. */
  readonly hostMtu?: number;
  readonly firewallMark?: number;
  readonly routingTableIndex?: number;
  /** Routing protocol number that marks our routes in the table. Default 98. */
  readonly routeProtocol?: number;
  readonly wireguardGo?: string;
  /** Where wireguard-go puts its control sockets. */
  readonly socketDir?: string;
  /** After rotateKey(), switch the device at the latest after this long. Default 5000. */
  readonly rotationTimeoutMs?: number;
  /** When the later end of a new or re-keyed pair nudges and re-checks (handshakes.ts). */
  readonly handshakes?: HandshakeTimings;
  /** Re-fire onPublicKey at most this often while the datastore disagrees. Default 5000. */
  readonly republishIntervalMs?: number;
  /** Run every command in this network namespace (tests). Ignored when `shim` is given. */
  readonly netns?: string;
  readonly shim?: WireguardShim;
  readonly logger?: Logger;
  /** Parent of the private temporary directory for syncconf files. */
  readonly tmpDir?: string;
}

export interface WireguardPeerStatus {
  readonly node?: string;
  readonly publicKey: string;
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  readonly latestHandshake?: Date;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface WireguardStatus {
  readonly enabled: boolean;
  readonly interfaceName?: string;
  readonly device?: DeviceKind;
  readonly publicKey?: string;
  readonly listenPort?: number;
  readonly peers: readonly WireguardPeerStatus[];
}

/** What one sync changed (for logs and tests). */
export interface WireguardSyncResult {
  readonly peersWritten: boolean;
  readonly keySwitched: boolean;
  readonly commands: readonly string[];
}

type KeyListener = (publicKey: string | undefined) => void;

export const DEFAULT_KEY_FILE = '/var/lib/tabby/wireguard.key';
const DEFAULT_ROUTE_PROTO = 98;

export class WireguardDataplane implements RoutingPart {
  readonly name = 'wireguard';
  readonly #opts: WireguardDataplaneOptions;
  readonly #log: Logger;
  readonly #shim: WireguardShim;
  readonly #keys: KeyStore;
  readonly #device: WireguardDevice;
  readonly #net: Netlink;
  readonly #listeners = new Set<KeyListener>();
  #queue: Promise<unknown> = Promise.resolve();
  #state: RoutingState | undefined;
  #model: WireguardModel | undefined;
  /** Table/priority/mark/proto we last programmed, for cleanup after a config change. */
  #applied: { table: number; proto: number } | undefined;
  #rotationDeadline = 0;
  #rotationTimer: NodeJS.Timeout | undefined;
  readonly #handshakes: HandshakeNudger;
  #announced: { key: string | undefined; at: number } | undefined;
  #stopped = false;
  #lastResult: WireguardSyncResult | undefined;

  constructor(opts: WireguardDataplaneOptions) {
    if (opts.nodeName === '') throw new WireguardError('device', 'nodeName is required');
    this.#opts = opts;
    this.#log = (opts.logger ?? silentLogger).child({ dataplane: 'wireguard' });
    this.#shim = opts.shim ?? execShim({ netns: opts.netns });
    this.#keys = new KeyStore(opts.keyFile ?? DEFAULT_KEY_FILE, this.#log);
    this.#net = new Netlink(this.#shim);
    this.#device = new WireguardDevice({
      shim: this.#shim,
      log: this.#log,
      mode: opts.deviceMode ?? 'auto',
      wireguardGo: opts.wireguardGo ?? 'wireguard-go',
      socketDir: opts.socketDir ?? '/var/run/wireguard',
      readyTimeoutMs: 5000,
      restartBackoffMs: { min: 200, max: 10_000 },
      onRestarted: () => this.#resync('wireguard-go restarted'),
    });
    this.#handshakes = new HandshakeNudger(
      {
        shim: this.#shim,
        log: this.#log,
        serial: (fn) => this.#serial(fn),
        resync: async () => {
          if (this.#state !== undefined) await this.#sync(this.#state);
        },
        isStopped: () => this.#stopped,
      },
      opts.handshakes,
    );
  }

  /**
   * Resolves once no staggered handshake nudge or re-creation check is pending: until then a
   * peer may still be re-created, which resets its counters (tests compare counters).
   */
  handshakesIdle(): Promise<void> {
    return this.#handshakes.idle();
  }

  /** The public key to publish: the pending one during a rotation, else the active one. */
  publicKey(): string | undefined {
    return this.#keys.pending?.publicKey ?? this.#keys.active?.publicKey;
  }

  /** The device kind in use once a sync created it. */
  deviceKind(): DeviceKind | undefined {
    return this.#device.kind;
  }

  /** The wireguard-go pid, when userspace (tests). */
  daemonPid(): number | undefined {
    return this.#device.pid;
  }

  get lastResult(): WireguardSyncResult | undefined {
    return this.#lastResult;
  }

  /**
   * Called with the key the datastore should hold for this node: when it is created or
   * rotated, again while the datastore disagrees, and with undefined when WireGuard is
   * disabled here but the datastore still lists a key. Returns an unsubscribe function.
   */
  onPublicKey(cb: KeyListener): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** Computes the model for `state` and applies it. Throws a WireguardError on failure. */
  sync(state: RoutingState): Promise<void> {
    this.#state = state;
    return this.#serial(() => this.#sync(state));
  }

  /**
   * Starts a key rotation: creates and publishes the next key; the device switches to it when
   * a sync sees the datastore hold it, or after rotationTimeoutMs. Returns the new public key.
   */
  rotateKey(): Promise<string> {
    return this.#serial(async () => {
      const next = await this.#keys.prepareRotation();
      this.#rotationDeadline = Date.now() + (this.#opts.rotationTimeoutMs ?? 5000);
      clearTimeout(this.#rotationTimer);
      this.#rotationTimer = setTimeout(
        () => this.#resync('rotation timeout'),
        this.#opts.rotationTimeoutMs ?? 5000,
      );
      this.#rotationTimer.unref();
      this.#log.info(
        { publicKey: next.publicKey },
        'WireGuard key rotation started; publishing the next key',
      );
      this.#announce(next.publicKey, true);
      return next.publicKey;
    });
  }

  /**
   * Peers with endpoint, last handshake and byte counters, from `wg show NAME dump`; taken
   * between syncs, never in the middle of one: peers listed here have their link,
   * routes and rule in place too.
   */
  status(): Promise<WireguardStatus> {
    return this.#serial(() => this.#status());
  }

  async #status(): Promise<WireguardStatus> {
    const model = this.#model;
    const name = this.#device.name;
    if (model === undefined || !model.enabled || name === undefined) return { enabled: false, peers: [] };
    let dump: ReturnType<typeof parseDump>;
    try {
      dump = parseDump((await this.#shim.run('wg', ['show', name, 'dump'])).stdout);
    } catch (err) {
      throw new WireguardError('status', (err as Error).message, { cause: err });
    }
    const byKey = new Map(model.peers.map((p) => [p.publicKey, p.node]));
    return {
      enabled: true,
      interfaceName: name,
      device: this.#device.kind,
      publicKey: dump.publicKey,
      listenPort: dump.listenPort,
      peers: dump.peers.map((p) => ({
        node: byKey.get(p.publicKey),
        publicKey: p.publicKey,
        endpoint: p.endpoint,
        allowedIps: p.allowedIps,
        latestHandshake: p.latestHandshake === undefined ? undefined : new Date(p.latestHandshake * 1000),
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
      })),
    };
  }

  /**
   * Stops supervising wireguard-go and kills it (its device goes with it). With `cleanup`,
   * also removes the rule, our routes and a kernel device; without, a kernel device keeps
   * forwarding until the next agent takes over (Felix leaves the dataplane on exit too).
   */
  stop(options: { cleanup?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#rotationTimer);
    this.#handshakes.stop();
    return this.#serial(async () => {
      if (options.cleanup === true || this.#device.kind === 'userspace') await this.#teardown();
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #resync(why: string): void {
    const state = this.#state;
    if (state === undefined || this.#stopped) return;
    this.#serial(() => this.#sync(state)).catch((err) =>
      this.#log.error({ err: (err as Error).message, why }, 'WireGuard resync failed'),
    );
  }

  #announce(key: string | undefined, force = false): void {
    const now = Date.now();
    const interval = this.#opts.republishIntervalMs ?? 5000;
    const last = this.#announced;
    if (!force && last !== undefined && last.key === key && now - last.at < interval) return;
    this.#announced = { key, at: now };
    for (const cb of this.#listeners) {
      try {
        cb(key);
      } catch (err) {
        this.#log.error({ err: (err as Error).message }, 'onPublicKey listener threw');
      }
    }
  }

  async #sync(state: RoutingState): Promise<void> {
    if (this.#stopped) throw new WireguardError('device', 'the WireGuard dataplane is stopped');
    const model = computeWireguard(state, this.#opts.nodeName, {
      hostMtu: this.#opts.hostMtu,
      firewallMark: this.#opts.firewallMark,
      routingTableIndex: this.#opts.routingTableIndex,
    });
    const previous = this.#model;
    this.#model = model;
    for (const w of model.warnings)
      if (!previous?.warnings.includes(w)) this.#log.warn({ warning: w }, 'WireGuard config');
    if (!model.enabled) {
      if (previous === undefined || previous.enabled) await this.#teardown();
      if (model.publishedKey !== undefined) this.#announce(undefined);
      return;
    }
    const proto = this.#opts.routeProtocol ?? DEFAULT_ROUTE_PROTO;
    if (this.#applied !== undefined && this.#applied.table !== model.routingTableIndex)
      await this.#net.cleanup(this.#applied.table, this.#applied.proto);

    const created = this.#keys.active === undefined;
    const active = await this.#keys.load();
    if (created) this.#log.info({ publicKey: active.publicKey }, 'WireGuard key loaded');
    // Switch to the pending key once the datastore holds it (peers are learning it now).
    const pending = this.#keys.pending;
    const switching =
      pending !== undefined &&
      (model.publishedKey === pending.publicKey || Date.now() >= this.#rotationDeadline);
    const key = switching ? pending : active;

    await this.#device.ensure(model.interfaceName);
    // Up before the peers are written: a down device has no socket, so the handshake nudge
    // would be lost and the first packet would wait for a retry (REKEY_TIMEOUT, 5 s) instead.
    // Nothing is routed into the device before its routes exist, further down.
    const commands = await this.#net.ensureLink(model.interfaceName, model.mtu, model.interfaceAddress);
    const peersWritten = await this.#syncDevice(model, key.publicKey, key.file);
    if (switching) {
      await this.#keys.commitRotation();
      clearTimeout(this.#rotationTimer);
      this.#log.info({ publicKey: key.publicKey }, 'WireGuard key rotated; device switched');
    }
    commands.push(
      ...(await this.#net.syncRoutes(model.routingTableIndex, proto, model.interfaceName, model.routes)),
    );
    this.#applied = { table: model.routingTableIndex, proto };
    commands.push(
      ...(await this.#net.ensureRule({
        table: model.routingTableIndex,
        priority: model.routingRulePriority,
        firewallMark: model.firewallMark,
      })),
    );
    this.#lastResult = { peersWritten, keySwitched: switching, commands };
    if (peersWritten || commands.length > 0)
      this.#log.info(
        {
          peers: model.peers.length,
          excluded: model.excluded.size,
          commands: commands.length,
          keySwitched: switching,
        },
        'WireGuard updated',
      );
    const want = this.publicKey();
    if (model.publishedKey !== want) this.#announce(want, created);
  }

  /** Applies key, port, mark and peers with `wg syncconf` when the device differs. */
  async #syncDevice(model: WireguardModel, publicKey: string, keyFile: string): Promise<boolean> {
    const desired: DesiredDevice = {
      publicKey,
      listenPort: model.listenPort,
      firewallMark: model.firewallMark,
      peers: model.peers.map((p) => ({
        publicKey: p.publicKey,
        endpoint: p.endpoint,
        allowedIps: p.allowedIps,
        persistentKeepaliveSeconds: model.persistentKeepaliveSeconds,
      })),
    };
    const name = model.interfaceName;
    let dump: ReturnType<typeof parseDump>;
    try {
      dump = parseDump((await this.#shim.run('wg', ['show', name, 'dump'])).stdout);
    } catch (err) {
      throw new WireguardError('peers', `reading ${name}: ${(err as Error).message}`, { cause: err });
    }
    if (deviceMatches(desired, dump)) return false;
    // Peers with no session after this change: new keys (a peer rotated), or all of them
    // when our own key changes.
    const known = new Set(dump.peers.map((p) => p.publicKey));
    const fresh = desired.peers
      .filter((p) => dump.publicKey !== publicKey || !known.has(p.publicKey))
      .map((p) => p.publicKey);
    const dir = await mkdtemp(path.join(this.#opts.tmpDir ?? os.tmpdir(), 'tabby-wg-'));
    try {
      const file = path.join(dir, `${name}.conf`);
      const privateKey = (await readFile(keyFile, 'utf8')).trim();
      await writeFile(file, renderConf(desired, privateKey), { mode: 0o600, flag: 'wx' });
      await this.#shim.run('wg', ['syncconf', name, file]);
    } catch (err) {
      throw new WireguardError('peers', `wg syncconf ${name}: ${(err as Error).message}`, { cause: err });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Start the handshakes now rather than on the next packet, staggered per pair.
    await this.#handshakes.afterChange(name, publicKey, fresh, model.persistentKeepaliveSeconds);
    return true;
  }

  /** Removes the rule, our routes and the device (in that order: traffic leaves the table first). */
  async #teardown(): Promise<void> {
    const model = this.#model;
    const table = this.#applied?.table ?? model?.routingTableIndex;
    const proto = this.#applied?.proto ?? this.#opts.routeProtocol ?? DEFAULT_ROUTE_PROTO;
    try {
      if (table !== undefined) await this.#net.cleanup(table, proto);
      await this.#device.remove(model?.interfaceName);
    } catch (err) {
      throw err instanceof WireguardError
        ? err
        : new WireguardError('cleanup', (err as Error).message, { cause: err });
    }
    this.#applied = undefined;
  }
}
