// Memory soak for `tabby serve` as `npm start` runs it (sim-api datastore, in-process API
// emulator, demo agents): samples RSS, V8 heap, external and arrayBuffers over time and
// optionally writes heap snapshots, to check design.md's "memory is state + window".
//
//   npx tsc -p tsconfig.build.json
//   node --import tsx loadtest/memory-soak.ts --minutes 8 --every 30 -- --sim-churn-per-sec 200
//
// Everything after `--` is passed to `tabby serve`. Heap snapshots (--snapshots-at 60,420)
// go to loadtest/results/ and can be compared with loadtest/heap-diff.ts.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const MiB = 1 << 20;

const sep = process.argv.indexOf('--');
const own = sep < 0 ? process.argv.slice(2) : process.argv.slice(2, sep);
const serveExtra = sep < 0 ? [] : process.argv.slice(sep + 1);
const { values: flags } = parseArgs({
  args: own,
  options: {
    minutes: { type: 'string', default: '8' },
    every: { type: 'string', default: '30' },
    'snapshots-at': { type: 'string', default: '' },
    port: { type: 'string', default: '15473' },
    // A/B runs: another build's entry point (e.g. a checkout of main built elsewhere).
    main: { type: 'string', default: here('../dist/cli/main.js') },
    // Without forced GCs, RSS is what `npm start` shows; with them, heap is live data only.
    'no-gc': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(
    'usage: node --import tsx loadtest/memory-soak.ts [--minutes N] [--every SECONDS] [--snapshots-at S,S] [--port P] [--main dist/cli/main.js] [--no-gc] [-- serve flags]',
  );
  process.exit(0);
}
const minutes = Number(flags.minutes);
const everyS = Number(flags.every);
const snapshotsAt = new Set(
  flags['snapshots-at']
    .split(',')
    .filter((s) => s !== '')
    .map(Number),
);
const port = Number(flags.port);

const serveArgs = [
  flags.main,
  'serve',
  '--datastore',
  'sim-api',
  '--agents',
  '3',
  '--listen',
  `127.0.0.1:${port}`,
  '--health-listen',
  `127.0.0.1:${port + 1}`,
  '--log-level',
  'warn',
  ...serveExtra,
];

function startServer(): ChildProcess {
  const gc = flags['no-gc'] ? [] : ['--expose-gc'];
  return spawn(
    process.execPath,
    [...gc, '--import', 'tsx', '--import', here('./memory-probe.ts'), ...serveArgs],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
}

let nextId = 1;
function request<T>(child: ChildProcess, msg: object, timeoutMs = 120_000): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`probe request ${id} timed out`)), timeoutMs);
    const onMessage = (m: { id: number }) => {
      if (m.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.send({ ...msg, id });
  });
}

/** tabby_cache_history_bytes summed over syncers, from /metrics. */
async function historyBytes(): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port + 1}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n'))
      if (line.startsWith('tabby_cache_history_bytes')) sum += Number(line.split(' ').at(-1));
    return sum;
  } catch {
    return Number.NaN;
  }
}

const mib = (n: number) => (n / MiB).toFixed(1).padStart(7);

async function main(): Promise<void> {
  const child = startServer();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (!stopping) {
      console.error(`server exited early (code ${code}, signal ${signal})`);
      process.exit(1);
    }
  });
  let stopping = false;
  const stop = () => {
    stopping = true;
    child.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const resultsDir = here('./results');
  mkdirSync(resultsDir, { recursive: true });
  console.log(`tabby ${serveArgs.slice(1).join(' ')}`);
  console.log(
    flags['no-gc']
      ? 'no forced GC: every figure as sampled'
      : 'RSS as sampled; heap, external and arrayBuffers after a full GC (live data)',
  );
  console.log('    t_s  rss_MiB heapUsed heapTotal external arrayBuf history_MiB');
  const t0 = Date.now();
  const endS = minutes * 60;
  for (let t = everyS; t <= endS; t += everyS) {
    const wait = t0 + t * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (stopping) break;
    const { memory: raw, afterGc: m } = await request<{
      memory: NodeJS.MemoryUsage;
      afterGc: NodeJS.MemoryUsage;
    }>(child, { probe: 'sample' });
    const h = await historyBytes();
    console.log(
      `${String(t).padStart(7)} ${mib(raw.rss)} ${mib(m.heapUsed)} ${mib(m.heapTotal)} ${mib(m.external)} ${mib(m.arrayBuffers)} ${mib(h)}`,
    );
    if (snapshotsAt.has(t)) {
      const path = `${resultsDir}/soak-${t}s.heapsnapshot`;
      const r = await request<{ path: string }>(child, { probe: 'snapshot', path }, 300_000);
      console.log(`        heap snapshot: ${r.path}`);
    }
  }
  stop();
  await exited;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
