// Request bodies: read with a size limit (the apiserver's 3 MiB), decoded as JSON or YAML by
// Content-Type. Failures are Status errors (413, 415, 400).

import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { badRequest, entityTooLarge, unsupportedMediaType } from './status.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readText(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw entityTooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export const mediaType = (req: IncomingMessage): string =>
  (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();

const OBJECT_TYPES = ['application/json', 'application/yaml'];

/** An object body (POST, PUT) as JSON or YAML; an empty body is undefined when `optional`. */
export async function readObject(req: IncomingMessage, optional = false): Promise<unknown> {
  const text = await readText(req);
  if (text.trim() === '') {
    if (optional) return undefined;
    throw badRequest('the request body is empty');
  }
  const type = mediaType(req) || 'application/json';
  if (!OBJECT_TYPES.includes(type)) throw unsupportedMediaType(type, OBJECT_TYPES);
  try {
    return type === 'application/yaml' ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding the request body: ${(err as Error).message}`);
  }
}
