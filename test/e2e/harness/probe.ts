// Real packets from inside a namespace: a TCP connect / UDP ping probe and TCP / UDP echo
// listeners, each a short `node -e` program started with `ip netns exec`, so results come from the
// kernel's own answer (SYN-ACK, RST, ICMP, silence) rather than from any simulation.

import { spawn } from 'node:child_process';
import type { Cleanup } from './cleanup.js';
import { commandLine, ExecError, inNetns } from './exec.js';

export type ProbeResult = 'connected' | 'refused' | 'timeout' | 'unreachable';
export type UdpProbeResult = 'reply' | 'refused' | 'timeout' | 'unreachable';

export interface ProbeOptions {
  /**
   * How long to wait for an answer; silence (a DROP) yields 'timeout'. Default 2000: generous,
   * since a positive answer returns at once; pass a short one when a timeout is expected.
   */
  timeoutMs?: number;
}

const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
/** Headroom for starting node inside the namespace, on top of the probe's own timeout. */
const SPAWN_HEADROOM_MS = 10_000;

// Shared by both probes: print one word and exit; map errno codes to results.
const PROBE_PRELUDE = `
const [host, port, timeoutMs] = process.argv.slice(1);
const done = (r) => { process.stdout.write(r); process.exit(0); };
const fail = (e) => {
  if (e.code === 'ECONNREFUSED') done('refused');
  else if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') done('unreachable');
  else { process.stderr.write(String(e.code || e.message)); process.exit(2); }
};
// setImmediate: if the process was descheduled, an answer already queued for the poll phase wins
// over the timer (timers run first in libuv's loop), so a stall is not misread as a DROP.
setTimeout(() => setImmediate(() => done('timeout')), Number(timeoutMs));
`;

const TCP_PROBE = `${PROBE_PRELUDE}
const s = require('node:net').connect({ host, port: Number(port) });
s.on('connect', () => done('connected'));
s.on('error', fail);
`;

const UDP_PROBE = `${PROBE_PRELUDE}
const s = require('node:dgram').createSocket('udp4');
s.on('message', () => done('reply'));
s.on('error', fail);
s.connect(Number(port), host, () => s.send('ping'));
`;

// Listeners exit when their stdin closes, so they die with the test process even on SIGKILL.
const TCP_LISTENER = `
const srv = require('node:net').createServer((c) => { c.on('error', () => {}); c.pipe(c); });
srv.listen(Number(process.argv[1]), '0.0.0.0', () => process.stdout.write('listening\\n'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

const UDP_LISTENER = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(Number(process.argv[1]), '0.0.0.0', () => process.stdout.write('listening\\n'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

async function runProbe(ns: string, script: string, dst: string, port: number, opts: ProbeOptions) {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const { stdout } = await inNetns(
    ns,
    process.execPath,
    ['-e', script, dst, String(port), String(timeoutMs)],
    {
      timeoutMs: timeoutMs + SPAWN_HEADROOM_MS,
    },
  );
  return stdout.trim();
}

export async function tcpConnect(ns: string, dst: string, port: number, opts: ProbeOptions = {}) {
  return (await runProbe(ns, TCP_PROBE, dst, port, opts)) as ProbeResult;
}

export async function udpPing(ns: string, dst: string, port: number, opts: ProbeOptions = {}) {
  return (await runProbe(ns, UDP_PROBE, dst, port, opts)) as UdpProbeResult;
}

export interface Listener {
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
  readonly pid: number;
  close(): Promise<void>;
}

/** Starts an echo server on 0.0.0.0:port in `ns`; resolves once it is bound. */
export function startListener(
  ns: string,
  protocol: 'tcp' | 'udp',
  port: number,
  cleanup: Cleanup,
  readyTimeoutMs = 10_000,
): Promise<Listener> {
  const args = [
    'netns',
    'exec',
    ns,
    process.execPath,
    '-e',
    protocol === 'tcp' ? TCP_LISTENER : UDP_LISTENER,
  ];
  args.push(String(port));
  const line = commandLine('ip', args.slice(0, 5)).concat(` <${protocol} listener> ${port}`);
  const child = spawn('ip', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanup.trackProcess(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ExecError(line, null, '', `${stderr}(not listening after ${readyTimeoutMs} ms)`));
    }, readyTimeoutMs);
    const onEarlyExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new ExecError(line, code, '', stderr));
    };
    child.once('exit', onEarlyExit);
    child.stdout.setEncoding('utf8').once('data', () => {
      clearTimeout(timer);
      child.removeListener('exit', onEarlyExit);
      resolve({
        protocol,
        port,
        pid: child.pid ?? -1,
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.stdin.end();
          }),
      });
    });
  });
}
