// The bench's settings and the phase notation of --phases. Kept apart from the code that
// starts processes so that unit tests can import the parser without side effects.

export interface PhaseSpec {
  name: string;
  generations: number;
  keysPerGen: number;
  ratePerSec: number;
}

/** "name:GENSxKEYS@RATE,…", e.g. "steady:200x10@20" = 200 generations of 10 keys at 20/s. */
export function parsePhases(v: string): PhaseSpec[] {
  return v
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const m = /^([a-z][\w-]*):(\d+)x(\d+)@(\d+)$/i.exec(part.trim());
      if (!m) throw new RangeError(`phase "${part}" is not NAME:GENSxKEYS@RATE`);
      const [gens, keys, rate] = [Number(m[2]), Number(m[3]), Number(m[4])];
      if (gens < 1 || keys < 1 || rate < 1) throw new RangeError(`phase "${part}" has a zero`);
      return { name: m[1]!, generations: gens, keysPerGen: keys, ratePerSec: rate };
    });
}

export interface Settings {
  clients: number[];
  snapshotClients: number;
  keys: number;
  phases: PhaseSpec[];
  workers: number;
  clientsPerWorker: number;
  clientNice: number;
  verifiers: number;
  concurrency: number;
  idleMs: number;
  minDeflateBytes: number;
  listenBacklog: number;
}
