// The HTTP front of the emulator: health and version endpoints, the optional bearer token,
// discovery, resource verbs (handlers.ts), the /emulator/ test hooks, and one place where
// every response is written and counted. Errors become metav1.Status bodies.

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceType } from '../../datastore/kube/resources.js';
import type { Logger } from '../../model/logger.js';
import { discoveryDocument, KUBERNETES_VERSION } from './discovery.js';
import { collectionVerb, type HandlerContext, itemVerb, type Reply } from './handlers.js';
import { resolveRoute } from './routes.js';
import type { EmulatorStats, StatsSnapshot } from './stats.js';
import {
  ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  pathNotFound,
  unauthorized,
} from './status.js';

/** The test and fault hooks served under /emulator/. */
export interface EmulatorHooks {
  stats(): StatsSnapshot;
  compact(): void;
  dropWatches(): number;
  pause(ms: number): void;
  freeze(ms: number): void;
}

export interface HttpContext extends HandlerContext {
  stats: EmulatorStats;
  hooks: EmulatorHooks;
  log: Logger;
  /** When set, every API request must carry `Authorization: Bearer <token>`. */
  token: string | undefined;
  serverAddress(): string;
}

const HEALTH = new Set(['/healthz', '/livez', '/readyz']);

function send(
  ctx: HttpContext,
  res: ServerResponse,
  code: number,
  body: string,
  verb: string,
  r: ResourceType | undefined,
  contentType = 'application/json',
): void {
  const bytes = Buffer.byteLength(body);
  ctx.stats.request(verb, code, r, bytes);
  if (res.headersSent) {
    // A watch that failed after starting: nothing more can be said on this response.
    res.destroy();
    return;
  }
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': bytes,
    'Cache-Control': 'no-cache, private',
  });
  res.end(body);
}

function authorized(ctx: HttpContext, req: IncomingMessage): boolean {
  if (!ctx.token) return true;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${ctx.token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function requestListener(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let verb = 'unknown';
    let resource: ResourceType | undefined;
    const route = async (): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const path = url.pathname;
      if (HEALTH.has(path))
        return send(ctx, res, 200, 'ok', 'health', undefined, 'text/plain; charset=utf-8');
      if (path.startsWith('/emulator/')) {
        verb = 'emulator';
        return hook(ctx, req, res, path, url.searchParams);
      }
      if (!authorized(ctx, req)) throw unauthorized();
      if (path === '/version') {
        verb = 'discovery';
        return send(ctx, res, 200, JSON.stringify(KUBERNETES_VERSION), verb, undefined);
      }
      const rt = resolveRoute(path);
      if (rt.kind === 'notFound') throw pathNotFound();
      if (rt.kind === 'discovery') {
        verb = 'discovery';
        if (req.method !== 'GET') throw methodNotAllowed(undefined, 'discovery');
        const doc = discoveryDocument(rt.path, ctx.serverAddress());
        if (doc === undefined) throw pathNotFound();
        return send(ctx, res, 200, JSON.stringify(doc), verb, undefined);
      }
      resource = rt.r;
      verb = verbOf(rt.kind, req.method, url.searchParams, rt.watchPath);
      const reply: Reply =
        rt.kind === 'collection'
          ? await collectionVerb(ctx, req, res, rt, url.searchParams)
          : await itemVerb(ctx, req, res, rt, url.searchParams);
      if ('streaming' in reply) {
        ctx.stats.request('watch', 200, rt.r, 0);
        return;
      }
      if (reply.verb === 'list') ctx.stats.listed(rt.r, reply.items ?? 0);
      send(ctx, res, reply.code, reply.body, reply.verb, rt.r);
    };
    route().catch((err: unknown) => {
      const e = err instanceof ApiError ? err : internalError((err as Error)?.message ?? String(err));
      if (!(err instanceof ApiError)) ctx.log.error({ err, url: req.url }, 'emulator request failed');
      if (verb === 'get' && new URL(req.url ?? '/', 'http://emulator').searchParams.has('watch'))
        verb = 'watch';
      send(ctx, res, e.status.code, JSON.stringify(e.status), verb, resource);
    });
  };
}

const ITEM_VERBS: Record<string, string> = { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
const COLLECTION_VERBS: Record<string, string> = { GET: 'list', POST: 'create', DELETE: 'deletecollection' };

/** The Kubernetes verb of a request, for the counters (as the apiserver's audit and metrics name them). */
function verbOf(
  kind: 'collection' | 'item',
  method: string | undefined,
  q: URLSearchParams,
  watchPath: boolean,
): string {
  const m = method ?? '';
  if (m === 'GET' && (watchPath || ['1', 'true', 't', 'True', 'TRUE'].includes(q.get('watch') ?? '')))
    return 'watch';
  return (kind === 'collection' ? COLLECTION_VERBS[m] : ITEM_VERBS[m]) ?? m.toLowerCase();
}

async function hook(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
): Promise<void> {
  const name = path.slice('/emulator/'.length);
  const reply = (body: unknown, code = 200) =>
    send(ctx, res, code, JSON.stringify(body), 'emulator', undefined);
  if (name === 'stats') {
    if (req.method !== 'GET') throw methodNotAllowed(undefined, 'stats');
    return reply(ctx.hooks.stats());
  }
  if (!['compact', 'drop-watches', 'pause', 'freeze'].includes(name)) throw pathNotFound();
  if (req.method !== 'POST') throw methodNotAllowed(undefined, name);
  switch (name) {
    case 'compact':
      ctx.hooks.compact();
      return reply({ compacted: true, resourceVersion: String(ctx.store.rv) });
    case 'drop-watches':
      return reply({ dropped: ctx.hooks.dropWatches() });
    default: {
      const ms = Number(query.get('ms') ?? '1000');
      if (!Number.isFinite(ms) || ms < 0) throw badRequest(`bad ${name} duration: ${query.get('ms')}`);
      // Answer first; the listener closes (pause) or every connection stalls (freeze) once this response is out.
      if (name === 'freeze') {
        res.once('finish', () => ctx.hooks.freeze(ms));
        return reply({ frozenMs: ms }, 202);
      }
      res.once('finish', () => ctx.hooks.pause(ms));
      return reply({ pausedMs: ms }, 202);
    }
  }
}
