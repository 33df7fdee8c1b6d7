// Path settings checked before anything starts, so that a missing directory is one line
// naming the setting (exit 2) rather than an ENOENT stack trace once the server is up.

import { stat } from 'node:fs/promises';
import { settingError } from './errors.js';

async function kindOf(path: string): Promise<'directory' | 'file' | 'other' | NodeJS.ErrnoException> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

const problem = (path: string, err: NodeJS.ErrnoException): string =>
  err.code === 'ENOENT'
    ? `${path} does not exist`
    : err.code === 'EACCES'
      ? `${path}: permission denied`
      : `${path}: ${err.message}`;

/** Throws a ConfigError naming setting `key` unless `path` is a directory. */
export async function requireDirectory(key: string, path: string): Promise<void> {
  const kind = await kindOf(path);
  if (kind === 'directory') return;
  throw settingError(key, typeof kind === 'string' ? `${path} is not a directory` : problem(path, kind));
}

/** Throws a ConfigError naming setting `key` unless `path` is a regular file. */
export async function requireFile(key: string, path: string): Promise<void> {
  const kind = await kindOf(path);
  if (kind === 'file') return;
  throw settingError(key, typeof kind === 'string' ? `${path} is not a file` : problem(path, kind));
}
