// The send stamp every churned pod carries as a label: the wall time of its API write, so that
// any agent (Tabby's MessagePack frames, the API's JSON watch events, the ceiling's replayed
// frames) finds the same bytes and measures write-to-arrival latency without decoding. The
// value has a fixed width so that the ceiling can restamp a recorded frame in place.

/** Pod label carrying the stamp; converted into the workload endpoint's labels. */
export const STAMP_LABEL = 'loadtest.tabby.dev/sent-at';
/** 13 digits of ms since the epoch, '.', 3 digits of µs: 17 bytes until the year 2286. */
export const STAMP_BYTES = 17;

const NAME = Buffer.from(STAMP_LABEL);
/** What may sit between the name and the value: `":"` in JSON, a str header byte in MessagePack. */
const MAX_GAP = 4;
const DIGIT_0 = 0x30;
const DOT = 0x2e;

export function formatStamp(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.round((ms - whole) * 1000));
  return `${whole}.${String(micros).padStart(3, '0')}`;
}

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= DIGIT_0 && b <= DIGIT_0 + 9;

/** Offset of a well-formed stamp value at `at` (just past the label name), or -1. */
function valueAt(buf: Buffer, at: number): number {
  for (let gap = 0; gap <= MAX_GAP; gap++) {
    const v = at + gap;
    if (!isDigit(buf[v])) continue;
    if (v + STAMP_BYTES > buf.length) return -1;
    for (let i = 0; i < STAMP_BYTES; i++) {
      const b = buf[v + i];
      if (i === 13 ? b !== DOT : !isDigit(b)) return -1;
    }
    return v;
  }
  return -1;
}

function parseAt(buf: Buffer, v: number): number {
  let whole = 0;
  for (let i = 0; i < 13; i++) whole = whole * 10 + (buf[v + i]! - DIGIT_0);
  let micros = 0;
  for (let i = 14; i < STAMP_BYTES; i++) micros = micros * 10 + (buf[v + i]! - DIGIT_0);
  return whole + micros / 1000;
}

/** Calls `each(offset, sentAtMs)` for every stamp in `buf` (JSON or MessagePack). */
export function forEachStamp(buf: Buffer, each: (offset: number, sentAtMs: number) => void): void {
  for (let at = buf.indexOf(NAME); at >= 0; at = buf.indexOf(NAME, at + NAME.length)) {
    const v = valueAt(buf, at + NAME.length);
    if (v >= 0) each(v, parseAt(buf, v));
  }
}

/** The stamps in `buf`, in order. */
export function readStamps(buf: Buffer): number[] {
  const out: number[] = [];
  forEachStamp(buf, (_, ms) => out.push(ms));
  return out;
}

/** Overwrites every stamp in `buf` with `ms` (same width, so the encoding stays valid); returns how many. */
export function restamp(buf: Buffer, ms: number): number {
  const text = formatStamp(ms);
  let n = 0;
  forEachStamp(buf, (v) => {
    buf.write(text, v, 'latin1');
    n++;
  });
  return n;
}
