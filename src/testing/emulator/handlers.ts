// The verbs on collections and items: list/watch/create on a collection; get/watch/update/
// patch/delete on an item and update/patch/get on its /status. Each returns the response to
// send or has started a watch stream; failures are thrown as Status errors.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../datastore/kube/object.js';
import type { ResourceType } from '../../datastore/kube/resources.js';
import { mediaType, readObject, readText } from './body.js';
import { encode } from './encode.js';
import { type ListContext, listCollection } from './list.js';
import { checkTypeMeta } from './object-meta.js';
import { applyPatch } from './patch.js';
import { parseListOptions } from './query.js';
import type { Route } from './routes.js';
import { badRequest, deletedStatus, methodNotAllowed, notFound } from './status.js';
import type { WatchHub } from './watch-hub.js';

export interface HandlerContext extends ListContext {
  watches: WatchHub;
}

/** A response to send, or 'streaming' once a watch owns the response. */
export type Reply =
  | { verb: string; code: number; body: string; items?: number }
  | { verb: 'watch'; streaming: true };

type CollectionRoute = Extract<Route, { kind: 'collection' }>;
type ItemRoute = Extract<Route, { kind: 'item' }>;

/** Types whose storage answers DELETE with a Status rather than the deleted object. */
const DELETE_RETURNS_STATUS = new Set(['nodes', 'endpointslices', 'networkpolicies.networking.k8s.io']);
const returnsStatusOnDelete = (r: ResourceType) =>
  DELETE_RETURNS_STATUS.has(r.group ? `${r.plural}.${r.group}` : r.plural);

/** Writes that would silently persist a dry run must not be accepted. */
function refuseDryRun(query: URLSearchParams): void {
  if (query.get('dryRun')) throw badRequest('dryRun is not supported by the API emulator');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function collectionVerb(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: CollectionRoute,
  query: URLSearchParams,
): Promise<Reply> {
  const { r, namespace } = route;
  switch (req.method) {
    case 'GET': {
      const o = parseListOptions(query, route.watchPath);
      if (o.watch) {
        await ctx.watches.start(res, r, namespace, undefined, o);
        return { verb: 'watch', streaming: true };
      }
      const list = await listCollection(ctx, r, namespace, o);
      return { verb: 'list', code: 200, body: list.body, items: list.items };
    }
    case 'POST': {
      // A namespaced type has no create at cluster scope (as /api/v1/pods).
      if (r.namespaced && namespace === undefined) throw methodNotAllowed(r, 'create');
      refuseDryRun(query);
      const body = await readObject(req);
      if (isRecord(body)) checkTypeMeta(r, body);
      const obj = ctx.store.create(r, body, namespace);
      return { verb: 'create', code: 201, body: encode(obj) };
    }
    case 'DELETE':
      throw methodNotAllowed(r, 'deletecollection');
    default:
      throw methodNotAllowed(r, (req.method ?? '').toLowerCase());
  }
}

export async function itemVerb(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: ItemRoute,
  query: URLSearchParams,
): Promise<Reply> {
  const { r, namespace, name, subresource } = route;
  const { store } = ctx;
  const current = (): KubeObject => {
    const obj = store.get(r, namespace, name);
    if (!obj) throw notFound(r, name);
    return obj;
  };
  switch (req.method) {
    case 'GET': {
      const o = parseListOptions(query, route.watchPath);
      if (o.watch) {
        await ctx.watches.start(res, r, namespace, name, o);
        return { verb: 'watch', streaming: true };
      }
      return { verb: 'get', code: 200, body: encode(current()) };
    }
    case 'PUT': {
      refuseDryRun(query);
      const body = await readObject(req);
      if (isRecord(body)) checkTypeMeta(r, body);
      return { verb: 'update', code: 200, body: encode(store.update(r, namespace, name, body, subresource)) };
    }
    case 'PATCH': {
      refuseDryRun(query);
      const text = await readText(req);
      const patched = applyPatch(current(), mediaType(req), text);
      if (isRecord(patched)) checkTypeMeta(r, patched);
      return {
        verb: 'patch',
        code: 200,
        body: encode(store.update(r, namespace, name, patched, subresource)),
      };
    }
    case 'DELETE': {
      refuseDryRun(query);
      if (subresource) throw methodNotAllowed(r, 'delete');
      const opts = await readObject(req, true);
      const pre = isRecord(opts) && isRecord(opts['preconditions']) ? opts['preconditions'] : undefined;
      const deleted = store.delete(r, namespace, name, pre);
      const body = returnsStatusOnDelete(r)
        ? JSON.stringify(deletedStatus(r, name, deleted.metadata.uid))
        : encode(deleted);
      return { verb: 'delete', code: 200, body };
    }
    default:
      throw methodNotAllowed(r, (req.method ?? '').toLowerCase());
  }
}
