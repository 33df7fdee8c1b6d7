// Log records are JSON objects with unique keys, whatever the child bindings and call fields.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logging.js';
import { duplicateKeys } from '../harness/json-keys.js';

function capture() {
  const lines: string[] = [];
  return { lines, dest: { write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) } };
}

describe('duplicateKeys', () => {
  it('finds repeated keys per object, not across objects or inside strings', () => {
    expect(duplicateKeys('{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}')).toEqual([]);
    expect(duplicateKeys('{"a":1,"a":2}')).toEqual(['a']);
    expect(duplicateKeys('{"x":{"k":"\\"k\\":","k":[1,{"k":1}]}}')).toEqual(['k']);
  });
});

describe('createLogger', () => {
  it('writes each key once: inner bindings and call fields replace outer ones', () => {
    const { lines, dest } = capture();
    const log = createLogger('debug', dest);
    const datastore = log.child({ component: 'datastore' });
    datastore.child({ component: 'emulator' }).info({ n: 1 }, 'a');
    const felix = log.child({ syncer: 'felix' }).child({ syncer: 'felix' });
    felix.warn({ syncer: 'felix', part: 'x' }, 'b');
    felix.child({ part: 'routes' }).debug({ part: 'routes', pid: 42, msg: 'field' }, 'c');
    felix.error('d');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
    const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs[0]).toMatchObject({ component: 'emulator', n: 1, msg: 'a', name: 'tabby' });
    expect(recs[1]).toMatchObject({ syncer: 'felix', part: 'x', msg: 'b', level: 40 });
    expect(recs[2]).toMatchObject({ part: 'routes', pid: process.pid, pid_: 42, msg: 'c', msg_: 'field' });
    expect(recs[3]).toMatchObject({ syncer: 'felix', msg: 'd', level: 50 });
  });

  it('honours the level', () => {
    const { lines, dest } = capture();
    const log = createLogger('warn', dest).child({ a: 1 });
    log.info({}, 'hidden');
    log.warn({}, 'shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });
});
