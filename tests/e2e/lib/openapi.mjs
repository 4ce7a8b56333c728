// Checks one HTTP response against docs/openapi.yaml, the contract: the status is documented for
// the operation, the Content-Type is one the response lists, the body matches that media type's
// schema, and the response's required headers are there and match theirs.
// The operation is chosen by openapi-backend's router; schemas are checked by Ajv (JSON Schema
// 2020-12, the dialect of OpenAPI 3.1). Nothing here lists paths: the document is the only input.
import { readFileSync } from 'node:fs';
import { OpenAPIBackend } from 'openapi-backend';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

const addFormats = addFormatsModule.default || addFormatsModule;
const DOC_PATH = new URL('../../../docs/openapi.yaml', import.meta.url).pathname;

let contract = null; // { backend, ajv, doc }
const compiled = new WeakMap(); // schema object -> Ajv validate function

function load() {
  if (contract) return contract;
  const doc = parse(readFileSync(DOC_PATH, 'utf8'));
  // quick: dereference in place without the 3.0-only document check (redocly lints the document);
  // validate: false: openapi-backend's own validator is draft-07 and JSON-only, Ajv2020 is used instead.
  const backend = new OpenAPIBackend({ definition: doc, quick: true, validate: false, strict: true, ignoreTrailingSlashes: false });
  backend.init();
  // The router flattens the document's operations on every match; the document is fixed, so once is enough.
  const operations = backend.router.getOperations();
  backend.router.getOperations = () => operations;
  const ajv = new Ajv2020({ strict: true, strictTuples: false, allErrors: true });
  addFormats(ajv);
  // OpenAPI 3.1's own schema keywords (annotations for a validator).
  ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
  contract = { backend, ajv, doc: backend.definition };
  return contract;
}

function validator(schema) {
  let v = compiled.get(schema);
  if (!v) {
    v = load().ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

function schemaErrors(schema, value, where) {
  const v = validator(schema);
  if (v(value)) return [];
  return v.errors.map((e) => `${where}${e.instancePath || ''} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`);
}

// The operation for method + path, or the response the document's rules give an unrouted request:
// a known path with an unlisted method is 405 MethodNotAllowed, an unknown path 404 NotFound.
function operationFor(method, path) {
  const { backend, doc } = load();
  const m = method === 'HEAD' ? 'GET' : method;
  try {
    const op = backend.router.matchOperation({ method: m, path, headers: {} }, true);
    return { name: `${op.operationId} (${op.method.toUpperCase()} ${op.path})`, responses: op.responses };
  } catch (err) {
    const rule = /^405/.test(err.message) ? 'MethodNotAllowed' : 'NotFound';
    const status = rule === 'MethodNotAllowed' ? '405' : '404';
    return { name: `unrouted (${rule})`, responses: { [status]: doc.components.responses[rule] } };
  }
}

function responseFor(responses, status) {
  const s = String(status);
  return responses[s] || responses[`${s[0]}XX`] || responses.default || null;
}

function mediaFor(content, type) {
  if (content[type]) return content[type];
  return content[`${type.split('/')[0]}/*`] || content['*/*'] || null;
}

function headerErrors(documented = {}, headers) {
  const errs = [];
  for (const [name, h] of Object.entries(documented)) {
    const raw = headers.get(name);
    if (raw === null) {
      if (h.required) errs.push(`required header ${name} missing`);
      continue;
    }
    if (!h.schema) continue;
    const numeric = ['integer', 'number'].includes(h.schema.type);
    const value = numeric && /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    errs.push(...schemaErrors(h.schema, value, `header ${name}`));
  }
  return errs;
}

function bodyErrors(media, type, text) {
  if (!media.schema) return [];
  if (type === 'application/json' || type.endsWith('+json')) {
    let body;
    try { body = JSON.parse(text); } catch { return [`body is not JSON: ${text.slice(0, 120)}`]; }
    return schemaErrors(media.schema, body, 'body');
  }
  if (type.startsWith('text/') && media.schema.type === 'string') return schemaErrors(media.schema, text, 'body');
  return [];
}

// What in this response does not match the contract: a list of strings, empty when it all does.
export function contractErrors({ method, path, status, headers, text }) {
  const op = operationFor(method.toUpperCase(), path);
  const res = responseFor(op.responses || {}, status);
  if (!res) return [`status ${status} is not documented for ${op.name}`];
  const errs = headerErrors(res.headers, headers);
  const type = (headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  const content = res.content || {};
  if (method.toUpperCase() === 'HEAD') {
    if (text.length) errs.push(`HEAD answered with a ${text.length}-byte body`);
    return errs;
  }
  if (!Object.keys(content).length) {
    if (text.length) errs.push(`a ${text.length}-byte body (${type || 'no Content-Type'}) where ${op.name} ${status} documents none`);
    return errs;
  }
  const media = mediaFor(content, type);
  if (!media) return [...errs, `Content-Type ${type || '(none)'} is not one of ${Object.keys(content).join(', ')} for ${op.name} ${status}`];
  return [...errs, ...bodyErrors(media, type, text)];
}

// Throws an Error naming method, path, status and every mismatch, unless the response matches.
export function assertContract(res) {
  const errs = contractErrors(res);
  if (!errs.length) return;
  const body = res.text.length > 600 ? res.text.slice(0, 600) + '...' : res.text;
  throw new Error(`response does not match docs/openapi.yaml: ${res.method} ${res.path} -> ${res.status}\n  - ${errs.join('\n  - ')}\n  body: ${body}`);
}
