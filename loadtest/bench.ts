// `npm run bench`: the fan-out benchmark. The server runs in its own child process (so its
// memory and CPU are its own); clients run as LeanClients in 1–4 worker processes (a process
// may hold at most 20,000 files). Scenarios: fan-out of paced and burst deltas to N clients,
// and N clients fetching the snapshot at once. Prints tables, writes loadtest/results/latest.json.

import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_SERVER_OPTIONS } from '../src/server/options.js';
import { children, lastSnapshot, startServer, stopAll } from './processes.js';
import { type BenchReport, printReport, type ScenarioReport, writeReport } from './report.js';
import { fanout, snapshotStorm } from './scenarios.js';
import { type PhaseSpec, parsePhases, type Settings } from './settings.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('want a non-negative integer');
  return n;
};
const intList = (v: string) => v.split(',').filter(Boolean).map(int);

const phases = (v: string): PhaseSpec[] => {
  try {
    return parsePhases(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
};

const DEFAULT_PHASES = 'steady:200x10@20,burst:200x10@1000,small:100x1@10';
const QUICK = { keys: 5_000, phases: parsePhases('steady:50x10@20,burst:50x10@1000'), snapshotClients: 50 };

process.on('exit', () => {
  for (const c of children) c.killNow();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    console.error(`\n${sig}: stopping children`);
    process.exit(130);
  });

async function main(): Promise<void> {
  const cmd = new Command('bench')
    .description('Tabby fan-out benchmark (server in a child process, clients in worker processes)')
    .option('--clients <list>', 'fan-out scenarios: client counts, comma separated', intList, [1_000, 10_000])
    .option('--snapshot-clients <n>', 'clients fetching the snapshot at once (0: skip)', int, 200)
    .option('--keys <n>', 'workload-endpoint keys in the state', int, 20_000)
    .addOption(
      new Option('--phases <list>', 'delta phases NAME:GENSxKEYS@RATE, comma separated')
        .argParser(phases)
        .default(parsePhases(DEFAULT_PHASES), DEFAULT_PHASES),
    )
    .option('--workers <n>', 'lean-client worker processes (0: one per --clients-per-worker, max 4)', int, 0)
    .option('--clients-per-worker <n>', 'clients per worker when --workers is 0', int, 2_500)
    .option('--client-nice <n>', 'nice value for client workers, so the server gets the CPU first', int, 10)
    .option('--verifiers <n>', 'full SyncClients (hash-checked) in a worker of their own', int, 1)
    .option('--concurrency <n>', 'handshakes in flight per worker in fan-out scenarios', int, 100)
    .option('--idle-ms <n>', 'idle time before measuring memory with clients connected', int, 2_000)
    .option(
      '--min-deflate-bytes <n>',
      'cache minDeflateBytes; default: deltas never compressed',
      int,
      2 << 20,
    )
    .option(
      '--listen-backlog <n>',
      'server accept queue length (SyncServer listenBacklog)',
      int,
      DEFAULT_SERVER_OPTIONS.listenBacklog,
    )
    .option('--quick', 'small run: 100 and 1,000 clients, 5,000 keys, 50+50 generations, 50 snapshot clients')
    .option('--out <file>', 'JSON results', fileURLToPath(new URL('./results/latest.json', import.meta.url)));
  cmd.parse();
  const o = cmd.opts();
  const fromCli = (k: string) => cmd.getOptionValueSource(k) === 'cli';
  if (o['quick']) {
    for (const [k, v] of Object.entries(QUICK)) if (!fromCli(k)) o[k] = v;
    if (!fromCli('clients')) o['clients'] = [100, 1_000];
  }
  const s: Settings = { ...(o as Settings) };
  const started = Date.now();
  const scenarios: ScenarioReport[] = [];
  for (const n of s.clients) scenarios.push(await fanout(n, s));
  if (s.snapshotClients > 0) scenarios.push(await snapshotStorm(s.snapshotClients, s));
  let snapshot = lastSnapshot;
  if (!snapshot) {
    const started = await startServer(s);
    snapshot = started.snapshot;
    await stopAll([started.server]);
  }
  const report: BenchReport = {
    startedAt: new Date(started).toISOString(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      totalMemGiB: Math.round(totalmem() / 2 ** 30),
    },
    settings: { ...s, out: undefined, elapsedS: Math.round((Date.now() - started) / 1000) },
    snapshot,
    scenarios,
  };
  printReport(report);
  writeReport(String(o['out']), report);
  console.log(`\nwrote ${o['out']} (${Math.round((Date.now() - started) / 1000)} s)`);
  if (scenarios.some((x) => x.error)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
