// Services: create, read, page through, update, delete (refused while keys are live).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TIME_RE, createKey, createService, sleep, startServer, verify } from './lib/server.mjs';

const SERVICE_FIELDS = ['createdAt', 'description', 'id', 'keyPrefix', 'name', 'updatedAt'];

describe('services', () => {
  let s;
  before(async () => { s = await startServer(); });
  after(() => s.cleanup());

  test('create answers 201 with the service and its Location; get returns the same', async () => {
    const r = await s.api('POST', '/api/v1/services', { name: 'Acme onboarding', description: 'KYC for Acme' });
    assert.equal(r.status, 201);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.match(r.json.id, /^svc_[0-9A-Za-z]+$/);
    assert.equal(r.headers.get('location'), `/api/v1/services/${r.json.id}`);
    for (const f of SERVICE_FIELDS) assert.ok(f in r.json, `service object has ${f}`);
    assert.equal(r.json.name, 'Acme onboarding');
    assert.equal(r.json.description, 'KYC for Acme');
    assert.equal(r.json.keyPrefix, 'kw');
    assert.match(r.json.createdAt, TIME_RE);
    assert.match(r.json.updatedAt, TIME_RE);
    assert.ok(Math.abs(Date.parse(r.json.createdAt) - Date.now()) < 5000);
    const g = await s.api('GET', `/api/v1/services/${r.json.id}`);
    assert.equal(g.status, 200);
    assert.deepEqual(g.json, r.json);
    const c = await s.api('POST', '/api/v1/services', { name: 'Custom prefix', keyPrefix: 'acme9' });
    assert.equal(c.status, 201);
    assert.equal(c.json.keyPrefix, 'acme9');
    assert.notEqual(c.json.id, r.json.id);
  });

  test('update changes only what is sent, and moves updatedAt', async () => {
    const svc = await createService(s, { name: 'Before', description: 'kept' });
    await sleep(15);
    const u = await s.api('PATCH', `/api/v1/services/${svc.id}`, { name: 'After' });
    assert.equal(u.status, 200);
    assert.equal(u.json.id, svc.id);
    assert.equal(u.json.name, 'After');
    assert.equal(u.json.description, 'kept');
    assert.equal(u.json.keyPrefix, 'kw');
    assert.equal(u.json.createdAt, svc.createdAt);
    assert.ok(Date.parse(u.json.updatedAt) > Date.parse(svc.updatedAt), 'updatedAt moved');
    const u2 = await s.api('PATCH', `/api/v1/services/${svc.id}`, { description: '', keyPrefix: 'zz' });
    assert.equal(u2.status, 200);
    assert.equal(u2.json.name, 'After');
    assert.equal(u2.json.description, '');
    assert.equal(u2.json.keyPrefix, 'zz');
    assert.deepEqual((await s.api('GET', `/api/v1/services/${svc.id}`)).json, u2.json);
    const bad = await s.api('PATCH', `/api/v1/services/${svc.id}`, { name: '' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'INVALID_FIELD');
    assert.equal(bad.json.field, 'name');
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).json.name, 'After', 'a refused update changes nothing');
  });

  test('unknown service ids are 404 NOT_FOUND for every verb', async () => {
    for (const [m, body] of [['GET'], ['PATCH', { name: 'x' }], ['DELETE']]) {
      const r = await s.api(m, '/api/v1/services/svc_doesnotexist0000', body);
      assert.equal(r.status, 404, m);
      assert.equal(r.json.code, 'NOT_FOUND');
    }
    const k = await s.api('GET', '/api/v1/services/svc_doesnotexist0000/keys');
    assert.equal(k.status, 404);
    assert.equal(k.json.code, 'NOT_FOUND');
  });

  test('names and descriptions refuse control characters (C0, DEL, C1), for services and keys alike', async () => {
    const svc = await createService(s, { name: 'Clean' });
    const key = await createKey(s, svc.id, { scope: 'metadata', description: 'clean' });
    const dirty = ['a\n\t\u001b[31mb', 'line\nbreak', 'tab\there', 'bell\u0007', 'del\u007f', 'c1\u0085next', 'csi\u009b31m', '\r'];
    const bad = [];
    const check = async (label, m, p, body, field) => {
      const r = await s.api(m, p, body);
      if (r.status !== 400 || r.json?.code !== 'INVALID_FIELD' || r.json?.field !== field) bad.push(`${label}: ${r.status} ${r.text.slice(0, 100)}`);
    };
    for (const t of dirty) {
      const l = JSON.stringify(t);
      await check(`create name ${l}`, 'POST', '/api/v1/services', { name: t }, 'name');
      await check(`create description ${l}`, 'POST', '/api/v1/services', { name: 'ok', description: t }, 'description');
      await check(`update name ${l}`, 'PATCH', `/api/v1/services/${svc.id}`, { name: t }, 'name');
      await check(`update description ${l}`, 'PATCH', `/api/v1/services/${svc.id}`, { description: t }, 'description');
      await check(`key create ${l}`, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', description: t }, 'description');
      await check(`key update ${l}`, 'PATCH', `/api/v1/keys/${key.id}`, { description: t }, 'description');
    }
    assert.deepEqual(bad, []);
    const after = (await s.api('GET', `/api/v1/services/${svc.id}`)).json;
    assert.equal(after.name, 'Clean', 'refused updates changed nothing');
    assert.equal(after.description, '');
    assert.equal((await s.api('GET', `/api/v1/keys/${key.id}`)).json.description, 'clean');
    // Printable text of any script passes, including U+00A0 (the first code point after C1).
    for (const t of ['Zürich – 東京 ✓', 'nbsp\u00a0here', 'quote " and \\ backslash']) {
      const r = await s.api('POST', '/api/v1/services', { name: t, description: t });
      assert.equal(r.status, 201, `${JSON.stringify(t)}: ${r.text}`);
      assert.equal(r.json.name, t);
      const k = await s.api('PATCH', `/api/v1/keys/${key.id}`, { description: t });
      assert.equal(k.status, 200, k.text);
    }
  });

  test('pages with limit and cursor: 3+ pages, oldest first, every service once', async () => {
    const made = [];
    for (let i = 0; i < 8; i++) made.push((await createService(s, { name: `page ${i}` })).id);
    const seen = [];
    let cursor = null, pages = 0;
    do {
      const q = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : '?limit=3';
      const r = await s.api('GET', `/api/v1/services${q}`);
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.json).sort(), ['items', 'nextCursor']);
      assert.ok(r.json.items.length <= 3);
      assert.ok(r.json.items.length > 0, 'no empty page before the end');
      seen.push(...r.json.items.map((i) => i.id));
      cursor = r.json.nextCursor;
      assert.ok(cursor === null || (typeof cursor === 'string' && cursor.length > 0));
      pages++;
      assert.ok(pages < 100, 'paging terminates');
    } while (cursor);
    assert.ok(pages >= 3, `${pages} pages`);
    assert.equal(new Set(seen).size, seen.length, 'no service twice');
    // Oldest first: the ones made here appear in creation order, contiguously at the end.
    assert.deepEqual(seen.slice(-made.length), made);
    const all = await s.api('GET', '/api/v1/services?limit=200');
    assert.deepEqual(all.json.items.map((i) => i.id), seen);
    assert.equal(all.json.nextCursor, null);
    // Default page size is 50 (fewer services exist, so one page).
    const def = await s.api('GET', '/api/v1/services');
    assert.equal(def.json.items.length, Math.min(50, seen.length));
    // limit=1 walks one at a time.
    const one = await s.api('GET', '/api/v1/services?limit=1');
    assert.equal(one.json.items.length, 1);
    assert.equal(one.json.items[0].id, seen[0]);
    const two = await s.api('GET', `/api/v1/services?limit=1&cursor=${encodeURIComponent(one.json.nextCursor)}`);
    assert.equal(two.json.items[0].id, seen[1]);
  });

  test('delete is refused while keys are live (active or disabled), forced deletion stops them at once', async () => {
    const svc = await createService(s, { name: 'to delete' });
    const k = await createKey(s, svc.id);
    const k2 = await createKey(s, svc.id, { scope: 'attributes' });
    let r = await s.api('DELETE', `/api/v1/services/${svc.id}`);
    assert.equal(r.status, 409);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(r.json.code, 'SERVICE_HAS_LIVE_KEYS');
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).status, 200, 'refused delete keeps the service');
    assert.equal((await verify(s, k.key)).code, 'VALID');
    // A disabled key is still live.
    await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: false });
    await s.api('POST', `/api/v1/keys/${k2.id}/revoke`);
    r = await s.api('DELETE', `/api/v1/services/${svc.id}`);
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'SERVICE_HAS_LIVE_KEYS');
    await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: true });
    r = await s.api('DELETE', `/api/v1/services/${svc.id}?force=true`);
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
    assert.equal((await verify(s, k.key)).code, 'NOT_FOUND');
    assert.equal((await verify(s, k2.key)).code, 'NOT_FOUND');
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).status, 404);
    assert.equal((await s.api('GET', `/api/v1/keys/${k.id}`)).status, 404);
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}/keys`)).status, 404);
    const listed = (await s.api('GET', '/api/v1/services?limit=200')).json.items.map((i) => i.id);
    assert.ok(!listed.includes(svc.id));
  });

  test('a service whose keys are all revoked or expired deletes without force', async () => {
    const svc = await createService(s, { name: 'dead keys only' });
    const a = await createKey(s, svc.id);
    const b = await createKey(s, svc.id);
    await s.api('POST', `/api/v1/keys/${a.id}/revoke`);
    const rolled = await s.api('POST', `/api/v1/keys/${b.id}/roll`, { expireOldAfterSeconds: 0 });
    assert.equal(rolled.status, 201);
    // The rolled-to key is live: refused; once it is revoked, only revoked/expired keys remain.
    assert.equal((await s.api('DELETE', `/api/v1/services/${svc.id}`)).status, 409);
    await s.api('POST', `/api/v1/keys/${rolled.json.id}/revoke`);
    assert.equal((await s.api('GET', `/api/v1/keys/${b.id}`)).json.status, 'expired');
    assert.equal((await s.api('DELETE', `/api/v1/services/${svc.id}`)).status, 204);
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).status, 404);
  });

  test('an empty service deletes without force', async () => {
    const svc = await createService(s, { name: 'empty' });
    assert.equal((await s.api('DELETE', `/api/v1/services/${svc.id}`)).status, 204);
    assert.equal((await s.api('DELETE', `/api/v1/services/${svc.id}`)).status, 404);
  });

  test('keyPrefix: used by keys created afterwards; existing keys keep working', async () => {
    const p = await createService(s, { name: 'Prefixed', keyPrefix: 'acme' });
    const k = await createKey(s, p.id);
    assert.match(k.key, /^acme_[0-9A-Za-z]{49}$/);
    assert.equal(k.start, k.key.slice(0, k.start.length));
    assert.ok(k.start.startsWith('acme_'));
    const u = await s.api('PATCH', `/api/v1/services/${p.id}`, { keyPrefix: 'acme2' });
    assert.equal(u.status, 200);
    const k2 = await createKey(s, p.id);
    assert.match(k2.key, /^acme2_[0-9A-Za-z]{49}$/);
    assert.equal((await verify(s, k.key)).code, 'VALID');
    assert.equal((await verify(s, k2.key)).code, 'VALID');
    const rolled = await s.api('POST', `/api/v1/keys/${k.id}/roll`, {});
    assert.match(rolled.json.key, /^acme2_[0-9A-Za-z]{49}$/, 'a roll creates a key, so it takes the current prefix');
  });
});
