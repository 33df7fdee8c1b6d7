// Kubernetes label selectors (`a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3`) and field selectors
// (`metadata.name=x,spec.nodeName!=y`) as list and watch take them, parsed into predicates
// on objects. Syntax follows k8s.io/apimachinery/pkg/labels and pkg/fields; errors are 400s.

import type { KubeObject } from '../../datastore/kube/object.js';
import type { ResourceType } from '../../datastore/kube/resources.js';
import { badRequest } from './status.js';

export type ObjectPredicate = (obj: KubeObject) => boolean;

type LabelOp = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';
interface Requirement {
  key: string;
  op: LabelOp;
  values: string[];
}

const SPECIAL = new Set([' ', '\t', '\n', '\r', ',', '(', ')', '=', '!', '<', '>']);
type Token = { t: 'id'; v: string } | { t: 'op'; v: string } | { t: 'eof' };

function lex(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '=' || c === '!') {
      const two = s[i + 1] === '=';
      out.push({ t: 'op', v: two ? `${c}=` : c });
      i += two ? 2 : 1;
    } else if (SPECIAL.has(c)) {
      out.push({ t: 'op', v: c });
      i++;
    } else {
      let j = i;
      while (j < s.length && !SPECIAL.has(s[j]!)) j++;
      const v = s.slice(i, j);
      out.push(v === 'in' || v === 'notin' ? { t: 'op', v } : { t: 'id', v });
      i = j;
    }
  }
  out.push({ t: 'eof' });
  return out;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Parses a label selector; throws a 400 ApiError on bad syntax. */
export function parseLabelSelector(selector: string): Requirement[] {
  const toks = lex(selector);
  let p = 0;
  const fail = (what: string): never => {
    throw badRequest(`unable to parse requirement: ${what} in label selector "${selector}"`);
  };
  const peek = () => toks[p]!;
  const show = (t: Token) => (t.t === 'eof' ? 'end of string' : `'${t.v}'`);
  const key = (): string => {
    const t = toks[p++]!;
    if (t.t !== 'id') return fail(`found ${show(t)}, expected: identifier`);
    if (t.v.length > 316 || !LABEL_KEY.test(t.v)) fail(`invalid label key "${t.v}"`);
    return t.v;
  };
  const value = (): string => {
    const t = peek();
    if (t.t !== 'id') return ''; // `a=` selects an empty value
    p++;
    if (t.v.length > 63 || !LABEL_VALUE.test(t.v)) fail(`invalid label value "${t.v}"`);
    return t.v;
  };
  const reqs: Requirement[] = [];
  if (peek().t === 'eof') return reqs;
  for (;;) {
    const t = peek();
    if (t.t === 'op' && t.v === '!') {
      p++;
      reqs.push({ key: key(), op: '!', values: [] });
    } else {
      const k = key();
      const op = peek();
      if (op.t === 'eof' || (op.t === 'op' && op.v === ',')) {
        reqs.push({ key: k, op: 'exists', values: [] });
      } else if (op.t === 'op' && (op.v === '=' || op.v === '==' || op.v === '!=')) {
        p++;
        reqs.push({ key: k, op: op.v === '!=' ? '!=' : '=', values: [value()] });
      } else if (op.t === 'op' && (op.v === 'in' || op.v === 'notin')) {
        p++;
        const open = toks[p++]!;
        if (open.t !== 'op' || open.v !== '(') fail(`found ${show(open)}, expected: '('`);
        const values: string[] = [];
        for (;;) {
          values.push(value());
          const sep = toks[p++]!;
          if (sep.t === 'op' && sep.v === ')') break;
          if (sep.t !== 'op' || sep.v !== ',') fail(`found ${show(sep)}, expected: ',' or ')'`);
        }
        if (values.length === 1 && values[0] === '')
          fail(`for '${op.v}' operator, values set can't be empty`);
        reqs.push({ key: k, op: op.v, values });
      } else if (op.t === 'op' && (op.v === '<' || op.v === '>')) {
        p++;
        const v = value();
        if (!/^-?\d+$/.test(v)) fail(`for 'Gt', 'Lt' operators, the value must be an integer, not "${v}"`);
        reqs.push({ key: k, op: op.v === '>' ? 'gt' : 'lt', values: [v] });
      } else {
        fail(`found ${show(op)}, expected: '=', '!=', '==', 'in', 'notin', ',' or end of string`);
      }
    }
    const sep = toks[p++]!;
    if (sep.t === 'eof') return reqs;
    if (sep.t !== 'op' || sep.v !== ',') fail(`found ${show(sep)}, expected: ',' or end of string`);
  }
}

