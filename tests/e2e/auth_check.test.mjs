// GET /api/v1/auth/check directly, and behind Debian's nginx with auth_request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { api, createKey, createService, freePort, startServer } from './lib/server.mjs';
import { startNginx } from './lib/nginx.mjs';

describe('auth/check', () => {
  let s, svc, key, writer;
  before(async () => {
    s = await startServer();
    svc = await createService(s);
    key = await createKey(s, svc.id, { scope: 'attributes' });
    writer = await createKey(s, svc.id, { scope: 'metadata', permissions: ['documents:write'] });
  });
  after(() => s.cleanup());

  test('Bearer and X-API-Key both pass with the key facts in headers', async () => {
    for (const headers of [{ Authorization: `Bearer ${key.key}` }, { 'X-API-Key': key.key }]) {
      const r = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers });
      assert.equal(r.status, 204);
      assert.equal(r.headers.get('x-keyward-key-id'), key.id);
      assert.equal(r.headers.get('x-keyward-service-id'), svc.id);
      assert.equal(r.headers.get('x-keyward-scope'), 'attributes');
      assert.equal(r.headers.get('x-keyward-permissions'), 'candidates:read');
    }
  });

  test('missing, malformed and unknown credentials are 401 with the reason', async () => {
    let r = await api(s.url, 'GET', '/api/v1/auth/check');
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('x-keyward-code'), 'MISSING');
    assert.match(r.headers.get('www-authenticate'), /^Bearer/);
    assert.equal(r.json.code, 'UNAUTHENTICATED');
    r = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': 'kw_nope' } });
    assert.equal(r.headers.get('x-keyward-code'), 'MALFORMED');
  });

  test('?permission= is enforced: 403 without it, 204 with it', async () => {
    let r = await api(s.url, 'GET', '/api/v1/auth/check?permission=documents:write', undefined, { headers: { 'X-API-Key': key.key } });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'FORBIDDEN');
    r = await api(s.url, 'GET', '/api/v1/auth/check?permission=documents:write', undefined, { headers: { 'X-API-Key': writer.key } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('x-keyward-permissions'), 'candidates:read,documents:write');
  });

  describe('behind nginx auth_request', () => {
    let nginx, upstream, upPort, seen = [];
    before(async () => {
      upPort = await freePort();
      upstream = createServer((req, res) => {
        seen.push(req.headers['x-keyward-key-id'] || null);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('upstream ok');
      });
      await new Promise((r) => upstream.listen(upPort, '127.0.0.1', r));
      nginx = await startNginx(`
    location / {
      auth_request /_keyward;
      auth_request_set $kw_key $upstream_http_x_keyward_key_id;
      proxy_set_header X-Keyward-Key-Id $kw_key;
      proxy_pass http://127.0.0.1:${upPort};
    }
    location = /_keyward {
      internal;
      proxy_pass http://127.0.0.1:${s.port}/api/v1/auth/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }`);
    });
    after(async () => {
      await nginx?.stop();
      await new Promise((r) => upstream.close(r));
    });

    test('a valid key passes, a revoked one and none do not', async () => {
      const k = await createKey(s, svc.id);
      let r = await fetch(`${nginx.url}/records`, { headers: { Authorization: `Bearer ${k.key}` } });
      assert.equal(r.status, 200, nginx.errors());
      assert.equal(await r.text(), 'upstream ok');
      assert.equal(seen.at(-1), k.id);
      r = await fetch(`${nginx.url}/records`, { headers: { 'X-API-Key': k.key } });
      assert.equal(r.status, 200);
      const n = seen.length;
      await s.api('POST', `/api/v1/keys/${k.id}/revoke`);
      r = await fetch(`${nginx.url}/records`, { headers: { Authorization: `Bearer ${k.key}` } });
      assert.equal(r.status, 401);
      r = await fetch(`${nginx.url}/records`);
      assert.equal(r.status, 401);
      assert.equal(seen.length, n, 'the upstream saw no unauthenticated request');
    });
  });
});
