// bpf/policy.c and src/agent/dataplane/bpf/layout.ts describe the same ops, flags, actions, maps
// and programs: a number changed on one side only would make the kernel run a different policy.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadError } from '../../src/agent/dataplane/bpf/errors.js';
import { BpfUnavailableError, BpfVerifierError } from '../../src/agent/dataplane/bpf/index.js';
import {
  ACT,
  CODE_ENTRIES,
  EP_FLAG,
  FLAG,
  MAPS,
  NO_PROG,
  OP,
  PROGS,
  STAGES,
} from '../../src/agent/dataplane/bpf/layout.js';

const C = readFileSync(new URL('../../bpf/policy.c', import.meta.url), 'utf8');
const defines = (prefix: string): Record<string, number> =>
  Object.fromEntries(
    [...C.matchAll(new RegExp(`^#define ${prefix}_([A-Z_]+) (\\d+)`, 'gm'))].map((m) => [
      m[1]!,
      Number(m[2]),
    ]),
  );
const upper = (o: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase(), v]),
  );

describe('bpf layout', () => {
  it('op codes, flags and actions are the same numbers on both sides', () => {
    expect(defines('OP')).toEqual(upper(OP));
    expect(defines('F')).toEqual({ DST: FLAG.dst, NEG: FLAG.neg });
    expect(defines('ACT')).toEqual(upper(ACT));
  });

  it('the endpoint entry: stage fields in the same order, then flags; the same flag bits', () => {
    const body = /struct ep_val \{([^}]*)\}/.exec(C)![1]!;
    const fields = [...body.matchAll(/__u32 (\w+);/g)].map((m) => m[1]);
    const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    expect(fields).toEqual([...STAGES.map(snake), 'flags']);
    expect(defines('EP')).toEqual(upper(EP_FLAG));
    expect(C).toContain(`#define NO_PROG 0x${NO_PROG.toString(16)}`);
  });

  it('every map and program the driver pins is declared in the C source', () => {
    for (const m of MAPS) expect(C).toMatch(new RegExp(`} ${m} SEC\\("\\.maps"\\)`));
    for (const p of Object.values(PROGS)) expect(C).toMatch(new RegExp(`int ${p}\\(struct __sk_buff`));
    expect(C).toContain(`__uint(max_entries, ${CODE_ENTRIES});`);
  });
});

describe('bpf load errors', () => {
  it('a verifier rejection names the program and keeps the log tail', () => {
    const stderr = [
      "libbpf: prog 'tabby_to_wl': BPF program load failed: Permission denied",
      "libbpf: prog 'tabby_to_wl': -- BEGIN PROG LOAD LOG --",
      '0: R1=ctx() R10=fp0',
      'invalid access to map value, value_size=16 off=16 size=1',
      'processed 12 insns (limit 1000000)',
      "libbpf: prog 'tabby_to_wl': failed to load: -13",
      'Error: failed to load object file',
    ].join('\n');
    const err = loadError(stderr, undefined);
    expect(err).toBeInstanceOf(BpfVerifierError);
    expect((err as BpfVerifierError).program).toBe('tabby_to_wl');
    expect(err.message).toContain('invalid access to map value');
    expect(err.code).toBe('TABBY_ERR_BPF_VERIFIER');
  });

  it('no permission is unavailability, not a verifier complaint', () => {
    const err = loadError(
      'libbpf: Error in bpf_object__probe_loading():Operation not permitted(1).',
      undefined,
    );
    expect(err).toBeInstanceOf(BpfUnavailableError);
    expect(err.message).toMatch(/not permitted.*CAP_BPF/);
  });
});
