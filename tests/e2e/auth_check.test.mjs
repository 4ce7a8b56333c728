// GET /api/v1/auth/check directly, and behind Debian's nginx with auth_request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { api, createKey, createService, freePort, startServer } from './lib/server.mjs';
import { startNginx } from './lib/nginx.mjs';

const check = (s, headers, q = '') => api(s.url, 'GET', `/api/v1/auth/check${q}`, undefined, { headers });

function unauthenticated(r, code) {
  assert.equal(r.status, 401, r.text);
  assert.equal(r.headers.get('x-keyward-code'), code);
  assert.match(r.headers.get('www-authenticate') || '', /^Bearer\b/);
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
  assert.equal(r.json.code, 'UNAUTHENTICATED');
  assert.equal(r.json.status, 401);
  assert.equal(r.headers.get('x-keyward-key-id'), null, 'no key facts on a refusal');
}

describe('auth/check', () => {
  let s, svc, key, writer;
  before(async () => {
    s = await startServer();
    svc = await createService(s);
    key = await createKey(s, svc.id, { scope: 'attributes' });
    writer = await createKey(s, svc.id, { scope: 'metadata', permissions: ['documents:write', 'keys:verify'] });
  });
  after(() => s.cleanup());

  test('Bearer and X-API-Key both pass: 204 with the X-Keyward-* headers', async () => {
    for (const headers of [{ Authorization: `Bearer ${key.key}` }, { 'X-API-Key': key.key }]) {
      const r = await check(s, headers);
      assert.equal(r.status, 204, JSON.stringify(headers));
      assert.equal(r.text, '');
      assert.equal(r.headers.get('x-keyward-key-id'), key.id);
      assert.equal(r.headers.get('x-keyward-service-id'), svc.id);
      assert.equal(r.headers.get('x-keyward-scope'), 'attributes');
      assert.equal(r.headers.get('x-keyward-permissions'), 'candidates:read');
      assert.equal(r.headers.get('x-keyward-code'), null);
    }
    const w = await check(s, { 'X-API-Key': writer.key });
    assert.equal(w.status, 204);
    assert.equal(w.headers.get('x-keyward-scope'), 'metadata');
    const perms = w.headers.get('x-keyward-permissions').split(',');
    assert.equal(perms[0], 'candidates:read');
    assert.deepEqual([...perms].sort(), ['candidates:read', 'documents:write', 'keys:verify']);
  });

  test('missing, malformed, unknown, revoked, expired and disabled credentials: 401 with the reason', async () => {
    unauthenticated(await check(s, {}), 'MISSING');
    unauthenticated(await check(s, { 'X-API-Key': 'kw_nope' }), 'MALFORMED');
    unauthenticated(await check(s, { Authorization: 'Bearer kw_nope' }), 'MALFORMED');
    const flipped = key.key.slice(0, -1) + (key.key.at(-1) === 'a' ? 'b' : 'a');
    unauthenticated(await check(s, { Authorization: `Bearer ${flipped}` }), 'MALFORMED');
    const mk = () => createKey(s, svc.id);
    const gone = await mk();
    await s.api('DELETE', `/api/v1/keys/${gone.id}`);
    unauthenticated(await check(s, { 'X-API-Key': gone.key }), 'NOT_FOUND');
    const rev = await mk();
    await s.api('POST', `/api/v1/keys/${rev.id}/revoke`);
    unauthenticated(await check(s, { 'X-API-Key': rev.key }), 'REVOKED');
    const exp = await mk();
    await s.api('POST', `/api/v1/keys/${exp.id}/roll`, { expireOldAfterSeconds: 0 });
    unauthenticated(await check(s, { 'X-API-Key': exp.key }), 'EXPIRED');
    const dis = await mk();
    await s.api('PATCH', `/api/v1/keys/${dis.id}`, { enabled: false });
    unauthenticated(await check(s, { Authorization: `Bearer ${dis.key}` }), 'DISABLED');
    // The root token is an admin credential, not an integrator one.
    const root = await check(s, { Authorization: `Bearer ${s.rootToken}` });
    assert.equal(root.status, 401);
  });

  test('?permission= is enforced: 403 FORBIDDEN without it, 204 with it', async () => {
    let r = await check(s, { 'X-API-Key': key.key }, '?permission=documents:write');
    assert.equal(r.status, 403);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(r.json.code, 'FORBIDDEN');
    r = await check(s, { Authorization: `Bearer ${key.key}` }, '?permission=documents:write');
    assert.equal(r.status, 403);
    r = await check(s, { 'X-API-Key': writer.key }, '?permission=documents:write');
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('x-keyward-key-id'), writer.id);
    // candidates:read is implied by every scope.
    r = await check(s, { 'X-API-Key': key.key }, '?permission=candidates:read');
    assert.equal(r.status, 204);
    // The grant is read on the next request after a PATCH.
    await s.api('PATCH', `/api/v1/keys/${writer.id}`, { permissions: [] });
    r = await check(s, { 'X-API-Key': writer.key }, '?permission=documents:write');
    assert.equal(r.status, 403);
    await s.api('PATCH', `/api/v1/keys/${writer.id}`, { permissions: ['documents:write', 'keys:verify'] });
    r = await check(s, { 'X-API-Key': writer.key }, '?permission=documents:write');
    assert.equal(r.status, 204);
    // An invalid key is 401 whatever permission is asked.
    unauthenticated(await check(s, { 'X-API-Key': 'kw_nope' }, '?permission=documents:write'), 'MALFORMED');
  });

  describe('behind nginx auth_request', () => {
    let nginx, upstream;
    const seen = [];
    before(async () => {
      const upPort = await freePort();
      upstream = createServer((req, res) => {
        seen.push({ url: req.url, keyId: req.headers['x-keyward-key-id'] || null, svc: req.headers['x-keyward-service-id'] || null });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ upstream: 'ok', url: req.url, keyId: req.headers['x-keyward-key-id'] || null }));
      });
      await new Promise((r) => upstream.listen(upPort, '127.0.0.1', r));
      nginx = await startNginx(`
    location / {
      auth_request /_kw;
      auth_request_set $kw_key_id $upstream_http_x_keyward_key_id;
      auth_request_set $kw_service_id $upstream_http_x_keyward_service_id;
      proxy_set_header X-Keyward-Key-Id $kw_key_id;
      proxy_set_header X-Keyward-Service-Id $kw_service_id;
      proxy_pass http://127.0.0.1:${upPort};
    }
    location = /_kw {
      internal;
      proxy_pass http://127.0.0.1:${s.port}/api/v1/auth/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Authorization $http_authorization;
      proxy_set_header X-API-Key $http_x_api_key;
    }`);
    });
    after(async () => {
      await nginx?.stop();
      if (upstream) await new Promise((r) => upstream.close(r));
    });

    test('a valid key passes with its id forwarded; a revoked key and no key get 401', async () => {
      const k = await createKey(s, svc.id);
      let r = await fetch(`${nginx.url}/records?page=1`, { headers: { Authorization: `Bearer ${k.key}` } });
      assert.equal(r.status, 200, nginx.errors());
      assert.deepEqual(await r.json(), { upstream: 'ok', url: '/records?page=1', keyId: k.id });
      assert.deepEqual(seen.at(-1), { url: '/records?page=1', keyId: k.id, svc: svc.id });
      r = await fetch(`${nginx.url}/records`, { headers: { 'X-API-Key': k.key } });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).keyId, k.id);
      // A POST with a body: the body goes upstream, not to keyward.
      r = await fetch(`${nginx.url}/ingest`, { method: 'POST', headers: { 'X-API-Key': k.key, 'Content-Type': 'application/json' }, body: '{"a":1}' });
      assert.equal(r.status, 200);
      await r.text();

      const n = seen.length;
      assert.equal((await s.api('POST', `/api/v1/keys/${k.id}/revoke`)).status, 200);
      r = await fetch(`${nginx.url}/records`, { headers: { Authorization: `Bearer ${k.key}` } });
      assert.equal(r.status, 401, 'revoked on the very next request through nginx');
      await r.text();
      r = await fetch(`${nginx.url}/records`);
      assert.equal(r.status, 401);
      await r.text();
      r = await fetch(`${nginx.url}/records`, { headers: { 'X-API-Key': 'kw_garbage' } });
      assert.equal(r.status, 401);
      await r.text();
      assert.equal(seen.length, n, 'the upstream saw no unauthenticated request');
    });

    test('a client cannot smuggle its own X-Keyward-Key-Id past nginx', async () => {
      const k = await createKey(s, svc.id);
      const r = await fetch(`${nginx.url}/who`, { headers: { 'X-API-Key': k.key, 'X-Keyward-Key-Id': 'key_forged' } });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).keyId, k.id);
    });
  });
});
