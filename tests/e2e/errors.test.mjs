// Every bad input gets a 4xx application/problem+json with a stable code, and the server keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { api, createService, startServer } from './lib/server.mjs';

function problem(r, status, code, field) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
  assert.equal(r.json.code, code);
  assert.equal(r.json.status, status);
  assert.equal(r.json.type, `urn:keyward:problem:${code}`);
  assert.ok(r.json.title && r.json.detail && r.json.requestId);
  if (field) assert.equal(r.json.field, field);
}

function rawRequest(port, data) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.on('data', (d) => (out += d));
    sock.on('end', () => resolve(out));
    sock.on('error', () => resolve(out));
    sock.setTimeout(3000, () => { sock.destroy(); resolve(out); });
    sock.write(data);
  });
}

describe('bad input', () => {
  let s, svc;
  before(async () => {
    s = await startServer();
    svc = await createService(s, { name: 'Errors' });
  });
  after(() => s.cleanup());

  test('authentication', async () => {
    problem(await api(s.url, 'GET', '/api/v1/services'), 401, 'UNAUTHENTICATED');
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { token: 'x'.repeat(40) }), 401, 'UNAUTHENTICATED');
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { headers: { Authorization: 'Basic abc' } }), 401, 'UNAUTHENTICATED');
    const k = (await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' })).json.key;
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { token: k }), 403, 'FORBIDDEN');
  });

  test('routing', async () => {
    problem(await s.api('GET', '/api/v1/nope'), 404, 'NOT_FOUND');
    const r = await s.api('PUT', '/api/v1/services');
    problem(r, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(r.headers.get('allow'), 'POST, GET');
  });

  test('bodies', async () => {
    problem(await s.api('POST', '/api/v1/services', '{"name":'), 400, 'BAD_JSON');
    problem(await s.api('POST', '/api/v1/services', '[1,2]'), 400, 'BAD_JSON');
    problem(await s.api('POST', '/api/v1/services', '{"name":"a","name":"b"}'), 400, 'BAD_JSON');
    problem(await s.api('POST', '/api/v1/services'), 400, 'BAD_JSON');
    problem(await s.api('POST', '/api/v1/services', '{"name":"a"}', { contentType: 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    problem(await s.api('POST', '/api/v1/services', { name: 'a', nmae: 'b' }), 400, 'UNKNOWN_FIELD', 'nmae');
  });

  test('service fields', async () => {
    const cases = [
      [{}, 'name'], [{ name: '' }, 'name'], [{ name: 5 }, 'name'], [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 'a', description: 'd'.repeat(501) }, 'description'], [{ name: 'a', description: null }, 'description'],
      [{ name: 'a', keyPrefix: 'Bad' }, 'keyPrefix'], [{ name: 'a', keyPrefix: '1ab' }, 'keyPrefix'],
      [{ name: 'a', keyPrefix: 'a'.repeat(17) }, 'keyPrefix'], [{ name: 'a', keyPrefix: 'a_b' }, 'keyPrefix'],
    ];
    for (const [body, field] of cases) problem(await s.api('POST', '/api/v1/services', body), 400, 'INVALID_FIELD', field);
  });

  test('key fields', async () => {
    const path = `/api/v1/services/${svc.id}/keys`;
    const cases = [
      [{}, 'scope'], [{ scope: 'everything' }, 'scope'], [{ scope: 1 }, 'scope'],
      [{ scope: 'metadata', description: 'd'.repeat(201) }, 'description'],
      [{ scope: 'metadata', permissions: ['root'] }, 'permissions'], [{ scope: 'metadata', permissions: 'keys:verify' }, 'permissions'],
      [{ scope: 'metadata', permissions: Array(9).fill('keys:verify') }, 'permissions'],
      [{ scope: 'metadata', archiveAfterExtractSeconds: -1 }, 'archiveAfterExtractSeconds'],
      [{ scope: 'metadata', archiveAfterExtractSeconds: 31536001 }, 'archiveAfterExtractSeconds'],
      [{ scope: 'metadata', archiveAfterExtractSeconds: 1.5 }, 'archiveAfterExtractSeconds'],
      [{ scope: 'metadata', expiresAt: 'tomorrow' }, 'expiresAt'], [{ scope: 'metadata', expiresAt: 5 }, 'expiresAt'],
    ];
    for (const [body, field] of cases) problem(await s.api('POST', path, body), 400, 'INVALID_FIELD', field);
    problem(await s.api('POST', path, { scope: 'metadata', enabled: true }), 400, 'UNKNOWN_FIELD', 'enabled');
    problem(await s.api('POST', '/api/v1/services/svc_0000000000000000/keys', { scope: 'metadata' }), 404, 'NOT_FOUND');
    const k = (await s.api('POST', path, { scope: 'metadata' })).json;
    problem(await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: 'no' }), 400, 'INVALID_FIELD', 'enabled');
    problem(await s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 2592001 }), 400, 'INVALID_FIELD', 'expireOldAfterSeconds');
    problem(await s.api('POST', '/api/v1/keys/verify', { key: 'k'.repeat(600) }), 400, 'INVALID_FIELD', 'key');
    problem(await s.api('POST', '/api/v1/keys/verify', {}), 400, 'INVALID_FIELD', 'key');
  });

  test('queries', async () => {
    problem(await s.api('GET', '/api/v1/services?limit=0'), 400, 'INVALID_QUERY', 'limit');
    problem(await s.api('GET', '/api/v1/services?limit=201'), 400, 'INVALID_QUERY', 'limit');
    problem(await s.api('GET', '/api/v1/services?limit=abc'), 400, 'INVALID_QUERY', 'limit');
    problem(await s.api('GET', '/api/v1/services?cursor=garbage'), 400, 'INVALID_QUERY', 'cursor');
    problem(await s.api('GET', '/api/v1/audit?since=yesterday'), 400, 'INVALID_QUERY', 'since');
    problem(await s.api('DELETE', `/api/v1/services/${svc.id}?force=maybe`), 400, 'INVALID_QUERY', 'force');
    problem(await api(s.url, 'GET', '/api/v1/auth/check?permission=all'), 400, 'INVALID_QUERY', 'permission');
  });

  test('limits name themselves', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(70000) });
    const r = await s.api('POST', '/api/v1/services', big);
    problem(r, 413, 'BODY_TOO_LARGE');
    assert.match(r.json.detail, /65536/);
    const h = await s.api('GET', '/healthz', undefined, { headers: { 'X-Filler': 'f'.repeat(9000) } });
    problem(h, 431, 'HEADERS_TOO_LARGE');
    assert.match(h.json.detail, /8192/);
  });

  test('garbage on the socket gets a 4xx and the server keeps serving', async () => {
    const out = await rawRequest(s.port, 'GARBAGE\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 4\d\d/);
    const out2 = await rawRequest(s.port, 'POST /api/v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n');
    assert.match(out2, /^HTTP\/1\.1 4\d\d/);
    assert.equal((await api(s.url, 'GET', '/healthz')).status, 200);
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).status, 200);
  });
});
