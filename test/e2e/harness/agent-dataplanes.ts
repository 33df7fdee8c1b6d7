// The two policy dataplanes the agent e2e runs under, each behind one small adapter: how to
// build it for a node namespace, the tools it needs, and how to read back what it programmed —
// iptables-save/ipset for iptables, `nft -j list table ip tabby` for nftables — in one shape,
// so a test asserts the same kernel state under both.

import { execShim, IptablesDriver } from '../../../src/agent/dataplane/iptables/index.js';
import { IptablesDataplane } from '../../../src/agent/dataplane/iptables/manager.js';
import { NftablesDriver, TABLE_FAMILY, TABLE_NAME } from '../../../src/agent/dataplane/nftables/index.js';
import { NftablesDataplane } from '../../../src/agent/dataplane/nftables/manager.js';
import type { PolicyDataplane } from '../../../src/agent/runtime/parts.js';
import type { Logger } from '../../../src/model/logger.js';
import { ExecError } from './exec.js';
import type { LabNode } from './topology.js';

/** What Tabby has programmed on a node, read from the kernel. */
export interface TabbyKernelState {
  /** Anything of Tabby's at all: chains or ipsets (iptables), the table (nftables). */
  readonly present: boolean;
  /** Built-in hooks that enter Tabby's rules, as `table/HOOK` (raw/PREROUTING, filter/FORWARD, ...), sorted. */
  readonly hooks: readonly string[];
  /** The to-workload dispatch: interface → the chain it goes to, sorted by interface. */
  readonly toWorkload: readonly (readonly [string, string])[];
  /** The from-workload dispatch, likewise. */
  readonly fromWorkload: readonly (readonly [string, string])[];
}

export interface NodeDataplane {
  readonly dataplane: PolicyDataplane;
  /** Removes everything the dataplane programmed (idempotent). */
  cleanup(): Promise<void>;
}

export interface AgentDataplaneKind {
  readonly name: 'iptables' | 'nftables';
  /** Tools the run needs (for preflight). */
  readonly tools: readonly string[];
  /** A dataplane programming `netns` (all commands run inside it). */
  create(netns: string, log: Logger): NodeDataplane;
  read(node: LabNode): Promise<TabbyKernelState>;
}

const ABSENT: TabbyKernelState = { present: false, hooks: [], toWorkload: [], fromWorkload: [] };
const byIface = (a: readonly [string, string], b: readonly [string, string]) => (a[0] < b[0] ? -1 : 1);

const TO_WL = 'tabby-to-wl-dispatch';
const FROM_WL = 'tabby-from-wl-dispatch';

async function readIptables(node: LabNode): Promise<TabbyKernelState> {
  const hooks: string[] = [];
  const toWorkload: [string, string][] = [];
  const fromWorkload: [string, string][] = [];
  let present = (await node.exec('ipset', ['list', '-n'])).stdout
    .split('\n')
    .some((s) => s.startsWith('tabby'));
  for (const table of ['raw', 'mangle', 'filter']) {
    const { stdout } = await node.exec('iptables-save', ['-t', table]);
    for (const line of stdout.split('\n')) {
      if (/^:tabby-/.test(line)) present = true;
      // Every rule carries a `tabby:<hash>` comment, so only the shape around it is matched.
      const hook = /^-A ([A-Z]+) .*-j tabby-/.exec(line);
      if (hook) hooks.push(`${table}/${hook[1]}`);
      const dispatch = /^-A (tabby-(?:to|from)-wl-dispatch) -[io] (\S+) .*-g (\S+)$/.exec(line);
      if (dispatch && table === 'filter')
        (dispatch[1] === TO_WL ? toWorkload : fromWorkload).push([dispatch[2]!, dispatch[3]!]);
    }
  }
  return {
    present,
    hooks: hooks.sort(),
    toWorkload: toWorkload.sort(byIface),
    fromWorkload: fromWorkload.sort(byIface),
  };
}

/** Base-chain priorities of the tables iptables spreads the same hooks over (nft's raw, mangle, filter). */
const PRIORITY_TABLE: Readonly<Record<number, string>> = { [-300]: 'raw', [-150]: 'mangle', 0: 'filter' };

interface NftJsonChain {
  name: string;
  hook?: string;
  prio?: number;
}
interface NftJsonRule {
  chain: string;
  expr: unknown[];
}

/** The `iface : goto chain` entries of a dispatch chain's verdict map, from nft's JSON. */
function vmapEntries(rules: readonly NftJsonRule[], chain: string): [string, string][] {
  const out: [string, string][] = [];
  for (const r of rules.filter((x) => x.chain === chain))
    for (const e of r.expr as { vmap?: { data?: { set?: [unknown, { goto?: { target: string } }][] } } }[])
      for (const [iface, verdict] of e.vmap?.data?.set ?? [])
        if (typeof iface === 'string' && verdict.goto) out.push([iface, verdict.goto.target]);
  return out.sort(byIface);
}

async function readNftables(node: LabNode): Promise<TabbyKernelState> {
  let stdout: string;
  try {
    ({ stdout } = await node.exec('nft', ['-j', 'list', 'table', TABLE_FAMILY, TABLE_NAME]));
  } catch (err) {
    if (err instanceof ExecError && /No such file or directory/.test(err.stderr)) return ABSENT;
    throw err;
  }
  const items = (JSON.parse(stdout) as { nftables: { chain?: NftJsonChain; rule?: NftJsonRule }[] }).nftables;
  const chains = items.flatMap((i) => (i.chain ? [i.chain] : []));
  const rules = items.flatMap((i) => (i.rule ? [i.rule] : []));
  // A base chain enters Tabby's rules when it has any (nft keeps empty base chains around).
  const hooks = chains
    .filter((c) => c.hook !== undefined && rules.some((r) => r.chain === c.name))
    .map((c) => `${PRIORITY_TABLE[c.prio ?? Number.NaN] ?? `prio ${c.prio}`}/${c.hook!.toUpperCase()}`);
  return {
    present: true,
    hooks: hooks.sort(),
    toWorkload: vmapEntries(rules, TO_WL),
    fromWorkload: vmapEntries(rules, FROM_WL),
  };
}

export const IPTABLES: AgentDataplaneKind = {
  name: 'iptables',
  tools: ['ip', 'iptables', 'iptables-restore', 'iptables-save', 'ipset'],
  create(netns, log) {
    const driver = new IptablesDriver(execShim({ netns }));
    return { dataplane: new IptablesDataplane(log, driver), cleanup: () => driver.cleanup() };
  },
  read: readIptables,
};

export const NFTABLES: AgentDataplaneKind = {
  name: 'nftables',
  tools: ['ip', 'nft'],
  create(netns, log) {
    const driver = new NftablesDriver(execShim({ netns }));
    return { dataplane: new NftablesDataplane(log, driver), cleanup: () => driver.cleanup() };
  },
  read: readNftables,
};

export const AGENT_DATAPLANES: readonly AgentDataplaneKind[] = [IPTABLES, NFTABLES];
