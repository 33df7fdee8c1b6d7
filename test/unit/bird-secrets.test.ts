import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretFileResolver } from '../../src/agent/dataplane/bird/manager.js';

describe('BGP password secrets from mounted files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tabby-bgp-secrets-'));
    await mkdir(join(dir, 'bgp-passwords'));
    await writeFile(join(dir, 'bgp-passwords', 'rack1'), 's3cret\n');
    await writeFile(join(dir, 'outside'), 'not a secret');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads <dir>/<secret>/<key> without its trailing newline', () => {
    expect(secretFileResolver(join(dir))({ name: 'bgp-passwords', key: 'rack1' })).toBe('s3cret');
  });

  it('answers undefined for a missing secret, or without a directory', () => {
    expect(secretFileResolver(dir)({ name: 'bgp-passwords', key: 'rack9' })).toBeUndefined();
    expect(secretFileResolver(undefined)({ name: 'bgp-passwords', key: 'rack1' })).toBeUndefined();
  });

  it('never leaves the directory: names that could climb out are refused', () => {
    const resolve = secretFileResolver(join(dir, 'bgp-passwords'));
    expect(resolve({ name: '..', key: 'outside' })).toBeUndefined();
    expect(resolve({ name: '../..', key: 'outside' })).toBeUndefined();
    expect(resolve({ name: 'x/../..', key: 'outside' })).toBeUndefined();
    expect(resolve({ name: '.', key: 'rack1' })).toBeUndefined();
  });
});
