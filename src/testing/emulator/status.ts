// metav1.Status, the one error shape of the Kubernetes API, and the coded error that carries
// it from wherever a request fails to the HTTP layer. Messages, reasons and details follow
// k8s.io/apimachinery/pkg/api/errors so clients see what a real kube-apiserver would send.

import type { ResourceType } from '../../datastore/kube/resources.js';
import { ErrorCode } from '../../errors/codes.js';
import { TabbyError } from '../../errors/tabby-error.js';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string };
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A request that fails with a metav1.Status; `status.code` is the HTTP status. */
export class ApiError extends TabbyError {
  constructor(readonly status: Status) {
    super(ErrorCode.EmulatorApi, status.message ?? '');
  }
  get httpStatus(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

function failure(
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
  continueToken?: string,
): ApiError {
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: continueToken ? { continue: continueToken } : {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

/** "pods" or "ippools.crd.projectcalico.org", as in the server's messages. */
export const qualifiedResource = (r: ResourceType): string => (r.group ? `${r.plural}.${r.group}` : r.plural);

const resourceDetails = (r: ResourceType, name: string): StatusDetails => ({
  name,
  ...(r.group ? { group: r.group } : {}),
  kind: r.plural,
});

export const notFound = (r: ResourceType, name: string): ApiError =>
  failure(404, 'NotFound', `${qualifiedResource(r)} "${name}" not found`, resourceDetails(r, name));

/** A path that names no resource the server serves. */
export const pathNotFound = (): ApiError =>
  failure(404, 'NotFound', 'the server could not find the requested resource', {});

export const alreadyExists = (r: ResourceType, name: string): ApiError =>
  failure(409, 'AlreadyExists', `${qualifiedResource(r)} "${name}" already exists`, resourceDetails(r, name));

export const conflict = (r: ResourceType, name: string, why: string): ApiError =>
  failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(r)} "${name}": ${why}`,
    resourceDetails(r, name),
  );

export const STALE_OBJECT =
  'the object has been modified; please apply your changes to the latest version and try again';

export const badRequest = (message: string): ApiError => failure(400, 'BadRequest', message);

export const methodNotAllowed = (r: ResourceType | undefined, action: string): ApiError =>
  failure(
    405,
    'MethodNotAllowed',
    r
      ? `${action} is not supported on resources of kind "${qualifiedResource(r)}"`
      : 'the server does not allow this method on the requested resource',
    r ? { ...(r.group ? { group: r.group } : {}), kind: r.plural } : undefined,
  );

export interface FieldError {
  field: string;
  /** metav1.CauseType, e.g. FieldValueRequired. */
  reason: 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueNotSupported' | 'FieldValueInvalid';
  /** "Required value: …", "Forbidden: …", as field.Error renders it. */
  message: string;
}

/** 422 Invalid for `kind` (e.g. Pod, or ListOptions in group meta.k8s.io). */
export function invalid(kind: string, group: string, name: string, errs: FieldError[]): ApiError {
  const rendered = errs.map((e) => `${e.field}: ${e.message}`);
  const list = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  return failure(422, 'Invalid', `${group ? `${kind}.${group}` : kind} "${name}" is invalid: ${list}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: errs.map((e) => ({ reason: e.reason, message: e.message, field: e.field })),
  });
}

/** 410 Gone, reason Expired; an expired continue token carries a fresh inconsistent-continue token. */
export const expired = (message: string, continueToken?: string): ApiError =>
  failure(410, 'Expired', message, undefined, continueToken);

export const tooLargeResourceVersion = (requested: number, current: number): ApiError =>
  failure(504, 'Timeout', `Too large resource version: ${requested}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });

export const unsupportedMediaType = (contentType: string, accepted: readonly string[]): ApiError =>
  failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format (${contentType || 'none'}) - accepted media types include: ${accepted.join(', ')}`,
  );

export const entityTooLarge = (limit: number): ApiError =>
  failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);

/** A JSON patch that does not apply (NewGenericServerResponse 422); the cause says why. */
export const patchRejected = (why: string): ApiError =>
  failure(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    causes: [{ message: why }],
  });

export const unauthorized = (): ApiError => failure(401, 'Unauthorized', 'Unauthorized');

export const internalError = (message: string): ApiError =>
  failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });

/** The Status a DELETE returns for types whose storage does not return the deleted object. */
export function deletedStatus(r: ResourceType, name: string, uid: string | undefined): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { ...resourceDetails(r, name), ...(uid ? { uid } : {}) },
    code: 200,
  };
}
