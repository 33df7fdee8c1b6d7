// The only bpf code that touches the OS, through the exec shim (tests replace it): loads
// bpf/build/policy.o with its maps pinned under <base>/maps and programs under <base>/progs (or
// adopts them, with the state file, after a restart: the attached programs never stop), writes
// each policy version with one `bpftool batch` (plan.ts orders it so the flip is one write),
// attaches the programs to new workload and host endpoint interfaces with tc (clsact,
// direct-action) and detaches them from removed ones. bpftool runs in the agent's mount namespace (the pins); tc and ip run
// in the dataplane's network namespace through nsenter, which keeps /sys/fs/bpf visible
// (`ip netns exec` remounts /sys and hides it).

import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Shim } from '../exec-shim.js';
import type { EncodedPolicy } from './encode.js';
import { BpfApplyError, BpfUnavailableError, loadError } from './errors.js';
import { MAPS, type MapName, PROGS } from './layout.js';
import { type BpfState, EMPTY_STATE, type PlanStats, planApply } from './plan.js';

/** The clsact hooks Tabby's filters sit on: ingress = from the interface's peer, egress = to it. */
const DIRECTIONS = ['ingress', 'egress'] as const;

export interface BpfDriverOptions {
  /** Where maps and programs are pinned (bpffs), e.g. /sys/fs/bpf/tabby. */
  readonly baseDir: string;
  /** The JSON file recording what the maps hold (not on bpffs: it takes pins only). */
  readonly stateFile: string;
  /** The compiled program (npm run build:bpf). */
  readonly object: string;
  /** Attach in this network namespace (/run/netns/<name>); default the agent's own. */
  readonly netns?: string;
}

export interface BpfApplyResult extends PlanStats {
  readonly attached: readonly string[];
  readonly detached: readonly string[];
  /** Whether the first apply adopted programs and maps a previous agent left pinned. */
  readonly adopted: boolean;
}

export class BpfDriver {
  #state: BpfState | undefined;
  #adopted = false;
  /** Set after a failed batch: the next apply rewrites every endpoint entry and drops strays. */
  #dirty = false;

  constructor(
    private readonly shim: Shim,
    private readonly opts: BpfDriverOptions,
  ) {}

  mapPath = (m: MapName): string => join(this.opts.baseDir, 'maps', m);
  progPath = (p: string): string => join(this.opts.baseDir, 'progs', p);

  /** Loads (or adopts) the programs and maps; throws BpfUnavailableError / BpfVerifierError. */
  async start(): Promise<void> {
    if (this.#state !== undefined) return;
    await stat(this.opts.object).catch((err: Error) => {
      throw new BpfUnavailableError(
        `no compiled program at ${this.opts.object} (npm run build:bpf needs clang, llvm, libbpf-dev)`,
        { cause: err },
      );
    });
    await this.#ensureBpffs();
    const pins = [...MAPS.map(this.mapPath), ...Object.values(PROGS).map(this.progPath)];
    const present = await Promise.all(pins.map((p) => exists(p)));
    const saved = await this.#readState();
    if (present.every(Boolean) && saved !== undefined) {
      this.#state = saved;
      this.#adopted = true;
      return;
    }
    // Pins without a state file (or a partial set) cannot be adopted safely: start over.
    if (present.some(Boolean)) await rm(this.opts.baseDir, { recursive: true, force: true });
    await mkdir(this.opts.baseDir, { recursive: true });
    try {
      await this.shim.run('bpftool', [
        'prog',
        'loadall',
        this.opts.object,
        join(this.opts.baseDir, 'progs'),
        'type',
        'classifier',
        'pinmaps',
        join(this.opts.baseDir, 'maps'),
      ]);
    } catch (err) {
      await rm(this.opts.baseDir, { recursive: true, force: true }).catch(() => undefined);
      throw loadError((err as Error).message, err);
    }
    this.#state = EMPTY_STATE;
    await this.#writeState(EMPTY_STATE);
  }

  async apply(policy: EncodedPolicy): Promise<BpfApplyResult> {
    await this.start();
    const prev = this.#state!;
    const ifindex = await this.#interfaces();
    const strays = this.#dirty ? await this.#epEntries() : undefined;
    const plan = planApply(prev, policy, ifindex, this.mapPath, strays);
    if (plan.lines.length > 0) {
      try {
        await this.shim.run('bpftool', ['batch', 'file', '-'], `${plan.lines.join('\n')}\n`);
      } catch (err) {
        // Before the flip nothing read the half-written entries; after it, the next apply
        // rewrites every entry. Set ids and code ranges of this attempt are not reused.
        this.#dirty = true;
        this.#state = {
          ...prev,
          nextSetId: plan.state.nextSetId,
          top: plan.state.top,
          free: prev.free.filter(([s]) => s >= plan.state.top),
        };
        throw new BpfApplyError('map update', (err as Error).message, { cause: err });
      }
    }
    this.#dirty = false;
    // Attach only after the endpoint's entries exist (a program with no entry drops).
    const attach = Object.entries(plan.state.endpoints)
      .filter(([iface, e]) => prev.endpoints[iface]?.ifindex !== e.ifindex)
      .map(([iface]) => iface)
      .sort();
    const detach = Object.entries(prev.endpoints)
      .filter(([iface, e]) => plan.state.endpoints[iface]?.ifindex !== e.ifindex && !attach.includes(iface))
      .map(([iface]) => iface)
      .sort();
    this.#state = plan.state;
    await this.#writeState(plan.state);
    if (attach.length > 0)
      await this.#tc(
        attach.flatMap((i) => this.#attachLines(i)),
        'attach',
      );
    if (detach.length > 0) await this.#detach(detach, 'detach');
    const adopted = this.#adopted;
    this.#adopted = false;
    return { ...plan.stats, attached: attach, detached: detach, adopted };
  }

