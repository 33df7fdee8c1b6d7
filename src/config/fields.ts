// Field types shared by several commands' schemas, so that every address setting is checked
// the same way at startup (a bad port is a configuration error naming the setting, not a
// RangeError later from whatever first parses it).

import { z } from 'zod';
import { parseHostPort } from '../model/address.js';
import { parseServiceRef } from '../model/service-ref.js';
import type { Compression } from '../protocol/messages.js';

const isHostPort = (s: string): boolean => {
  try {
    parseHostPort(s);
    return true;
  } catch {
    return false;
  }
};

/** A listen address HOST:PORT ("[::1]:5473" for IPv6; port 0: any free port). */
export const listenAddress = z.string().refine(isHostPort, 'want HOST:PORT with a port from 0 to 65535');

/** One or more server addresses HOST:PORT, comma-separated; each needs a host and a port > 0. */
export const serverAddresses = z.string().refine(
  (s) =>
    s.split(',').every((a) => {
      if (!isHostPort(a)) return false;
      const { port } = parseHostPort(a);
      return port > 0 && !/^:/.test(a.trim());
    }),
  'want HOST:PORT[,HOST:PORT...] with ports from 1 to 65535',
);

/**
 * Compression to prefer: zstd (where both ends' Node has it, ≥ 22.15; else deflate), deflate
 * or none. The default follows docs/benchmarks.md "Compression": zstd 1 is smaller, and
 * faster to encode and to decode, than deflate 1.
 */
export const compressionSetting = z.enum(['zstd', 'deflate', 'none']).default('zstd');

/** The preference list a compression setting stands for: zstd falls back to deflate. */
export function compressionsFor(setting: 'zstd' | 'deflate' | 'none'): Compression[] {
  if (setting === 'zstd') return ['zstd', 'deflate'];
  return setting === 'deflate' ? ['deflate'] : [];
}

/** `k8s:<namespace>/<service>`: the Service whose EndpointSlices list the replicas. */
export const discoveryService = z
  .string()
  .refine((s) => parseServiceRef(s) !== undefined, 'want k8s:<namespace>/<service>');
