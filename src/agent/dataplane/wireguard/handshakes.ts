// Starting WireGuard handshakes after a key change instead of waiting for the next packet,
// without letting the two ends of a pair cross their initiations.
//
// Both ends of a pair see a new key (a rotation, a new node) in the same fan-out. An end that
// applies first sends an initiation the other cannot answer yet, and WireGuard retries only
// after REKEY_TIMEOUT (5 s); so both ends nudge. But if both nudged at once, the initiations
// would cross: each end answers the other's and drops the answer to its own (WireGuard keeps
// one handshake per peer), and the pair again waits 5 s. So per pair the end with the lower
// public key nudges at once; the other nudges `staggerMs` later, only if nothing came from that
// peer meanwhile, and `watchdogMs` after that re-creates a peer that still has no handshake
// (traffic can start an initiation at the very moment the other end's is in flight): a new
// peer has no retry rate limit, and the other end cannot initiate again within those 5 s.

import type { Logger } from '../../../model/logger.js';
import { parseDump } from './conf.js';
import type { WireguardShim } from './shim.js';

export interface HandshakeHost {
  readonly shim: WireguardShim;
  readonly log: Logger;
  /** Runs `fn` between syncs. */
  serial(fn: () => Promise<void>): Promise<void>;
  /** Applies the current state again (re-adds peers removed here); called between syncs. */
  resync(): Promise<void>;
  isStopped(): boolean;
}

export interface HandshakeTimings {
  /** Default 200. */
  readonly staggerMs?: number;
  /** Default 500. */
  readonly watchdogMs?: number;
}

type Peers = ReturnType<typeof parseDump>['peers'];

export class HandshakeNudger {
  readonly #host: HandshakeHost;
  readonly #staggerMs: number;
  readonly #watchdogMs: number;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Delayed tasks running now. */
  #running = 0;
  /** Peers the watchdog re-created: they get no second watchdog. */
  readonly #recreated = new Set<string>();

  constructor(host: HandshakeHost, timings: HandshakeTimings = {}) {
    this.#host = host;
    this.#staggerMs = timings.staggerMs ?? 200;
    this.#watchdogMs = timings.watchdogMs ?? 500;
  }

  /**
   * Called right after the device `name`, whose own public key is `ownKey`, got peers with no
   * session (`fresh`: new keys, or all peers when our own key changed).
   */
  async afterChange(
    name: string,
    ownKey: string,
    fresh: readonly string[],
    keepalive: number,
  ): Promise<void> {
    await this.nudge(
      name,
      fresh.filter((k) => ownKey < k),
      keepalive,
    );
    const later = fresh.filter((k) => ownKey > k);
    if (later.length > 0) this.#nudgeLater(name, later, keepalive);
  }

  /** Resolves once no delayed nudge or check is pending or running. */
  async idle(): Promise<void> {
    while (this.#timers.size > 0 || this.#running > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** Drops pending nudges and checks. */
  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  /**
   * Makes the device start a handshake with `keys` now instead of on the next packet: turning
   * persistent keepalive on sends a keepalive at once (kernel and wireguard-go), which needs a
   * session; it goes back to the configured value right after.
   */
  async nudge(name: string, keys: readonly string[], keepalive: number): Promise<void> {
    if (keys.length === 0) return;
    const set = (value: string) => [
      'set',
      name,
      ...keys.flatMap((k) => ['peer', k, 'persistent-keepalive', value]),
    ];
    try {
      if (keepalive > 0) await this.#host.shim.run('wg', set('off'));
      await this.#host.shim.run('wg', set(keepalive > 0 ? String(keepalive) : '1'));
      if (keepalive === 0) await this.#host.shim.run('wg', set('off'));
    } catch (err) {
      // The peers are configured; only the early handshake is lost.
      this.#host.log.warn({ err: (err as Error).message }, 'could not trigger WireGuard handshakes');
    }
  }

  #nudgeLater(name: string, keys: readonly string[], keepalive: number): void {
    // Counted from now: data still arriving on a session from before the change is no answer.
    const baseline = this.#peers(name);
    baseline.catch(() => undefined);
    // An unreachable node must not make us re-create its peer forever.
    const watched = keys.filter((k) => !this.#recreated.delete(k));
    this.#after(this.#staggerMs, async () => {
      const [peers, now] = await Promise.all([baseline, this.#peers(name)]);
      const before = new Map(peers.map((p) => [p.publicKey, p]));
      const rx = new Map(now.map((p) => [p.publicKey, p.rxBytes]));
      const quiet = keys.filter((k) => rx.has(k) && rx.get(k) === (before.get(k)?.rxBytes ?? 0));
      await this.nudge(name, quiet, keepalive);
      if (watched.length > 0)
        this.#after(this.#watchdogMs, () => this.#recreateStalled(name, watched, before));
    });
  }

  async #recreateStalled(
    name: string,
    keys: readonly string[],
    atChange: ReadonlyMap<string, { readonly latestHandshake?: number }>,
  ): Promise<void> {
    // `wg show` gives whole seconds: a new handshake in the same second as the last one looks
    // like none, and costs one needless re-creation (a handshake), never a 5 s stall.
    const stalled = (await this.#peers(name))
      .filter(
        (p) => keys.includes(p.publicKey) && p.latestHandshake === atChange.get(p.publicKey)?.latestHandshake,
      )
      .map((p) => p.publicKey);
    if (stalled.length === 0) return;
    this.#host.log.info(
      { peers: stalled },
      'no WireGuard handshake after a key change; re-creating the peers',
    );
    for (const k of stalled) this.#recreated.add(k);
    await this.#host.shim.run('wg', ['set', name, ...stalled.flatMap((k) => ['peer', k, 'remove'])]);
    await this.#host.resync();
  }

  async #peers(name: string): Promise<Peers> {
    return parseDump((await this.#host.shim.run('wg', ['show', name, 'dump'])).stdout).peers;
  }

  /** Runs `fn` after `ms`, between syncs; dropped once the dataplane stops. */
  #after(ms: number, fn: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#host.isStopped()) return;
      this.#running++;
      this.#host
        .serial(fn)
        .catch((err: Error) =>
          this.#host.log.warn({ err: err.message }, 'could not trigger WireGuard handshakes'),
        )
        .finally(() => this.#running--);
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }
}
