// Calico's hash.MakeUniqueID(prefix, content): prefix + ':' + base64url(SHA-224(prefix + ':' +
// content)), unpadded — the identity Felix gives selector IP sets, reproduced exactly.

import { createHash } from 'node:crypto';

export function makeUniqueId(prefix: string, content: string): string {
  return `${prefix}:${createHash('sha224').update(`${prefix}:${content}`, 'utf8').digest('base64url')}`;
}
