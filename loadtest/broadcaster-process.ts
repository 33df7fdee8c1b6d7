// The ceiling: a bare broadcaster with no logic. It answers any HELLO with the handshake and
// snapshot frames Tabby sent (recorded), then replays Tabby's recorded DELTA frames on the
// same schedule, each restamped once with its send time and written as the same Buffer to
// every socket. What it achieves is what this machine allows for that traffic; Tabby's
// figures are reported as a ratio to it. Run with as many processes as Tabby has.

import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { deserialize } from 'node:v8';
import { serveCommands } from './ipc.js';
import { wallNow } from './lean-client.js';
import { type Recording, restamped } from './recorder.js';

const sockets = new Set<Socket>();
let recording: Recording | undefined;
const timers: NodeJS.Timeout[] = [];
let framesSent = 0;

const server = createServer({ noDelay: true }, (s) => {
  s.once('data', () => {
    // Whatever the agent said was its HELLO: the recorded session follows. Later input
    // (ACK, PING) is read and dropped, as a server that ignores it would.
    sockets.add(s);
    s.write(recording!.preamble);
  });
  s.on('data', () => {});
  s.on('error', () => {});
  s.on('close', () => sockets.delete(s));
});

function send(frame: Buffer, scheduledMs: number): void {
  const f = restamped(frame, scheduledMs);
  for (const s of sockets) s.write(f);
  framesSent++;
}

serveCommands({
  async init(a: { recordingPath: string }) {
    recording = deserialize(readFileSync(a.recordingPath)) as Recording;
    recording.preamble = Buffer.from(recording.preamble);
    for (const d of recording.deltas) d.frame = Buffer.from(d.frame);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', 4096, () => r()));
    return { port: (server.address() as { port: number }).port, deltas: recording.deltas.length };
  },

  /** Replays the recorded deltas from `startAtMs` (wall clock), on their recorded schedule. */
  play(a: { startAtMs: number }) {
    for (const d of recording!.deltas) {
      const at = a.startAtMs + d.atMs;
      timers.push(setTimeout(() => send(d.frame, at), Math.max(0, at - wallNow())));
    }
    return { deltas: recording!.deltas.length };
  },

  stats() {
    return { connections: sockets.size, framesSent };
  },

  close() {
    for (const t of timers) clearTimeout(t);
    for (const s of sockets) s.destroy();
    server.close();
    return {};
  },
});
