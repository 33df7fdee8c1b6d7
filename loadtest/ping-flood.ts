// Hand measurement for issue 9 item 1: N clients complete HELLO, never read, and send PINGs
// as fast as their sockets take them. Samples the server's RSS (/proc), the time /metrics
// takes to answer and a well-behaved client's PING round trip, once a second.
//
//   node --import tsx loadtest/ping-flood.ts [--root DIR] [--conns 16] [--seconds 25] [--max-rss-mib 6000]
//     [--serve-args="--client-ping-burst 1000000000"]
//
// --root runs `DIR/src/cli/main.ts serve` (e.g. an export of an older commit to compare).
// The server is killed if its RSS passes --max-rss-mib, so the machine survives the "before".

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { encodeMessage } from '../src/protocol/codec.js';
import { FrameDecoder } from '../src/protocol/decoder.js';
import { MsgType } from '../src/protocol/messages.js';

const { values: args } = parseArgs({
  options: {
    root: { type: 'string', default: resolve(import.meta.dirname, '..') },
    conns: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '25' },
    'max-rss-mib': { type: 'string', default: '6000' },
    /** Extra `serve` flags, space-separated (e.g. "--client-ping-burst 1000000000"). */
    'serve-args': { type: 'string', default: '' },
  },
});
const CONNS = Number(args.conns);
const SECONDS = Number(args.seconds);
const MAX_RSS_MIB = Number(args['max-rss-mib']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startServer(root: string): Promise<{ proc: ChildProcess; sync: string; health: string }> {
  const main = resolve(root, 'src/cli/main.ts');
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', main, 'serve', '--datastore', 'sim', '--listen', '127.0.0.1:0'].concat([
      '--health-listen',
      '127.0.0.1:0',
      '--lint',
      'false',
      ...(args['serve-args'] ? args['serve-args'].split(' ') : []),
    ]),
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let sync = '';
  let health = '';
  for await (const line of createInterface({ input: proc.stdout! })) {
    const rec = JSON.parse(line) as { msg?: string; address?: string };
    if (rec.msg === 'sync server listening') sync = rec.address!;
    if (rec.msg === 'health and metrics listening') health = rec.address!;
    if (rec.msg === 'datastore started') break;
  }
  proc.stdout!.resume(); // keep draining its log
  return { proc, sync, health };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function open(address: string, hostname: string): Promise<Socket> {
  const [host, port] = address.split(':');
  const s = connect({ host: host!, port: Number(port) });
  s.on('error', () => {});
  return new Promise((ok, fail) => {
    s.once('connect', () => {
      s.write(
        encodeMessage({
          type: MsgType.Hello,
          body: { versions: [1], syncer: 'felix', hostname, agent: 'ping-flood', compressions: [] },
        }),
      );
      ok(s);
    });
    s.once('error', fail);
  });
}

/** Writes PINGs as fast as the socket takes them, never reading. */
function flood(s: Socket, until: number): void {
  s.pause();
  const batch = Buffer.concat(
    Array.from({ length: 1_000 }, () => encodeMessage({ type: MsgType.Ping, body: { ts: 1 } })),
  );
  const pump = () => {
    while (!s.destroyed && Date.now() < until) if (!s.write(batch)) return void s.once('drain', pump);
  };
  pump();
}

/** A well-behaved client's PING → PONG time (ms), or NaN if none within 60 s. */
async function roundTrip(s: Socket, pongs: Array<() => void>): Promise<number> {
  const t0 = performance.now();
  const got = new Promise<void>((r) => pongs.push(r));
  s.write(encodeMessage({ type: MsgType.Ping, body: { ts: Date.now() } }));
  const timeout = sleep(60_000).then(() => 'timeout');
  return (await Promise.race([got, timeout])) === 'timeout' ? Number.NaN : performance.now() - t0;
}

async function timed(url: string): Promise<number> {
  const t0 = performance.now();
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    await r.text();
    return performance.now() - t0;
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<void> {
  const { proc, sync, health } = await startServer(args.root!);
  const pid = proc.pid!;
  await sleep(2_000);
  const good = await open(sync, 'good');
  const decoder = new FrameDecoder({ maxFrameBytes: 64 << 20, maxMessageBytes: 256 << 20 });
  const pongs: Array<() => void> = [];
  good.on('data', (d: Buffer) => {
    for (const m of decoder.push(d)) if (m.type === MsgType.Pong) pongs.shift()?.();
  });
  await sleep(1_000);
  const rss0 = rssMiB(pid);
  const until = Date.now() + SECONDS * 1_000;
  const flooders = await Promise.all(Array.from({ length: CONNS }, (_, i) => open(sync, `flood-${i}`)));
  for (const f of flooders) flood(f, until);
  console.log(`root ${args.root}  conns ${CONNS}  seconds ${SECONDS}  rss before ${rss0.toFixed(0)} MiB`);
  // RSS on its own timer: the probes below may wait for seconds on a saturated server.
  const rssSamples: number[] = [];
  let stop = false;
  const sampler = setInterval(() => {
    const rss = rssMiB(pid);
    rssSamples.push(rss);
    if (rss > MAX_RSS_MIB) {
      console.log(`RSS above ${MAX_RSS_MIB} MiB: stopping the server`);
      stop = true;
      proc.kill('SIGKILL');
    }
  }, 1_000);
  const metricsMs: number[] = [];
  const rttMs: number[] = [];
  while (!stop && Date.now() < until) {
    const [m, r] = await Promise.all([timed(`http://${health}/metrics`), roundTrip(good, pongs)]);
    metricsMs.push(m);
    rttMs.push(r);
    await sleep(Math.max(0, 1_000 - m));
  }
  clearInterval(sampler);
  const openCount = flooders.filter((f) => !f.destroyed && !f.readableEnded).length;
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(`rss_mib per second:  ${fmt(rssSamples)}`);
  console.log(`/metrics ms:         ${fmt(metricsMs)}`);
  console.log(`PING round trip ms:  ${fmt(rttMs)}`);
  console.log(`flooders still open: ${openCount} of ${CONNS}`);
  const peak = Math.max(rss0, ...rssSamples);
  console.log(`peak rss ${peak.toFixed(0)} MiB (+${(peak - rss0).toFixed(0)} MiB over the start)`);
  for (const f of flooders) f.destroy();
  good.destroy();
  proc.kill('SIGKILL');
}

await main();
