// Services: create, read, page through, update, delete (refused while keys are live).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKey, createService, startServer, verify } from './lib/server.mjs';

describe('services', () => {
  let s;
  before(async () => { s = await startServer(); });
  after(() => s.cleanup());

  test('create, get, update', async () => {
    const r = await s.api('POST', '/api/v1/services', { name: 'Acme onboarding', description: 'KYC for Acme' });
    assert.equal(r.status, 201);
    assert.match(r.json.id, /^svc_[0-9A-Za-z]{16}$/);
    assert.equal(r.headers.get('location'), `/api/v1/services/${r.json.id}`);
    assert.equal(r.json.keyPrefix, 'kw');
    const g = await s.api('GET', `/api/v1/services/${r.json.id}`);
    assert.deepEqual(g.json, r.json);
    const u = await s.api('PATCH', `/api/v1/services/${r.json.id}`, { name: 'Acme', keyPrefix: 'acme' });
    assert.equal(u.status, 200);
    assert.equal(u.json.name, 'Acme');
    assert.equal(u.json.description, 'KYC for Acme');
    assert.equal(u.json.keyPrefix, 'acme');
    assert.equal((await s.api('GET', '/api/v1/services/svc_doesnotexist0000')).status, 404);
  });

  test('pages with limit and cursor cover every service once', async () => {
    for (let i = 0; i < 7; i++) await createService(s, { name: `page ${i}` });
    const seen = [];
    let cursor = null, pages = 0;
    do {
      const q = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : '?limit=3';
      const r = await s.api('GET', `/api/v1/services${q}`);
      assert.equal(r.status, 200);
      assert.ok(r.json.items.length <= 3);
      seen.push(...r.json.items.map((i) => i.id));
      cursor = r.json.nextCursor;
      pages++;
    } while (cursor);
    assert.ok(pages >= 3);
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.length >= 7);
  });

  test('delete is refused while keys are live, forced deletion stops them at once', async () => {
    const svc = await createService(s, { name: 'to delete' });
    const k = await createKey(s, svc.id);
    let r = await s.api('DELETE', `/api/v1/services/${svc.id}`);
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'SERVICE_HAS_LIVE_KEYS');
    assert.equal((await verify(s, k.key)).code, 'VALID');
    r = await s.api('DELETE', `/api/v1/services/${svc.id}?force=true`);
    assert.equal(r.status, 204);
    assert.equal((await verify(s, k.key)).code, 'NOT_FOUND');
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).status, 404);
  });

  test('a service whose keys are all revoked deletes without force', async () => {
    const svc = await createService(s, { name: 'revoked only' });
    const k = await createKey(s, svc.id);
    await s.api('POST', `/api/v1/keys/${k.id}/revoke`);
    assert.equal((await s.api('DELETE', `/api/v1/services/${svc.id}`)).status, 204);
  });
});
