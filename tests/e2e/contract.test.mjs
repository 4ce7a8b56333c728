// docs/openapi.yaml stays true: it lists exactly the operations the server routes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { contractErrors } from './lib/openapi.mjs';

const root = new URL('../../', import.meta.url).pathname;

function routedOperations() {
  const src = readFileSync(`${root}src/api/router.c`, 'utf8');
  const ops = [...src.matchAll(/\{"(GET|POST|PATCH|PUT|DELETE)", "([^"]+)",/g)].map((m) => `${m[1]} ${m[2]}`);
  // Served by http/ before routing: metrics and the console.
  ops.push('GET /metrics', 'GET /', 'GET /console/', 'GET /console/{file}', 'GET /console/js/{file}');
  return ops.sort();
}

function documentedOperations() {
  const lines = readFileSync(`${root}docs/openapi.yaml`, 'utf8').split('\n');
  const ops = [];
  let inPaths = false, path = null;
  for (const line of lines) {
    if (/^paths:/.test(line)) { inPaths = true; continue; }
    if (/^\S/.test(line)) inPaths = false;
    if (!inPaths) continue;
    const p = line.match(/^ {2}(\/\S*):\s*$/);
    if (p) { path = p[1]; continue; }
    const m = line.match(/^ {4}(get|post|patch|put|delete):\s*$/);
    if (m && path) ops.push(`${m[1].toUpperCase()} ${path}`);
  }
  return ops.sort();
}

test('every routed operation is documented, and nothing else is', () => {
  const routed = routedOperations();
  assert.ok(routed.length >= 15);
  assert.deepEqual(documentedOperations(), routed);
});

// The check api() applies to every response (lib/openapi.mjs) must be able to fail: each kind of
// mismatch, made by hand, is named in the error.
describe('the response check every api() call goes through', () => {
  const rid = { 'x-request-id': 'abc-1' };
  const json = (o) => JSON.stringify(o);
  const res = (method, path, status, headers, text) => ({ method, path, status, headers: new Headers(headers), text });
  const problem = { type: 'urn:keyward:problem:NOT_FOUND', title: 'Not Found', status: 404, detail: 'No such key.', code: 'NOT_FOUND', requestId: 'abc-1' };

  test('a response that matches passes', () => {
    assert.deepEqual(contractErrors(res('GET', '/healthz', 200, { ...rid, 'content-type': 'application/json' }, json({ status: 'ok' }))), []);
    assert.deepEqual(contractErrors(res('GET', '/api/v1/keys/key_0123456789abcdef', 404,
      { ...rid, 'content-type': 'application/problem+json' }, json(problem))), []);
  });

  test('an undocumented status is named', () => {
    const e = contractErrors(res('GET', '/healthz', 418, { ...rid, 'content-type': 'application/json' }, json({ status: 'ok' })));
    assert.match(e.join(), /status 418 is not documented for getHealth/);
  });

  test('a Content-Type the response does not list is named', () => {
    const e = contractErrors(res('GET', '/healthz', 200, { ...rid, 'content-type': 'text/plain' }, 'ok'));
    assert.match(e.join(), /Content-Type text\/plain is not one of application\/json/);
  });

  test('a body that breaks the schema is named, field by field', () => {
    const bad = { ...problem, code: 'NO_SUCH_CODE', status: 'x' };
    delete bad.requestId;
    const e = contractErrors(res('GET', '/api/v1/keys/key_0123456789abcdef', 404, { ...rid, 'content-type': 'application/problem+json' }, json(bad))).join('\n');
    assert.match(e, /body must have required property 'requestId'/);
    assert.match(e, /body\/status must be integer/);
    assert.match(e, /body\/code must be equal to one of the allowed values/);
    assert.match(contractErrors(res('GET', '/healthz', 200, { ...rid, 'content-type': 'application/json' }, 'not json')).join(), /not JSON/);
  });

  test('a missing or malformed required header is named', () => {
    assert.match(contractErrors(res('GET', '/healthz', 200, { 'content-type': 'application/json' }, json({ status: 'ok' }))).join(),
      /required header X-Request-Id missing/);
    assert.match(contractErrors(res('GET', '/healthz', 200, { 'x-request-id': 'a b', 'content-type': 'application/json' }, json({ status: 'ok' }))).join(),
      /header X-Request-Id must match pattern/);
  });

  test('unrouted requests are held to the document rules: unknown path 404, unlisted method 405 with Allow', () => {
    const p = { 'content-type': 'application/problem+json', ...rid };
    assert.match(contractErrors(res('GET', '/no/such/path', 200, p, json(problem))).join(), /status 200 is not documented for unrouted \(NotFound\)/);
    const e = contractErrors(res('PUT', '/healthz', 405, p, json({ ...problem, status: 405, code: 'METHOD_NOT_ALLOWED' }))).join();
    assert.match(e, /required header Allow missing/);
  });

  test('a body where none is documented, and a body on HEAD, are named', () => {
    assert.match(contractErrors(res('DELETE', '/api/v1/keys/key_0123456789abcdef', 204, rid, 'x')).join(), /1-byte body .* documents none/);
    assert.match(contractErrors(res('HEAD', '/healthz', 200, { ...rid, 'content-type': 'application/json' }, '{}')).join(), /HEAD answered with a 2-byte body/);
  });
});
