// The HTTP side port: /livez (the process answers), /readyz (every syncer in sync with the
// datastore, so clients would get a complete state; when not, the detail says why), /metrics,
// and with a fleet view /fleet (JSON for `tabby status`) and the live fleet page at /.

import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { DatastoreSource } from '../datastore/source.js';
import type { SyncStatus } from '../model/types.js';
import type { FleetReport } from './fleet.js';
import { FleetLive } from './fleet-live.js';
import { FLEET_PAGE, FLEET_PAGE_CSP } from './fleet-page.js';

export interface Readiness {
  ok: boolean;
  detail: Record<string, unknown>;
}

/**
 * /readyz of a replica: ready when every syncer is in sync and the datastore's API answers.
 * The detail gives each syncer's status and, while the API does not answer (a silent or
 * unreachable API: the last state is being served), `datastore` with the reason and since when.
 */
export function readiness(
  caches: readonly { syncer: string; status: SyncStatus }[],
  datastore?: Pick<DatastoreSource, 'health'>,
): Readiness {
  const detail: Record<string, unknown> = Object.fromEntries(caches.map((c) => [c.syncer, c.status]));
  const api = datastore?.health?.().api;
  if (api && !api.live) detail['datastore'] = { live: false, reason: api.reason, since: api.notLiveSince };
  return { ok: caches.every((c) => c.status === 'in-sync') && (api?.live ?? true), detail };
}

export interface HealthSources {
  registry: Registry;
  ready: () => Readiness;
  /** The replica's fleet view: serves /fleet, the page at / and its WebSocket. */
  fleet?: { report(opts?: { agents?: boolean }): FleetReport };
}

export async function startHealthServer(host: string, port: number, src: HealthSources): Promise<Server> {
  const srv = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const r = src.ready();
      res
        .writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(r.detail)}\n`);
    } else if (path === '/metrics') {
      src.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': src.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (path === '/fleet' && src.fleet) {
      // ?agents=1 adds one row per agent (large: a line per connection); the summary is not.
      const agents = new URL(req.url ?? '/', 'http://x').searchParams.get('agents') === '1';
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(`${JSON.stringify(src.fleet.report({ agents }))}\n`);
    } else if (path === '/' && src.fleet) {
      res
        .writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': FLEET_PAGE_CSP,
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-store',
        })
        .end(FLEET_PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  if (src.fleet) new FleetLive(src.fleet).attach(srv);
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve());
  });
  return srv;
}
