// Every error class under src/ is one family: it extends TabbyError (src/errors), says its own
// name and carries a code from the one table. Classes are found by importing every module that
// declares a subclass, so a new error class is checked without being listed here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isErrorCode, wireCode } from '../../src/errors/codes.js';
import { TabbyError } from '../../src/errors/tabby-error.js';
import { CloseCode } from '../../src/protocol/errors.js';
import { ReportRefusal } from '../../src/protocol/reports.js';

const SRC = new URL('../../src/', import.meta.url).pathname;
const sources = (readdirSync(SRC, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => ({ file: f, text: readFileSync(join(SRC, f), 'utf8') }));

type ErrorClass = new (...args: unknown[]) => Error;

async function exportedErrorClasses(): Promise<Map<string, ErrorClass>> {
  const found = new Map<string, ErrorClass>();
  for (const { file, text } of sources) {
    if (!/\bclass\s+\w+\s+extends\b/.test(text)) continue;
    const mod = (await import(join(SRC, file))) as Record<string, unknown>;
    for (const value of Object.values(mod))
      if (typeof value === 'function' && value.prototype instanceof Error)
        found.set(value.name, value as ErrorClass);
  }
  return found;
}

/** Constructor arguments for the classes whose code comes from an argument: each value they take. */
const CODED_BY_ARGUMENT: Readonly<Record<string, readonly unknown[][]>> = {
  TabbyError: Object.values(ErrorCode).map((c) => [c, 'm']),
  BpfError: [[ErrorCode.BpfApply, 'm']],
  ProtocolError: Object.values(CloseCode).map((c) => [c, 'm']),
  ReportError: Object.values(ReportRefusal).map((r) => [r, 'm']),
};
/**
 * Any other class gets one string (a message, name or path) and nothing else: the arguments
 * after it are details attached to the error, and an optional trailing one may be a subclass's
 * code (BirdError), which must not be given a value outside the table here.
 */
const PLAIN_ARGS = ['x'];

describe('error family', () => {
  it('every exported error class extends TabbyError, names itself and has a code from the table', async () => {
    const classes = await exportedErrorClasses();
    // A discovery that finds nothing would pass vacuously: these exist in four folders.
    for (const known of ['ConfigError', 'ProtocolError', 'SelectorError', 'BirdConfigError', 'CommandFailed'])
      expect(classes.has(known), known).toBe(true);
    expect(classes.size).toBeGreaterThanOrEqual(30);
    for (const [name, C] of classes) {
      if (C !== TabbyError)
        expect(C.prototype instanceof TabbyError, `${name} extends TabbyError`).toBe(true);
      for (const args of CODED_BY_ARGUMENT[name] ?? [PLAIN_ARGS]) {
        const err = new C(...args) as TabbyError;
        expect(err).toBeInstanceOf(C);
        expect(err.name, `${name}.name`).toBe(name);
        expect(isErrorCode(err.code), `${name}(${String(args[0])}).code ${err.code} is in ErrorCode`).toBe(
          true,
        );
      }
    }
  });

  it('no class under src/ extends Error but the root, exported or not', () => {
    const direct = sources.flatMap(({ file, text }) =>
      [...text.matchAll(/\bclass\s+(\w+)\s+extends\s+Error\b/g)].map((m) => `${file}: ${m[1]}`),
    );
    expect(direct).toEqual(['errors/tabby-error.ts: TabbyError']);
  });

  it('codes are distinct and spelled TABBY_ERR_…', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^TABBY_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
  });

  it('a wire value’s code is its prefix and the value in SCREAMING_SNAKE case', () => {
    expect(wireCode('TABBY_ERR_PROTOCOL', CloseCode.NoCommonCompression)).toBe(
      ErrorCode.ProtocolNoCommonCompression,
    );
    expect(wireCode('TABBY_ERR_REPORT', ReportRefusal.RateLimited)).toBe('TABBY_ERR_REPORT_RATE_LIMITED');
  });
});
