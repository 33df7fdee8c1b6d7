// List semantics: which state a list reads (latest, any, not-older-than, exact), paging with
// limit/continue over a consistent snapshot, and the real server's errors — 410 Expired for a
// compacted resourceVersion or continue token (the latter with an inconsistent-continue token),
// 504 for a resourceVersion the store has not reached.

import { apiVersionOf, type ResourceType } from '../../datastore/kube/resources.js';
import { encodeListItem } from './encode.js';
import { type ListOptions, parseResourceVersion } from './query.js';
import { objectFilter } from './selectors.js';
import { badRequest, expired, tooLargeResourceVersion } from './status.js';
import type { Entry, ObjectStore } from './store.js';

const TOKEN_VERSION = 'meta.k8s.io/v1';

export const LIST_TOO_OLD = 'The resourceVersion for the provided list is too old.';
export const CONTINUE_TOO_OLD =
  'The provided continue parameter is too old to display a consistent list result. You can start a new ' +
  'list without the continue parameter, or use the continue token in this response to retrieve the ' +
  'remainder of the results. Continuing with the provided token results in an inconsistent list - objects ' +
  'that were created, modified, or deleted between the time the first chunk was returned and now may ' +
  'show up in the list.';

interface ContinueToken {
  /** -1: continue at the latest state (after expiry). */
  rv: number;
  /** First key (relative to the list's scope) to return. */
  start: string;
}

/** Opaque to clients; the same shape as the apiserver's (base64url JSON {v, rv, start}). */
export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: TOKEN_VERSION, rv: t.rv, start: t.start })).toString('base64url');
}

export function decodeContinue(token: string): ContinueToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('invalid continue token: continue key is not valid');
  }
  const t = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (t?.v !== TOKEN_VERSION)
    throw badRequest('invalid continue token: continue key is not supported by this server');
  if (typeof t.rv !== 'number' || !Number.isInteger(t.rv) || t.rv < -1 || t.rv === 0)
    throw badRequest('invalid continue token: continue key has an invalid resource version');
  if (typeof t.start !== 'string' || t.start === '')
    throw badRequest('invalid continue token: continue key is empty');
  return { rv: t.rv, start: t.start };
}

export interface ListResult {
  body: string;
  items: number;
}

export interface ListContext {
  store: ObjectStore;
  /** How long a read of a future resourceVersion waits before 504 (the watch cache's 3 s). */
  tooLargeRvWaitMs: number;
}

/** Resolves the resourceVersion a list reads at, waiting briefly for a future one. */
async function readRv(
  ctx: ListContext,
  r: ResourceType,
  o: ListOptions,
): Promise<{ rv: number; start: string }> {
  const { store } = ctx;
  if (o.continueToken) {
    if (o.resourceVersion && o.resourceVersion !== '0')
      throw badRequest('specifying resource version is not allowed when using continue');
    const t = decodeContinue(o.continueToken);
    if (t.rv === -1) return { rv: store.rv, start: t.start };
    if (t.rv > store.rv)
      throw badRequest('invalid continue token: continue key has an invalid resource version');
    if (t.rv < store.floor(r)) throw expired(CONTINUE_TOO_OLD, encodeContinue({ rv: -1, start: t.start }));
    return { rv: t.rv, start: t.start };
  }
  if (o.resourceVersion === '' || o.resourceVersion === '0') return { rv: store.rv, start: '' };
  const n = parseResourceVersion(o.resourceVersion);
  if (n > store.rv && !(await store.waitFor(n, ctx.tooLargeRvWaitMs)))
    throw tooLargeResourceVersion(n, store.rv);
  // Exact when asked, and (legacy) for a paged list with a resourceVersion but no match.
  const exact = o.resourceVersionMatch === 'Exact' || (o.resourceVersionMatch === '' && o.limit > 0);
  if (!exact) return { rv: store.rv, start: '' };
  if (n < store.floor(r)) throw expired(LIST_TOO_OLD);
  return { rv: n, start: '' };
}

/** First index in sorted `entries` whose key is >= `key`. */
function lowerBound(entries: readonly Entry[], key: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function listCollection(
  ctx: ListContext,
  r: ResourceType,
  namespace: string | undefined,
  o: ListOptions,
): Promise<ListResult> {
  const filter = objectFilter(r, namespace, o.labelSelector, o.fieldSelector);
  const at = await readRv(ctx, r, o);
  const entries = ctx.store.snapshot(r, at.rv);
  // Keys are "ns/name" for namespaced types: a namespace's objects are one contiguous range.
  const prefix = namespace !== undefined && r.namespaced ? `${namespace}/` : '';
  const items: string[] = [];
  let lastKey = '';
  let more = false;
  let remaining = 0;
  for (let i = lowerBound(entries, prefix + at.start); i < entries.length; i++) {
    const e = entries[i]!;
    if (!e.key.startsWith(prefix)) break;
    if (!filter.pass(e.object)) continue;
    if (o.limit > 0 && items.length >= o.limit) {
      more = true;
      if (filter.selective) break; // remainingItemCount is only known without selectors
      remaining++;
      continue;
    }
    items.push(encodeListItem(r, e.object));
    lastKey = e.key.slice(prefix.length);
  }
  const meta: Record<string, unknown> = { resourceVersion: String(at.rv) };
  if (more) {
    meta['continue'] = encodeContinue({ rv: at.rv, start: `${lastKey}\u0000` });
    if (!filter.selective) meta['remainingItemCount'] = remaining;
  }
  const head = `{"kind":${JSON.stringify(`${r.kind}List`)},"apiVersion":${JSON.stringify(apiVersionOf(r))}`;
  return {
    body: `${head},"metadata":${JSON.stringify(meta)},"items":[${items.join(',')}]}`,
    items: items.length,
  };
}