function matchRequirement(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case 'exists':
      return has;
    case '!':
      return !has;
    case '=':
      return has && v === r.values[0];
    case '!=':
      return !has || v !== r.values[0];
    case 'in':
      return has && r.values.includes(v!);
    case 'notin':
      return !has || !r.values.includes(v!);
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(v!)) return false;
      const n = Number(v);
      const bound = Number(r.values[0]);
      return r.op === 'gt' ? n > bound : n < bound;
    }
  }
}

export function labelPredicate(selector: string): ObjectPredicate | undefined {
  const reqs = parseLabelSelector(selector);
  if (reqs.length === 0) return undefined;
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return reqs.every((r) => matchRequirement(r, labels));
  };
}

/** Field labels each type's storage supports (besides metadata.name and metadata.namespace). */
const TYPE_FIELDS: Record<string, readonly string[]> = {
  pods: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  nodes: ['spec.unschedulable'],
  namespaces: ['status.phase'],
  services: ['spec.clusterIP', 'spec.type'],
};
const BOOLEAN_FIELDS = new Set(['spec.hostNetwork', 'spec.unschedulable']);

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[part] : undefined;
  }
  if (BOOLEAN_FIELDS.has(path)) return cur === true ? 'true' : 'false';
  return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean' ? String(cur) : '';
}

/** Splits on unescaped `sep`, keeping escapes (fields.Selector allows `\,` `\=` `\\`). */
function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const unescapeField = (s: string) => s.replace(/\\(.)/g, '$1');

/** The first unescaped `==`, `!=` or `=` in a field selector term. */
function findOperator(term: string): { at: number; op: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    const c = term[i];
    if (c === '\\') i++;
    else if (c === '!' && term[i + 1] === '=') return { at: i, op: '!=' };
    else if (c === '=') return { at: i, op: term[i + 1] === '=' ? '==' : '=' };
  }
  return undefined;
}

export function fieldPredicate(r: ResourceType, selector: string): ObjectPredicate | undefined {
  if (selector.trim() === '') return undefined;
  const supported = new Set(['metadata.name', 'metadata.namespace', ...(TYPE_FIELDS[r.plural] ?? [])]);
  const terms = splitEscaped(selector, ',').map((term) => {
    const op = findOperator(term);
    if (!op) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const field = unescapeField(term.slice(0, op.at).trim());
    if (!supported.has(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, neg: op.op === '!=', value: unescapeField(term.slice(op.at + op.op.length).trim()) };
  });
  return (obj) =>
    terms.every((t) => {
      const v =
        t.field === 'metadata.namespace'
          ? (obj.metadata.namespace ?? '')
          : t.field === 'metadata.name'
            ? obj.metadata.name
            : fieldValue(obj, t.field);
      return t.neg ? v !== t.value : v === t.value;
    });
}

/** The predicate a list or watch applies: namespace scope, label selector, field selector. */
export function objectFilter(
  r: ResourceType,
  namespace: string | undefined,
  labelSelector: string,
  fieldSelector: string,
): { pass: ObjectPredicate; selective: boolean } {
  const labels = labelPredicate(labelSelector);
  const fields = fieldPredicate(r, fieldSelector);
  const inNs: ObjectPredicate | undefined =
    namespace !== undefined ? (o) => o.metadata.namespace === namespace : undefined;
  const preds = [inNs, labels, fields].filter((p): p is ObjectPredicate => p !== undefined);
  return {
    pass: preds.length === 0 ? () => true : (o) => preds.every((p) => p(o)),
    selective: labels !== undefined || fields !== undefined,
  };
}
