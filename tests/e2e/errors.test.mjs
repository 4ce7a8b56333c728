// Every bad input gets a 4xx application/problem+json with a stable code, and the server keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { api, createKey, createService, rawRequest, sleep, startServer } from './lib/server.mjs';

function problem(r, status, code, field, label = '') {
  const ctx = `${label} -> ${r.status} ${r.text.slice(0, 300)}`;
  assert.equal(r.status, status, ctx);
  assert.match(r.headers.get('content-type') || '', /^application\/problem\+json/, ctx);
  assert.equal(r.json?.code, code, ctx);
  assert.equal(r.json.status, status, ctx);
  assert.equal(r.json.type, `urn:keyward:problem:${code}`, ctx);
  assert.ok(typeof r.json.title === 'string' && r.json.title.length > 0, ctx);
  assert.ok(typeof r.json.detail === 'string' && r.json.detail.length > 0, ctx);
  assert.equal(r.json.requestId, r.headers.get('x-request-id'), ctx);
  if (field) assert.equal(r.json.field, field, ctx);
  return r.json;
}

// Runs every [label, request thunk, status, code, field] and reports all mismatches at once.
async function expectAll(cases) {
  const bad = [];
  for (const [label, req, status, code, field] of cases) {
    const r = await req();
    try { problem(r, status, code, field, label); } catch (e) { bad.push(e.message.split('\n')[0]); }
  }
  assert.deepEqual(bad, [], `${bad.length} of ${cases.length} cases answered otherwise:\n${bad.join('\n')}`);
}

const allowSet = (r) => new Set((r.headers.get('allow') || '').split(',').map((m) => m.trim()).filter(Boolean));

