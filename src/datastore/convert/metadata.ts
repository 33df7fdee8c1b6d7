// ObjectMeta rules every object must meet before a converter reads it, as kube-apiserver
// enforces them (apimachinery ValidateLabels, ValidateAnnotations): labels and annotations
// are string-to-string maps under qualified-name keys, label values are short and plain, and
// annotations total at most 256 KiB. Files and emulators can hold anything; a label that is
// not a string would reach agents, whose selectors then see it as absent.

import { Invalid } from './errors.js';
import { type Fields, show, stringMap } from './fields.js';

const NAME_MAX = 63;
const PREFIX_MAX = 253;
const ANNOTATIONS_MAX_BYTES = 256 << 10;

/** A qualified name's name part (and a non-empty label value): alphanumeric at both ends. */
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** A qualified name's prefix: a DNS-1123 subdomain. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** "[prefix/]name", as IsQualifiedName. */
function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts.at(-1)!;
  const prefix = parts.length === 2 ? parts[0]! : undefined;
  if (prefix !== undefined && (prefix.length > PREFIX_MAX || !DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length <= NAME_MAX && NAME.test(name);
}

const checkKey = (key: string, path: string, lowercase = false) => {
  if (!isQualifiedName(lowercase ? key.toLowerCase() : key))
    throw new Invalid(
      `${path}: invalid key ${show(key)} (want [DNS subdomain/]name, name at most ${NAME_MAX} characters of [A-Za-z0-9_.-], alphanumeric at both ends)`,
    );
};

/** Checks metadata.labels and metadata.annotations; throws Invalid naming the first problem. */
export function checkMetadata(meta: Fields): void {
  for (const [key, value] of Object.entries(stringMap(meta, 'labels', 'metadata'))) {
    checkKey(key, 'metadata.labels');
    if (value !== '' && (value.length > NAME_MAX || !NAME.test(value)))
      throw new Invalid(
        `metadata.labels.${key}: invalid label value ${show(value)} (at most ${NAME_MAX} characters of [A-Za-z0-9_.-], alphanumeric at both ends)`,
      );
  }
  let bytes = 0;
  for (const [key, value] of Object.entries(stringMap(meta, 'annotations', 'metadata'))) {
    // Kubernetes checks annotation keys in lower case (ValidateAnnotations).
    checkKey(key, 'metadata.annotations', true);
    bytes += key.length + value.length;
  }
  if (bytes > ANNOTATIONS_MAX_BYTES)
    throw new Invalid(`metadata.annotations: larger than ${ANNOTATIONS_MAX_BYTES} bytes in all`);
}
