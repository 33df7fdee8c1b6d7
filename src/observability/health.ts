// The HTTP side port: /livez (the process answers), /readyz (every syncer in sync with the
// datastore, so clients would get a complete state) and /metrics.

import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthSources {
  registry: Registry;
  ready: () => { ok: boolean; detail: Record<string, unknown> };
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
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve());
  });
  return srv;
}
