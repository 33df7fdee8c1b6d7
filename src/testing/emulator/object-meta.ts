// What the server sets on the objects it stores: apiVersion and kind, uid, creationTimestamp,
// generation (bumped when anything but metadata and status changes) and resourceVersion, in a
// stable field order. Validation of names, namespaces and preconditions lives here too.

import { randomBytes, randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject, ObjectMeta } from '../../datastore/kube/object.js';
import { apiVersionOf, type ResourceType } from '../../datastore/kube/resources.js';
import { badRequest, conflict, invalid, STALE_OBJECT } from './status.js';

/** RFC 3339 to the second, as metav1.Time serialises. */
export const timestamp = (ms = Date.now()): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const keyOf = (r: ResourceType, namespace: string | undefined, name: string): string =>
  r.namespaced ? `${namespace ?? ''}/${name}` : name;

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
function generateSuffix(): string {
  return [...randomBytes(5)].map((b) => GENERATE_ALPHABET[b % GENERATE_ALPHABET.length]).join('');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Orders an object apiVersion, kind, metadata (name, namespace, uid, …), then the rest as given. */
function assemble(r: ResourceType, body: Record<string, unknown>, meta: ObjectMeta): KubeObject {
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = body;
  const { name, generateName, namespace, uid, resourceVersion, generation, creationTimestamp, ...metaRest } =
    meta;
  const orderedMeta: ObjectMeta = {
    name,
    ...(generateName !== undefined ? { generateName } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(uid !== undefined ? { uid } : {}),
    ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    ...(generation !== undefined ? { generation } : {}),
    ...(creationTimestamp !== undefined ? { creationTimestamp } : {}),
    ...metaRest,
  };
  return { apiVersion: apiVersionOf(r), kind: r.kind, metadata: orderedMeta, ...rest };
}

/** Checks a request body's apiVersion and kind against the type it was sent to (both may be omitted). */
export function checkTypeMeta(r: ResourceType, body: Record<string, unknown>, allowCalicoV3 = false): void {
  const want = apiVersionOf(r);
  const got = body['apiVersion'];
  if (got !== undefined && got !== want && !(allowCalicoV3 && got === 'projectcalico.org/v3'))
    throw badRequest(
      `the API version in the data (${String(got)}) does not match the expected API version (${want})`,
    );
  const kind = body['kind'];
  if (kind !== undefined && kind !== r.kind)
    throw badRequest(`${String(kind)} in version "${r.version}" cannot be handled as a ${r.kind}`);
}

/** A new object as the server stores it on create (resourceVersion is set at commit). */
export function prepareCreate(r: ResourceType, body: unknown, namespace: string | undefined): KubeObject {
  if (!isRecord(body)) throw badRequest(`the body of a ${r.kind} must be a JSON object`);
  const meta = isRecord(body['metadata']) ? ({ ...body['metadata'] } as ObjectMeta) : ({} as ObjectMeta);
  if (meta.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
  if (r.namespaced) {
    if (namespace !== undefined && meta.namespace && meta.namespace !== namespace)
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    meta.namespace = meta.namespace || namespace;
    if (!meta.namespace) throw badRequest(`a ${r.kind} must have a namespace`);
  } else delete meta.namespace;
  if (!meta.name) {
    if (typeof meta.generateName === 'string' && meta.generateName !== '')
      meta.name = `${meta.generateName}${generateSuffix()}`;
    else
      throw invalid(r.kind, r.group, '', [
        {
          field: 'metadata.name',
          reason: 'FieldValueRequired',
          message: 'Required value: name or generateName is required',
        },
      ]);
  }
  if (typeof meta.name !== 'string') throw badRequest('metadata.name must be a string');
  meta.uid = randomUUID();
  meta.resourceVersion = ''; // set at commit; here for its place in the field order
  meta.creationTimestamp = timestamp();
  meta.generation = 1;
  return assemble(r, body, meta);
}

const specOf = (o: KubeObject) => {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
};

/**
 * The object an update stores: the body's content with the server-owned metadata of `cur`.
 * Returns undefined for a no-op (the real server neither bumps resourceVersion nor sends an event).
 */
export function prepareUpdate(
  r: ResourceType,
  cur: KubeObject,
  body: unknown,
  subresource: 'status' | undefined,
): KubeObject | undefined {
  if (!isRecord(body)) throw badRequest(`the body of a ${r.kind} must be a JSON object`);
  const bodyMeta = isRecord(body['metadata']) ? (body['metadata'] as Partial<ObjectMeta>) : {};
  const name = cur.metadata.name;
  if (bodyMeta.name !== undefined && bodyMeta.name !== name)
    throw badRequest(
      `the name of the object (${String(bodyMeta.name)}) does not match the name on the URL (${name})`,
    );
  if (r.namespaced && bodyMeta.namespace && bodyMeta.namespace !== cur.metadata.namespace)
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  if (bodyMeta.resourceVersion && bodyMeta.resourceVersion !== cur.metadata.resourceVersion)
    throw conflict(r, name, STALE_OBJECT);
  if (bodyMeta.uid && bodyMeta.uid !== cur.metadata.uid)
    throw conflict(
      r,
      name,
      `Precondition failed: UID in precondition: ${bodyMeta.uid}, UID in object meta: ${cur.metadata.uid}`,
    );
  let next: KubeObject;
  if (subresource === 'status') {
    next = { ...cur, status: body['status'] };
    if (body['status'] === undefined) delete next.status;
  } else {
    next = assemble(r, body, {
      ...(bodyMeta as ObjectMeta),
      name,
      ...(r.namespaced ? { namespace: cur.metadata.namespace } : {}),
      uid: cur.metadata.uid,
      creationTimestamp: cur.metadata.creationTimestamp,
      generation: cur.metadata.generation,
      resourceVersion: cur.metadata.resourceVersion,
    });
    if (!r.namespaced) delete next.metadata.namespace;
  }
  if (isDeepStrictEqual(next, cur)) return undefined;
  if (!isDeepStrictEqual(specOf(next), specOf(cur)))
    next.metadata = { ...next.metadata, generation: (cur.metadata.generation ?? 0) + 1 };
  return next;
}

/** A copy of `obj` at resourceVersion `rv` (objects are never mutated once stored). */
export function atResourceVersion(obj: KubeObject, rv: number): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
}

/** Checks DeleteOptions.preconditions against the stored object. */
export function checkPreconditions(
  r: ResourceType,
  cur: KubeObject,
  pre: { uid?: unknown; resourceVersion?: unknown } | undefined,
): void {
  const name = cur.metadata.name;
  if (pre?.uid && pre.uid !== cur.metadata.uid)
    throw conflict(
      r,
      name,
      `Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${cur.metadata.uid}`,
    );
  if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion)
    throw conflict(
      r,
      name,
      `Precondition failed: ResourceVersion in precondition: ${String(pre.resourceVersion)}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`,
    );
}
