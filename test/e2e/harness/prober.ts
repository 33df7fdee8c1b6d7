// A long-lived prober per pod namespace: one `node` process (started with `ip netns exec`)
// that answers JSON-line requests with a real TCP connect or UDP ping each, so suites that
// probe hundreds of flows do not start a process per flow (probe.ts does, which costs far
// more than the packets on a loaded machine). Results are probe.ts's words.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Cleanup } from './cleanup.js';

const SCRIPT = `
const net = require('node:net'), dgram = require('node:dgram');
const answer = (id, r) => process.stdout.write(JSON.stringify({ id, r }) + '\\n');
const code = (e) => e.code === 'ECONNREFUSED' ? 'refused'
  : (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') ? 'unreachable' : 'error:' + (e.code || e.message);
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, proto, host, port, timeoutMs } = JSON.parse(line);
  let done = false, s;
  const end = (r) => { if (done) return; done = true; clearTimeout(t); try { proto === 'tcp' ? s.destroy() : s.close(); } catch {} answer(id, r); };
  // setImmediate: an answer already queued wins over a timer that fired late.
  const t = setTimeout(() => setImmediate(() => end('timeout')), timeoutMs);
  if (proto === 'tcp') {
    s = net.connect({ host, port });
    s.on('connect', () => end('connected'));
    s.on('error', (e) => end(code(e)));
  } else {
    s = dgram.createSocket('udp4');
    s.on('message', () => end('reply'));
    s.on('error', (e) => end(code(e)));
    s.connect(port, host, () => s.send('ping'));
  }
});
process.stdin.on('end', () => process.exit(0));
`;

export class Prober {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting = new Map<number, (r: string) => void>();
  #next = 0;

  constructor(ns: string, cleanup?: Cleanup) {
    this.#child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SCRIPT], { stdio: 'pipe' });
    cleanup?.trackProcess(this.#child);
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const { id, r } = JSON.parse(line) as { id: number; r: string };
      this.#waiting.get(id)?.(r);
      this.#waiting.delete(id);
    });
  }

  probe(proto: 'tcp' | 'udp', host: string, port: number, timeoutMs: number): Promise<string> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#child.stdin.write(`${JSON.stringify({ id, proto, host, port, timeoutMs })}\n`);
    });
  }

  close(): void {
    this.#child.stdin.end();
  }
}
