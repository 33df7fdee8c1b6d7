// `tabby sizing`: how many replicas (and what requests) for a cluster of N nodes — Tabby's
// replica ladder, next to Calico's Typha autoscaler for the same N. The figures come from
// docs/benchmarks.md (1,000 connections per replica at p99 31-51 ms on a quarter core;
// RSS 160-190 MiB with a 20,000-key state; about 5 KiB per connection; each --workers
// process a copy of the state and a process of its own) and are flags.

import { Command } from 'commander';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { type SizingConfig, sizingSchema } from '../config/sizing-config.js';

/** Node counts of the printed ladder (and the README table). */
export const LADDER_NODES = [50, 100, 250, 500, 1000, 2000, 5000, 10000] as const;

/**
 * Measured in docs/benchmarks.md ("Server memory"): RSS of a server process with a 20,000-key
 * state (157-191 MiB at 1,000-10,000 clients: the highest, rounded up), and per idle
 * connection (4.4-4.8 KiB in the tiny-state run). With workers, the primary keeps this base
 * (datastore, caches); the connections are the workers' (the same 5 KiB each, in total).
 */
const BASE_RSS_MIB = 192;
const RSS_PER_CONNECTION_KIB = 5;
/**
 * Each worker process: in the quiet-machine `fanout-10k` runs (docs/benchmarks.md, "Standard
 * scenarios on a quiet machine"; 1,000-node / 30,000-pod state, 10,000 agents, from dist/), one
 * process peaked at 350 MiB RSS and primary + 2 workers at 661-695 MiB, i.e. 155-173 MiB per
 * worker with its mirror and snapshot of that state; an earlier loaded run through tsx gave
 * 120-171. 171 is taken for the process, and its state is counted apart below (so the state
 * is counted twice at that size: the estimate errs high). The connections cancel out of the
 * difference (the same agents either way).
 */
const WORKER_RSS_MIB = 171;
/**
 * ...plus its mirror of the state the base was measured with: the 20,000-key entries
 * (10.25 MiB, the raw snapshot's size) and a snapshot it encodes itself (up to 10.25 MiB
 * raw; 1.88 MiB deflated) — "Headline run".
 */
const WORKER_STATE_MIB = 21;
/** A quarter core carried 1,000 clients at 200 keys/s (docs/benchmarks.md, steady phase). */
const MILLICORES_PER_1000_CONNECTIONS = 250;

export interface Sizing {
  nodes: number;
  replicas: number;
  /** Connections per replica with `spareReplicas` of them down. */
  connectionsPerReplica: number;
  cpuRequestMillicores: number;
  memoryRequestMiB: number;
  /** Calico's operator (pkg/common/autoscale.go): nodes/200 + 2, at least 3. */
  typhaReplicas: number;
}

type Ladder = Omit<SizingConfig, 'nodes' | 'json'>;

export function size(nodes: number, o: Ladder): Sizing {
  const connections = nodes * o.syncersPerNode;
  const replicas = Math.max(
    o.minReplicas,
    Math.ceil(connections / o.connectionsPerReplica) + o.spareReplicas,
  );
  const perReplica = Math.ceil(connections / Math.max(1, replicas - o.spareReplicas));
  // --workers 1 is one process, with the connections in it; N > 1 adds N processes.
  const workers = o.workers > 1 ? o.workers : 0;
  const mib =
    BASE_RSS_MIB +
    workers * (WORKER_RSS_MIB + WORKER_STATE_MIB) +
    (perReplica * RSS_PER_CONNECTION_KIB) / 1024;
  return {
    nodes,
    replicas,
    connectionsPerReplica: perReplica,
    cpuRequestMillicores: Math.max(
      250,
      Math.ceil((perReplica * MILLICORES_PER_1000_CONNECTIONS) / 1000 / 50) * 50,
    ),
    memoryRequestMiB: Math.ceil(mib / 64) * 64,
    typhaReplicas: Math.max(3, Math.floor(nodes / 200) + 2),
  };
}

/** The ladder as a Markdown table (printed by the command, and in README). */
export function ladderTable(rows: readonly Sizing[]): string {
  const head =
    '| nodes | replicas | connections per replica (one down) | CPU request | memory request | Typha (operator) |';
  const lines = rows.map(
    (r) =>
      `| ${r.nodes.toLocaleString('en')} | ${r.replicas} | ${r.connectionsPerReplica.toLocaleString('en')} | ${r.cpuRequestMillicores}m | ${r.memoryRequestMiB}Mi | ${r.typhaReplicas} |`,
  );
  return [head, '|---:|---:|---:|---:|---:|---:|', ...lines].join('\n');
}

export function sizingCommand(): Command {
  const cmd = new Command('sizing').description(
    'replicas and requests for a cluster of N nodes (the replica ladder), beside Typha’s',
  );
  addSchemaOptions(cmd, sizingSchema.shape);
  cmd.action(() => {
    const cfg = resolveConfig(cmd, sizingSchema);
    const rows = (cfg.nodes === undefined ? LADDER_NODES : [cfg.nodes]).map((n) => size(n, cfg));
    process.stdout.write(
      cfg.json ? `${JSON.stringify(cfg.nodes === undefined ? rows : rows[0])}\n` : `${ladderTable(rows)}\n`,
    );
  });
  return cmd;
}