  /** Detaches from every interface it attached to and removes the pins and the state file. */
  async cleanup(): Promise<void> {
    const state = this.#state ?? (await this.#readState());
    const ifaces = Object.keys(state?.endpoints ?? {});
    if (ifaces.length > 0) await this.#detach(ifaces, 'cleanup');
    await rm(this.opts.baseDir, { recursive: true, force: true });
    await rm(this.opts.stateFile, { force: true });
    this.#state = undefined;
  }

  #attachLines(iface: string): string[] {
    const filter = (dir: 'ingress' | 'egress', prog: string) =>
      `filter replace dev ${iface} ${dir} pref 1 handle 1 bpf direct-action object-pinned ${this.progPath(prog)}`;
    return [
      `qdisc replace dev ${iface} clsact`,
      filter('ingress', PROGS.fromWorkload),
      filter('egress', PROGS.toWorkload),
    ];
  }

  /**
   * Removes Tabby's two filters from each interface, and its clsact qdisc only once no other
   * filter is left on it: a host interface may carry someone else's tc programs, which
   * deleting the qdisc would silently remove. Interfaces already gone (a deleted pod's veth)
   * are skipped.
   */
  async #detach(ifaces: readonly string[], what: string): Promise<void> {
    await this.#tc(
      ifaces.flatMap((i) => DIRECTIONS.map((dir) => `filter del dev ${i} ${dir} pref 1 handle 1 bpf`)),
      what,
      true,
    );
    // One `tc filter show` pair per interface, all at once: a cleanup covers every pod's veth.
    const bare = (await Promise.all(ifaces.map(async (i) => ((await this.#noFilters(i)) ? [i] : [])))).flat();
    if (bare.length > 0)
      await this.#tc(
        bare.map((i) => `qdisc del dev ${i} clsact`),
        what,
        true,
      );
  }

  /** Whether the interface's clsact holds no filter at all (false when it or the qdisc is gone). */
  async #noFilters(iface: string): Promise<boolean> {
    try {
      for (const dir of DIRECTIONS) {
        const { stdout } = await this.#inNetns('tc', ['filter', 'show', 'dev', iface, dir]);
        if (stdout.trim() !== '') return false;
      }
      return true;
    } catch {
      return false;
    }
  }

  async #tc(lines: readonly string[], what: string, force = false): Promise<void> {
    try {
      await this.#inNetns('tc', [...(force ? ['-force'] : []), '-batch', '-'], `${lines.join('\n')}\n`);
    } catch (err) {
      // -force: removing from interfaces that are already gone is fine.
      if (!force) throw new BpfApplyError(what, (err as Error).message, { cause: err });
    }
  }

  #inNetns(cmd: string, args: readonly string[], stdin?: string) {
    return this.opts.netns === undefined
      ? this.shim.run(cmd, args, stdin)
      : this.shim.run('nsenter', [`--net=/run/netns/${this.opts.netns}`, cmd, ...args], stdin);
  }

  async #interfaces(): Promise<Map<string, number>> {
    const { stdout } = await this.#inNetns('ip', ['-j', 'link', 'show']);
    const links = JSON.parse(stdout) as { ifindex: number; ifname: string }[];
    return new Map(links.map((l) => [l.ifname, l.ifindex]));
  }

  /** Every (ifindex, slot) in tabby_eps. */
  async #epEntries(): Promise<[number, number][]> {
    const { stdout } = await this.shim.run('bpftool', [
      '-j',
      'map',
      'dump',
      'pinned',
      this.mapPath('tabby_eps'),
    ]);
    const rows = JSON.parse(stdout) as { key: string[] }[];
    const u32 = (b: string[], at: number) =>
      b.slice(at, at + 4).reduceRight((v, x) => v * 256 + Number.parseInt(x, 16), 0);
    return rows.map((r) => [u32(r.key, 0), u32(r.key, 4)]);
  }

  async #ensureBpffs(): Promise<void> {
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    if (mounts.split('\n').some((l) => l.split(' ')[1] === '/sys/fs/bpf' && l.split(' ')[2] === 'bpf'))
      return;
    try {
      await this.shim.run('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
    } catch (err) {
      throw new BpfUnavailableError(
        `no bpffs at /sys/fs/bpf and mounting one failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async #readState(): Promise<BpfState | undefined> {
    try {
      const s = JSON.parse(await readFile(this.opts.stateFile, 'utf8')) as BpfState;
      return s.format === EMPTY_STATE.format ? s : undefined;
    } catch {
      return undefined;
    }
  }

  async #writeState(s: BpfState): Promise<void> {
    await mkdir(dirname(this.opts.stateFile), { recursive: true });
    const tmp = `${this.opts.stateFile}.tmp`;
    await writeFile(tmp, JSON.stringify(s));
    await rename(tmp, this.opts.stateFile);
  }
}

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

/** bpf/build/policy.o of this checkout or package (src/… and dist/… sit at the same depth). */
export function defaultObjectPath(): string {
  return new URL('../../../../bpf/build/policy.o', import.meta.url).pathname;
}
