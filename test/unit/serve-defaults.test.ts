// `tabby serve` with no settings runs its server and caches on their components' own defaults
// (server/options.ts, snapcache/options.ts): config reads them, it keeps no copy that could drift.
import { describe, expect, it } from 'vitest';
import { cacheOptions, serverOptions } from '../../src/cli/serve-options.js';
import { serveSchema } from '../../src/config/serve-config.js';
import { silentLogger } from '../../src/model/logger.js';
import { DEFAULT_SERVER_OPTIONS } from '../../src/server/options.js';
import { DEFAULT_CACHE_OPTIONS } from '../../src/snapcache/options.js';

const defaults = serveSchema.parse({});

describe('serve defaults', () => {
  it('are the server’s own, but for the compressions serve offers (zstd, then deflate)', () => {
    const { compressions, ...rest } = serverOptions(defaults, 'replica-0');
    const { compressions: _, ...server } = DEFAULT_SERVER_OPTIONS;
    expect(rest).toEqual({ ...server, serverId: 'replica-0' });
    expect(compressions).toEqual(['zstd', 'deflate']);
  });

  it('are the cache’s own', () => {
    expect(cacheOptions(defaults, 'felix', silentLogger)).toMatchObject({
      ...DEFAULT_CACHE_OPTIONS,
      syncer: 'felix',
    });
  });
});