describe('bad input', () => {
  let s, svc, key;
  before(async () => {
    s = await startServer();
    svc = await createService(s, { name: 'Errors' });
    key = await createKey(s, svc.id);
  });
  after(() => s.cleanup());

  test('authentication: 401 UNAUTHENTICATED without a valid admin credential, 403 for an API key', async () => {
    problem(await api(s.url, 'GET', '/api/v1/services'), 401, 'UNAUTHENTICATED', null, 'no token');
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { token: 'x'.repeat(48) }), 401, 'UNAUTHENTICATED', null, 'wrong token');
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { token: `${s.rootToken}x` }), 401, 'UNAUTHENTICATED', null, 'token + 1');
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { token: s.rootToken.slice(0, -1) }), 401, 'UNAUTHENTICATED', null, 'token - 1');
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' } }), 401, 'UNAUTHENTICATED', null, 'basic');
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { headers: { Authorization: s.rootToken } }), 401, 'UNAUTHENTICATED', null, 'no scheme');
    problem(await api(s.url, 'POST', '/api/v1/services', { name: 'x' }), 401, 'UNAUTHENTICATED', null, 'unauthenticated write');
    problem(await api(s.url, 'DELETE', `/api/v1/services/${svc.id}?force=true`), 401, 'UNAUTHENTICATED', null, 'unauthenticated delete');
    problem(await api(s.url, 'GET', '/api/v1/audit'), 401, 'UNAUTHENTICATED', null, 'audit');
    problem(await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }), 401, 'UNAUTHENTICATED', null, 'verify without caller');
    problem(await api(s.url, 'GET', '/api/v1/services', undefined, { token: key.key }), 403, 'FORBIDDEN', null, 'api key as admin');
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).status, 200, 'nothing changed');
  });

  test('routing: 404 NOT_FOUND for unknown routes and objects, 405 with Allow for wrong methods', async () => {
    problem(await s.api('GET', '/api/v1/nope'), 404, 'NOT_FOUND', null, '/api/v1/nope');
    problem(await s.api('GET', `/api/v1/keys/${key.id}/frobnicate`), 404, 'NOT_FOUND', null, 'sub-route');
    problem(await s.api('GET', '/api/v2/services'), 404, 'NOT_FOUND', null, 'v2');
    problem(await s.api('GET', '/api/v1/keys/key_doesnotexist0000'), 404, 'NOT_FOUND', null, 'key');
    problem(await s.api('GET', '/api/v1/keys/..%2f..%2fetc%2fpasswd'), 404, 'NOT_FOUND', null, 'traversal');
    const cases = [
      ['PUT', '/api/v1/services', ['GET', 'POST']],
      ['DELETE', '/api/v1/services', ['GET', 'POST']],
      ['PUT', `/api/v1/services/${svc.id}`, ['GET', 'PATCH', 'DELETE']],
      ['POST', `/api/v1/services/${svc.id}`, ['GET', 'PATCH', 'DELETE']],
      ['PUT', `/api/v1/keys/${key.id}`, ['GET', 'PATCH', 'DELETE']],
      ['GET', `/api/v1/keys/${key.id}/revoke`, ['POST']],
      ['DELETE', `/api/v1/keys/${key.id}/roll`, ['POST']],
      ['POST', '/api/v1/auth/check', ['GET']],
    ];
    for (const [m, p, allowed] of cases) {
      const r = await s.api(m, p);
      problem(r, 405, 'METHOD_NOT_ALLOWED', null, `${m} ${p}`);
      const allow = allowSet(r);
      for (const a of allowed) assert.ok(allow.has(a), `${m} ${p}: Allow ${r.headers.get('allow')} lacks ${a}`);
      assert.ok(!allow.has(m), `${m} ${p}: Allow lists ${m}`);
    }
    const h = await api(s.url, 'POST', '/healthz');
    problem(h, 405, 'METHOD_NOT_ALLOWED', null, 'POST /healthz');
    assert.ok(allowSet(h).has('GET'));
  });

  test('/api/v1/keys/verify is a route of its own: other methods are 405 Allow: POST, not "no such key"', async () => {
    const bad = [];
    for (const m of ['GET', 'PATCH', 'DELETE']) {
      const r = await s.api(m, '/api/v1/keys/verify', m === 'PATCH' ? { description: 'x' } : undefined);
      try {
        problem(r, 405, 'METHOD_NOT_ALLOWED', null, `${m} /api/v1/keys/verify`);
        assert.deepEqual([...allowSet(r)], ['POST']);
      } catch (e) { bad.push(e.message.split('\n')[0]); }
    }
    assert.deepEqual(bad, []);
  });

  test('bodies: BAD_JSON, UNKNOWN_FIELD, UNSUPPORTED_MEDIA_TYPE', async () => {
    const bad = ['{"name":', '[1,2]', '[]', 'null', '"a string"', '42', 'true', '{"name":"a"} trailing', "{'name':'a'}", '{name:"a"}', ''];
    for (const b of bad) problem(await s.api('POST', '/api/v1/services', b), 400, 'BAD_JSON', null, JSON.stringify(b));
    problem(await s.api('POST', '/api/v1/services'), 400, 'BAD_JSON', null, 'no body');
    problem(await s.api('POST', '/api/v1/services', Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400, 'BAD_JSON', null, 'invalid UTF-8');
    const deep = `{"name":${'['.repeat(20000)}${']'.repeat(20000)}}`;
    const d = await s.api('POST', '/api/v1/services', deep);
    assert.equal(d.status, 400, 'deeply nested JSON');
    assert.ok(['BAD_JSON', 'INVALID_FIELD'].includes(d.json.code));
    const dup = await s.api('POST', '/api/v1/services', '{"name":"a","name":"b"}');
    assert.equal(dup.status, 400, 'duplicate member names are refused');
    problem(await s.api('POST', `/api/v1/services/${svc.id}/keys`, '{"scope":'), 400, 'BAD_JSON', null, 'key create');
    problem(await s.api('PATCH', `/api/v1/keys/${key.id}`, '[]'), 400, 'BAD_JSON', null, 'key patch');
    problem(await s.api('POST', '/api/v1/keys/verify', '"kw_x"'), 400, 'BAD_JSON', null, 'verify');

    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json']) {
      problem(await s.api('POST', '/api/v1/services', '{"name":"a"}', { contentType: ct }), 415, 'UNSUPPORTED_MEDIA_TYPE', null, ct);
    }
    problem(await s.api('POST', '/api/v1/services', Buffer.from('{"name":"a"}'), { contentType: null }), 415, 'UNSUPPORTED_MEDIA_TYPE', null, 'no content type');
    problem(await s.api('PATCH', `/api/v1/keys/${key.id}`, '{"description":"x"}', { contentType: 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE', null, 'patch');
    const ok = await s.api('POST', '/api/v1/services', '{"name":"charset"}', { contentType: 'application/json; charset=utf-8' });
    assert.equal(ok.status, 201, 'application/json with a charset parameter is JSON');

    problem(await s.api('POST', '/api/v1/services', { name: 'a', nmae: 'b' }), 400, 'UNKNOWN_FIELD', 'nmae');
    problem(await s.api('POST', '/api/v1/services', { name: 'a', id: 'svc_mine' }), 400, 'UNKNOWN_FIELD', 'id');
    problem(await s.api('POST', '/api/v1/services', { name: 'a', createdAt: '2020-01-01T00:00:00.000Z' }), 400, 'UNKNOWN_FIELD', 'createdAt');
    problem(await s.api('PATCH', `/api/v1/services/${svc.id}`, { id: 'svc_x' }), 400, 'UNKNOWN_FIELD', 'id');
    problem(await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', enabled: true }), 400, 'UNKNOWN_FIELD', 'enabled');
    problem(await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', key: 'kw_mine' }), 400, 'UNKNOWN_FIELD', 'key');
    problem(await s.api('PATCH', `/api/v1/keys/${key.id}`, { status: 'active' }), 400, 'UNKNOWN_FIELD', 'status');
    problem(await s.api('PATCH', `/api/v1/keys/${key.id}`, { serviceId: svc.id }), 400, 'UNKNOWN_FIELD', 'serviceId');
    problem(await s.api('POST', `/api/v1/keys/${key.id}/roll`, { expireOldAfter: 5 }), 400, 'UNKNOWN_FIELD', 'expireOldAfter');
    problem(await s.api('POST', `/api/v1/keys/${key.id}/revoke`, { reason: 'x' }), 400, 'UNKNOWN_FIELD', 'reason');
    problem(await s.api('POST', '/api/v1/keys/verify', { key: key.key, keyId: key.id }), 400, 'UNKNOWN_FIELD', 'keyId');
    // Nothing above changed the key.
    const k = (await s.api('GET', `/api/v1/keys/${key.id}`)).json;
    assert.equal(k.status, 'active');
    assert.equal(k.description, '');
  });

  test('service fields: wrong types and out-of-bounds values are INVALID_FIELD naming the field', async () => {
    const cases = [
      [{}, 'name'], [{ name: '' }, 'name'], [{ name: 5 }, 'name'], [{ name: null }, 'name'], [{ name: true }, 'name'],
      [{ name: ['a'] }, 'name'], [{ name: { a: 1 } }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'], [{ name: 'é'.repeat(51) }, 'name'], // 102 bytes, 51 characters
      [{ name: 'a', description: 'd'.repeat(501) }, 'description'], [{ name: 'a', description: 'é'.repeat(251) }, 'description'],
      [{ name: 'a', description: 5 }, 'description'], [{ name: 'a', description: null }, 'description'], [{ name: 'a', description: [] }, 'description'],
      [{ name: 'a', keyPrefix: 'Bad' }, 'keyPrefix'], [{ name: 'a', keyPrefix: '1ab' }, 'keyPrefix'],
      [{ name: 'a', keyPrefix: 'a'.repeat(17) }, 'keyPrefix'], [{ name: 'a', keyPrefix: 'a_b' }, 'keyPrefix'],
      [{ name: 'a', keyPrefix: '' }, 'keyPrefix'], [{ name: 'a', keyPrefix: 'ab-c' }, 'keyPrefix'], [{ name: 'a', keyPrefix: 'é' }, 'keyPrefix'],
      [{ name: 'a', keyPrefix: 7 }, 'keyPrefix'], [{ name: 'a', keyPrefix: null }, 'keyPrefix'], [{ name: 'a', keyPrefix: 'ab ' }, 'keyPrefix'],
    ];
    await expectAll([
      ...cases.map(([body, field]) => [`POST ${JSON.stringify(body).slice(0, 80)}`, () => s.api('POST', '/api/v1/services', body), 400, 'INVALID_FIELD', field]),
      ...cases.filter(([b]) => Object.keys(b).length === 1 && 'name' in b).map(([body, field]) =>
        [`PATCH ${JSON.stringify(body).slice(0, 60)}`, () => s.api('PATCH', `/api/v1/services/${svc.id}`, body), 400, 'INVALID_FIELD', field]),
      ...[[{ keyPrefix: 'Bad' }, 'keyPrefix'], [{ keyPrefix: null }, 'keyPrefix'], [{ description: 'd'.repeat(501) }, 'description'], [{ description: 5 }, 'description']]
        .map(([body, field]) => [`PATCH ${JSON.stringify(body).slice(0, 60)}`, () => s.api('PATCH', `/api/v1/services/${svc.id}`, body), 400, 'INVALID_FIELD', field]),
    ]);
    // Limits are bytes, and the limits themselves are accepted.
    for (const body of [{ name: 'x'.repeat(100) }, { name: 'é'.repeat(50) }, { name: 'a', description: 'd'.repeat(500) },
      { name: 'a', keyPrefix: 'a' }, { name: 'a', keyPrefix: `a${'0'.repeat(15)}` }, { name: 'ok', description: '' }]) {
      const r = await s.api('POST', '/api/v1/services', body);
      assert.equal(r.status, 201, `${JSON.stringify(body).slice(0, 60)}: ${r.text}`);
      if (body.name) assert.equal(r.json.name, body.name, 'name round-trips');
    }
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).json.name, 'Errors', 'refused PATCHes changed nothing');
  });

  test('key fields: wrong types and out-of-bounds values are INVALID_FIELD naming the field', async () => {
    const path = `/api/v1/services/${svc.id}/keys`;
    const m = (o) => ({ scope: 'metadata', ...o });
    const cases = [
      [{}, 'scope'], [{ scope: 'everything' }, 'scope'], [{ scope: 1 }, 'scope'], [{ scope: null }, 'scope'],
      [{ scope: 'METADATA' }, 'scope'], [{ scope: ['metadata'] }, 'scope'], [{ scope: '' }, 'scope'],
      [m({ description: 'd'.repeat(201) }), 'description'], [m({ description: 'é'.repeat(101) }), 'description'],
      [m({ description: 5 }), 'description'], [m({ description: null }), 'description'], [m({ description: {} }), 'description'],
      [m({ permissions: ['root'] }), 'permissions'], [m({ permissions: 'keys:verify' }), 'permissions'],
      [m({ permissions: Array(9).fill('keys:verify') }), 'permissions'], [m({ permissions: [1] }), 'permissions'],
      [m({ permissions: [null] }), 'permissions'], [m({ permissions: {} }), 'permissions'], [m({ permissions: ['KEYS:VERIFY'] }), 'permissions'],
      [m({ permissions: ['keys:verify '] }), 'permissions'], [m({ permissions: ['documents:*'] }), 'permissions'], [m({ permissions: [['keys:verify']] }), 'permissions'],
      [m({ archiveAfterExtractSeconds: -1 }), 'archiveAfterExtractSeconds'], [m({ archiveAfterExtractSeconds: 31536001 }), 'archiveAfterExtractSeconds'],
      [m({ archiveAfterExtractSeconds: 1.5 }), 'archiveAfterExtractSeconds'], [m({ archiveAfterExtractSeconds: '60' }), 'archiveAfterExtractSeconds'],
      [m({ archiveAfterExtractSeconds: true }), 'archiveAfterExtractSeconds'], [m({ archiveAfterExtractSeconds: 1e20 }), 'archiveAfterExtractSeconds'],
      [m({ archiveAfterExtractSeconds: 1e300 }), 'archiveAfterExtractSeconds'], [m({ archiveAfterExtractSeconds: 3e9 }), 'archiveAfterExtractSeconds'],
      [m({ archiveAfterExtractSeconds: [] }), 'archiveAfterExtractSeconds'],
      [m({ expiresAt: 'tomorrow' }), 'expiresAt'], [m({ expiresAt: 5 }), 'expiresAt'], [m({ expiresAt: true }), 'expiresAt'],
      [m({ expiresAt: '2000-01-01T00:00:00Z' }), 'expiresAt'], [m({ expiresAt: '2099-13-01T00:00:00Z' }), 'expiresAt'],
      [m({ expiresAt: '2099-02-30T00:00:00Z' }), 'expiresAt'], [m({ expiresAt: '2099-01-01T25:00:00Z' }), 'expiresAt'],
      [m({ expiresAt: '2099-01-01' }), 'expiresAt'], [m({ expiresAt: '2099-01-01T00:00:00' }), 'expiresAt'], [m({ expiresAt: '' }), 'expiresAt'],
      [m({ expiresAt: {} }), 'expiresAt'],
    ];
    const patches = [
      ...cases.filter(([, f]) => f !== 'scope').map(([body, field]) => { const { scope: _s, ...patch } = body; return [patch, field]; }),
      [{ scope: 'everything' }, 'scope'], [{ scope: null }, 'scope'], [{ enabled: 'no' }, 'enabled'], [{ enabled: 0 }, 'enabled'], [{ enabled: null }, 'enabled'],
    ];
    await expectAll([
      ...cases.map(([body, field]) => [`POST ${JSON.stringify(body).slice(0, 80)}`, () => s.api('POST', path, body), 400, 'INVALID_FIELD', field]),
      // The same rules on PATCH (scope is optional there).
      ...patches.map(([patch, field]) => [`PATCH ${JSON.stringify(patch).slice(0, 80)}`, () => s.api('PATCH', `/api/v1/keys/${key.id}`, patch), 400, 'INVALID_FIELD', field]),
    ]);
    const k = (await s.api('GET', `/api/v1/keys/${key.id}`)).json;
    assert.equal(k.status, 'active', 'refused PATCHes changed nothing');
    assert.equal(k.scope, 'metadata');
    assert.deepEqual(k.permissions, ['candidates:read']);
    // Accepted at the edges; other offsets are RFC 3339 too.
    for (const body of [m({ permissions: ['candidates:archive', 'documents:write', 'documents:read', 'keys:verify', 'candidates:read'] }),
      m({ archiveAfterExtractSeconds: 31536000 }), m({ description: 'é'.repeat(100) }), m({ expiresAt: '2099-01-01T00:00:00+02:00' }),
      m({ expiresAt: '2099-01-01T00:00:00.5Z' })]) {
      const r = await s.api('POST', path, body);
      assert.equal(r.status, 201, `${JSON.stringify(body)}: ${r.text}`);
    }
    const off = await s.api('POST', path, m({ expiresAt: '2099-01-01T02:00:00+02:00' }));
    assert.equal(off.json.expiresAt, '2099-01-01T00:00:00.000Z', 'times come back in UTC with milliseconds');
    problem(await s.api('POST', '/api/v1/services/svc_0000000000000000/keys', { scope: 'metadata' }), 404, 'NOT_FOUND', null, 'unknown service');
  });

  test('integer literals beyond 64 bits are INVALID_FIELD naming the field, not BAD_JSON', async () => {
    const path = `/api/v1/services/${svc.id}/keys`;
    const cases = [
      [path, 'POST', '{"scope":"metadata","archiveAfterExtractSeconds":99999999999999999999}', 'archiveAfterExtractSeconds'],
      [path, 'POST', '{"scope":"metadata","archiveAfterExtractSeconds":-99999999999999999999}', 'archiveAfterExtractSeconds'],
      [path, 'POST', '{"archiveAfterExtractSeconds":18446744073709551616,"scope":"metadata"}', 'archiveAfterExtractSeconds'],
      [`/api/v1/keys/${key.id}`, 'PATCH', '{"archiveAfterExtractSeconds":9223372036854775808}', 'archiveAfterExtractSeconds'],
      [`/api/v1/keys/${key.id}/roll`, 'POST', '{"expireOldAfterSeconds":99999999999999999999}', 'expireOldAfterSeconds'],
    ];
    await expectAll(cases.map(([p, m, body, field]) => [`${m} ${body}`, () => s.api(m, p, body), 400, 'INVALID_FIELD', field]));
    // Integral numbers are integers whichever way they are written (JSON Schema 2020-12); fractions are not.
    const ok = await s.api('POST', path, '{"scope":"metadata","archiveAfterExtractSeconds":60.0}');
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.archiveAfterExtractSeconds, 60);
    problem(await s.api('POST', path, '{"scope":"metadata","archiveAfterExtractSeconds":60.000001}'), 400, 'INVALID_FIELD', 'archiveAfterExtractSeconds');
    assert.equal((await s.api('GET', `/api/v1/keys/${key.id}`)).json.archiveAfterExtractSeconds, null, 'refused changes changed nothing');
  });

  test('roll and verify bodies', async () => {
    const k = await createKey(s, svc.id);
    for (const [body, field] of [[{ expireOldAfterSeconds: 2592001 }, 'expireOldAfterSeconds'], [{ expireOldAfterSeconds: -1 }, 'expireOldAfterSeconds'],
      [{ expireOldAfterSeconds: '5' }, 'expireOldAfterSeconds'], [{ expireOldAfterSeconds: 1.5 }, 'expireOldAfterSeconds'],
      [{ expireOldAfterSeconds: null }, 'expireOldAfterSeconds']]) {
      problem(await s.api('POST', `/api/v1/keys/${k.id}/roll`, body), 400, 'INVALID_FIELD', field, JSON.stringify(body));
    }
    assert.equal((await s.api('GET', `/api/v1/keys/${k.id}`)).json.expiresAt, null, 'refused rolls changed nothing');
    const r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 2592000 });
    assert.equal(r.status, 201);
    for (const [body, label] of [[{ key: 'k'.repeat(600) }, '600 bytes'], [{ key: 'k'.repeat(513) }, '513 bytes'], [{}, 'missing'],
      [{ key: 5 }, 'number'], [{ key: null }, 'null'], [{ key: [key.key] }, 'array']]) {
      problem(await s.api('POST', '/api/v1/keys/verify', body), 400, 'INVALID_FIELD', 'key', label);
    }
    const edge = await s.api('POST', '/api/v1/keys/verify', { key: 'k'.repeat(512) });
    assert.equal(edge.status, 200, '512 bytes is within the limit');
    assert.deepEqual(edge.json, { valid: false, code: 'MALFORMED' });
  });

  test('queries: INVALID_QUERY naming the parameter', async () => {
    for (const q of ['limit=0', 'limit=201', 'limit=abc', 'limit=-1', 'limit=1.5', 'limit=10abc', 'limit=99999999999999999999']) {
      problem(await s.api('GET', `/api/v1/services?${q}`), 400, 'INVALID_QUERY', 'limit', q);
    }
    for (const p of [`/api/v1/services/${svc.id}/keys?limit=0`, `/api/v1/services/${svc.id}/keys?limit=201`, '/api/v1/audit?limit=0', '/api/v1/audit?limit=201']) {
      problem(await s.api('GET', p), 400, 'INVALID_QUERY', 'limit', p);
    }
    for (const p of ['/api/v1/services?cursor=garbage', `/api/v1/services/${svc.id}/keys?cursor=garbage`, '/api/v1/audit?cursor=garbage',
      '/api/v1/services?cursor=%00%01%02', `/api/v1/services?cursor=${'A'.repeat(300)}`]) {
      problem(await s.api('GET', p), 400, 'INVALID_QUERY', 'cursor', p.slice(0, 60));
    }
    problem(await s.api('GET', '/api/v1/audit?since=yesterday'), 400, 'INVALID_QUERY', 'since');
    problem(await s.api('GET', '/api/v1/audit?until=2026-13-01T00:00:00Z'), 400, 'INVALID_QUERY', 'until');
    problem(await s.api('DELETE', `/api/v1/services/${svc.id}?force=maybe`), 400, 'INVALID_QUERY', 'force');
    problem(await api(s.url, 'GET', '/api/v1/auth/check?permission=all', undefined, { headers: { 'X-API-Key': key.key } }), 400, 'INVALID_QUERY', 'permission');
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).status, 200, 'force=maybe deleted nothing');
    for (const q of ['limit=1', 'limit=200']) assert.equal((await s.api('GET', `/api/v1/services?${q}`)).status, 200, q);
  });

  test('limits name themselves: 413 BODY_TOO_LARGE (65536), 431 HEADERS_TOO_LARGE (8192)', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(70000) });
    const r = problem(await s.api('POST', '/api/v1/services', big), 413, 'BODY_TOO_LARGE');
    assert.match(r.detail, /65536/);
    // Exactly 65536 bytes is allowed through to validation; 65537 is not.
    const sized = (n) => { const head = '{"name":"a","description":"'; return head + 'd'.repeat(n - head.length - 2) + '"}'; };
    assert.equal(sized(65536).length, 65536);
    problem(await s.api('POST', '/api/v1/services', sized(65536)), 400, 'INVALID_FIELD', 'description', '65536 bytes');
    problem(await s.api('POST', '/api/v1/services', sized(65537)), 413, 'BODY_TOO_LARGE', null, '65537 bytes');
    problem(await s.api('POST', `/api/v1/services/${svc.id}/keys`, big), 413, 'BODY_TOO_LARGE', null, 'key create');

    const h = problem(await api(s.url, 'GET', '/healthz', undefined, { headers: { 'X-Filler': 'f'.repeat(9000) } }), 431, 'HEADERS_TOO_LARGE');
    assert.match(h.detail, /8192/);
    const many = {};
    for (let i = 0; i < 12; i++) many[`X-Filler-${i}`] = 'f'.repeat(800);
    problem(await s.api('GET', '/api/v1/services', undefined, { headers: many }), 431, 'HEADERS_TOO_LARGE', null, '12 x 800 bytes');
    problem(await api(s.url, 'GET', '/healthz', undefined, { headers: { 'X-Filler': 'f'.repeat(32768) } }), 431, 'HEADERS_TOO_LARGE', null, '32 KiB');
    const fine = {};
    for (let i = 0; i < 6; i++) fine[`X-Filler-${i}`] = 'f'.repeat(800);
    assert.equal((await s.api('GET', '/api/v1/services', undefined, { headers: fine })).status, 200, '~5 KiB of headers is fine');
  });

  test('bodies of any size over the cap get the same 413 problem, even past 1 MiB', async () => {
    const bad = [];
    for (const [label, len, body] of [['2 MiB', 2 << 20, null], ['announced 99999999999, sent 2', 99999999999, '{}'], ['1 MiB + 1', (1 << 20) + 1, null]]) {
      const payload = body ?? `{"key":"${'k'.repeat(len - 10)}"}`;
      const out = await rawRequest(s.port, `POST /api/v1/keys/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.rootToken}\r\n`
        + `Content-Type: application/json\r\nContent-Length: ${len}\r\nConnection: close\r\n\r\n${payload}`);
      const [head, rest = ''] = out.split('\r\n\r\n');
      const got = `${head.split('\r\n')[0]} | ${(head.match(/^content-type: .*$/im) || ['no content-type'])[0]} | ${rest.slice(0, 60)}`;
      if (!/^HTTP\/1\.1 413 /.test(out) || !/^content-type: application\/problem\+json/im.test(head) || !/"code":"BODY_TOO_LARGE"/.test(rest)
        || !/65536/.test(rest) || !/^x-request-id: /im.test(head)) bad.push(`${label}: ${got}`);
    }
    assert.deepEqual(bad, [], 'expected 413 application/problem+json BODY_TOO_LARGE naming 65536, with X-Request-Id');
    assert.equal((await api(s.url, 'GET', '/healthz')).status, 200);
  });

  test('a chunked body over the cap is refused too', async () => {
    const chunk = 'd'.repeat(16000);
    let body = `${(10).toString(16)}\r\n{"name":"a\r\n`;
    for (let i = 0; i < 5; i++) body += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    body += '2\r\n"}\r\n0\r\n\r\n';
    const req = `POST /api/v1/services HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.rootToken}\r\n`
      + `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`;
    const out = await rawRequest(s.port, req);
    assert.match(out, /^HTTP\/1\.1 413 /, out.slice(0, 200));
    assert.match(out, /BODY_TOO_LARGE/);
    const names = (await s.api('GET', '/api/v1/services?limit=200')).json.items.map((i) => i.name);
    assert.ok(!names.some((n) => n.startsWith('a') && n.length > 1000), 'nothing was created');
  });

  test('garbage on the socket gets a 4xx and the server keeps serving', async () => {
    for (const junk of ['GARBAGE\r\n\r\n', 'POST /api/v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n',
`GET /${'a'.repeat(100)} HTTP/1.1\r\nBad Header Line\r\n\r\n`, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n']) {
      const out = await rawRequest(s.port, junk);
      if (out !== '') assert.match(out, /^HTTP\/1\.[01] 4\d\d /, `${JSON.stringify(junk.slice(0, 30))} -> ${out.slice(0, 80)}`);
      else assert.ok(!junk.startsWith('GARBAGE'), 'plain garbage gets an answer');
      assert.equal((await api(s.url, 'GET', '/healthz')).status, 200);
    }
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).status, 200);
  });

  test('after all of that the server still serves, and the key still verifies', async () => {
    assert.equal((await api(s.url, 'GET', '/healthz')).status, 200);
    assert.equal((await api(s.url, 'GET', '/readyz')).status, 200);
    const v = await s.api('POST', '/api/v1/keys/verify', { key: key.key });
    assert.equal(v.json.code, 'VALID');
    assert.equal(s.exited(), null, 'keyward did not exit');
  });
});

describe('idle connections', () => {
  let s;
  before(async () => { s = await startServer({ args: ['--idle-timeout', '1'] }); });
  after(() => s.cleanup());

  test('an idle connection is closed after --idle-timeout', async () => {
    const started = Date.now();
    const closedAfter = await new Promise((resolve) => {
      const sock = connect(s.port, '127.0.0.1');
      const t = setTimeout(() => { sock.destroy(); resolve(null); }, 5000);
      sock.on('close', () => { clearTimeout(t); resolve(Date.now() - started); });
      sock.on('error', () => {});
    });
    assert.ok(closedAfter !== null, 'the server closed the idle connection within 5 s');
    assert.ok(closedAfter >= 500, `closed after ${closedAfter} ms`);
    await sleep(10);
    assert.equal((await api(s.url, 'GET', '/healthz')).status, 200);
  });
});
