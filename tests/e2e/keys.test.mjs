// The whole API key lifecycle through the HTTP API, as an integrator platform would drive it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TIME_RE, api, createKey, createService, sleep, startServer, verify, waitFor } from './lib/server.mjs';

const KEY_RE = /^kw_[0-9A-Za-z]{49}$/;
const KEY_FIELDS = ['archiveAfterExtractSeconds', 'createdAt', 'createdBy', 'description', 'enabled', 'expiresAt', 'id',
  'lastUsedAt', 'lastUsedIp', 'permissions', 'revokedAt', 'rolledFrom', 'scope', 'serviceId', 'start', 'status', 'updatedAt'];

describe('API keys', () => {
  let s, svc;
  const getKey = async (id) => (await s.api('GET', `/api/v1/keys/${id}`)).json;
  const check = (key) => api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `Bearer ${key}` } });

  before(async () => {
    s = await startServer();
    svc = await createService(s, { name: 'Keys' });
  });
  after(() => s.cleanup());

  test('create: 201, the secret once, the documented object', async () => {
    const r = await s.api('POST', `/api/v1/services/${svc.id}/keys`, { description: 'CRM export', scope: 'attributes', archiveAfterExtractSeconds: 3600 });
    assert.equal(r.status, 201);
    const k = r.json;
    assert.equal(r.headers.get('location'), `/api/v1/keys/${k.id}`);
    for (const f of [...KEY_FIELDS, 'key']) assert.ok(f in k, `key object has ${f}`);
    assert.match(k.id, /^key_[0-9A-Za-z]+$/);
    assert.match(k.key, KEY_RE);
    assert.ok(k.start.length >= 4 && k.start.length < k.key.length, `start ${k.start}`);
    assert.equal(k.start, k.key.slice(0, k.start.length));
    assert.ok(k.start.startsWith('kw_'));
    assert.equal(k.serviceId, svc.id);
    assert.equal(k.description, 'CRM export');
    assert.equal(k.status, 'active');
    assert.equal(k.enabled, true);
    assert.equal(k.scope, 'attributes');
    assert.equal(k.archiveAfterExtractSeconds, 3600);
    assert.deepEqual(k.permissions, ['candidates:read']);
    assert.equal(k.createdBy, 'root');
    assert.match(k.createdAt, TIME_RE);
    assert.match(k.updatedAt, TIME_RE);
    for (const f of ['lastUsedAt', 'lastUsedIp', 'expiresAt', 'revokedAt', 'rolledFrom']) assert.equal(k[f], null, f);

    const got = await s.api('GET', `/api/v1/keys/${k.id}`);
    assert.equal(got.status, 200);
    assert.equal('key' in got.json, false);
    assert.ok(!got.text.includes(k.key));
    const { key: _secret, ...rest } = k;
    assert.deepEqual(got.json, rest);
    const list = await s.api('GET', `/api/v1/services/${svc.id}/keys`);
    assert.equal(list.status, 200);
    const item = list.json.items.find((i) => i.id === k.id);
    assert.deepEqual(item, rest);
    assert.ok(!list.text.includes(k.key));
    assert.ok(!list.text.includes(k.key.slice(-20)));
  });

  test('create defaults: description "", no archive delay; each key is distinct', async () => {
    const a = await createKey(s, svc.id, { scope: 'metadata' });
    const b = await createKey(s, svc.id, { scope: 'metadata' });
    assert.equal(a.description, '');
    assert.equal(a.archiveAfterExtractSeconds, null);
    assert.equal(a.expiresAt, null);
    assert.notEqual(a.key, b.key);
    assert.notEqual(a.id, b.id);
    const c = await createKey(s, svc.id, { scope: 'metadata', archiveAfterExtractSeconds: null, expiresAt: null, permissions: [] });
    assert.deepEqual(c.permissions, ['candidates:read']);
    const d = await createKey(s, svc.id, { scope: 'metadata', archiveAfterExtractSeconds: 0 });
    assert.equal(d.archiveAfterExtractSeconds, 0);
    const e = await createKey(s, svc.id, { scope: 'metadata', archiveAfterExtractSeconds: 31536000, description: 'd'.repeat(200) });
    assert.equal(e.archiveAfterExtractSeconds, 31536000);
    assert.equal(e.description.length, 200);
  });

  test('permissions: candidates:read always first, explicit grants after it', async () => {
    const k = await createKey(s, svc.id, { scope: 'metadata', permissions: ['documents:read', 'candidates:read', 'keys:verify'] });
    assert.equal(k.permissions[0], 'candidates:read');
    assert.equal(k.permissions.filter((p) => p === 'candidates:read').length, 1);
    assert.deepEqual([...k.permissions].sort(), ['candidates:read', 'documents:read', 'keys:verify']);
    const all = await createKey(s, svc.id, { scope: 'attributes_pictures', permissions: ['candidates:archive', 'documents:write', 'documents:read', 'keys:verify'] });
    assert.equal(all.permissions[0], 'candidates:read');
    assert.deepEqual([...all.permissions].sort(), ['candidates:archive', 'candidates:read', 'documents:read', 'documents:write', 'keys:verify']);
  });

  test('verify answers VALID with the key facts; lastUsedAt/lastUsedIp follow within 1.5 s', async () => {
    const k = await createKey(s, svc.id, { scope: 'attributes_pictures', permissions: ['documents:write'] });
    const before = Date.now();
    const r = await s.api('POST', '/api/v1/keys/verify', { key: k.key });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(r.json, {
      valid: true, code: 'VALID', keyId: k.id, serviceId: svc.id, scope: 'attributes_pictures',
      permissions: ['candidates:read', 'documents:write'], expiresAt: null, kind: 'api_key',
    });
    const used = await waitFor(async () => { const g = await getKey(k.id); return g.lastUsedAt ? g : null; }, 1500);
    assert.ok(used, 'lastUsedAt set within 1.5 s of a verify');
    assert.match(used.lastUsedAt, TIME_RE);
    assert.ok(Date.parse(used.lastUsedAt) >= before - 1000 && Date.parse(used.lastUsedAt) <= Date.now() + 1000);
    assert.equal(used.lastUsedIp, '127.0.0.1');
  });

  test('an /auth/check sets lastUsedAt too', async () => {
    const k = await createKey(s, svc.id);
    assert.equal((await check(k.key)).status, 204);
    const used = await waitFor(async () => (await getKey(k.id)).lastUsedAt, 1500);
    assert.ok(used, 'lastUsedAt set within 1.5 s of an auth/check');
  });

  test('PATCH description, scope, permissions and archive delay; effective on the next verify', async () => {
    const k = await createKey(s, svc.id, { scope: 'metadata', archiveAfterExtractSeconds: 60 });
    await sleep(10);
    let r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { description: 'renamed', scope: 'attributes', permissions: ['keys:verify'], archiveAfterExtractSeconds: 120 });
    assert.equal(r.status, 200);
    assert.equal(r.json.id, k.id);
    assert.equal(r.json.description, 'renamed');
    assert.equal(r.json.scope, 'attributes');
    assert.deepEqual(r.json.permissions, ['candidates:read', 'keys:verify']);
    assert.equal(r.json.archiveAfterExtractSeconds, 120);
    assert.equal(r.json.createdAt, k.createdAt);
    assert.ok(Date.parse(r.json.updatedAt) > Date.parse(k.updatedAt));
    assert.equal('key' in r.json, false);
    let v = await verify(s, k.key);
    assert.equal(v.scope, 'attributes');
    assert.deepEqual(v.permissions, ['candidates:read', 'keys:verify']);
    // Only what is sent changes.
    r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { archiveAfterExtractSeconds: null });
    assert.equal(r.json.archiveAfterExtractSeconds, null);
    assert.equal(r.json.description, 'renamed');
    assert.equal(r.json.scope, 'attributes');
    r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { permissions: [] });
    assert.deepEqual(r.json.permissions, ['candidates:read']);
    v = await verify(s, k.key);
    assert.deepEqual(v.permissions, ['candidates:read']);
    assert.deepEqual(await getKey(k.id), r.json);
    // expiresAt can be set and cleared.
    const later = new Date(Date.now() + 3600e3).toISOString();
    r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { expiresAt: later });
    assert.equal(r.status, 200);
    assert.equal(Date.parse(r.json.expiresAt), Date.parse(later));
    assert.equal(Date.parse((await verify(s, k.key)).expiresAt), Date.parse(later));
    r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { expiresAt: null });
    assert.equal(r.json.expiresAt, null);
    const missing = await s.api('PATCH', '/api/v1/keys/key_doesnotexist0000', { description: 'x' });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'NOT_FOUND');
  });

  test('disable and enable take effect on the next request', async () => {
    const k = await createKey(s, svc.id);
    let r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: false });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'disabled');
    assert.equal(r.json.enabled, false);
    const v = await verify(s, k.key);
    assert.equal(v.valid, false);
    assert.equal(v.code, 'DISABLED');
    assert.equal(v.keyId, k.id, 'a found key names its id even when not valid');
    assert.equal(v.serviceId, svc.id);
    const c = await check(k.key);
    assert.equal(c.status, 401);
    assert.equal(c.headers.get('x-keyward-code'), 'DISABLED');
    assert.equal(c.json.code, 'UNAUTHENTICATED');
    assert.equal((await getKey(k.id)).status, 'disabled');
    r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: true });
    assert.equal(r.json.status, 'active');
    assert.equal(r.json.enabled, true);
    assert.equal((await verify(s, k.key)).code, 'VALID');
    assert.equal((await check(k.key)).status, 204);
  });

  test('roll with expireOldAfterSeconds=0: the old key is EXPIRED at once, the new one VALID', async () => {
    const k = await createKey(s, svc.id, { description: 'to roll', scope: 'attributes', permissions: ['documents:read'], archiveAfterExtractSeconds: 900 });
    const r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 0 });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), `/api/v1/keys/${r.json.id}`);
    assert.match(r.json.key, KEY_RE);
    assert.notEqual(r.json.key, k.key);
    assert.notEqual(r.json.id, k.id);
    assert.equal(r.json.rolledFrom, k.id);
    assert.equal(r.json.serviceId, svc.id);
    assert.equal(r.json.description, 'to roll');
    assert.equal(r.json.scope, 'attributes');
    assert.equal(r.json.archiveAfterExtractSeconds, 900);
    assert.equal(r.json.expiresAt, null);
    assert.equal(r.json.status, 'active');
    assert.deepEqual(r.json.permissions, ['candidates:read', 'documents:read']);
    const old = await verify(s, k.key);
    assert.equal(old.code, 'EXPIRED');
    assert.equal(old.valid, false);
    assert.equal((await check(k.key)).headers.get('x-keyward-code'), 'EXPIRED');
    const fresh = await verify(s, r.json.key);
    assert.equal(fresh.code, 'VALID');
    assert.equal(fresh.keyId, r.json.id);
    const oldObj = await getKey(k.id);
    assert.equal(oldObj.status, 'expired');
    assert.ok(Date.parse(oldObj.expiresAt) <= Date.now());
    assert.equal((await getKey(r.json.id)).rolledFrom, k.id);
    // Default grace is 0 as well.
    const k2 = await createKey(s, svc.id);
    const r2 = await s.api('POST', `/api/v1/keys/${k2.id}/roll`, {});
    assert.equal(r2.status, 201);
    assert.equal((await verify(s, k2.key)).code, 'EXPIRED');
  });

  test('roll with 60 s of grace: both keys work, the old one has expiresAt ~ now + 60 s', async () => {
    const k = await createKey(s, svc.id);
    const t = Date.now();
    const r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 60 });
    assert.equal(r.status, 201);
    assert.equal((await verify(s, k.key)).code, 'VALID');
    assert.equal((await verify(s, r.json.key)).code, 'VALID');
    const old = await getKey(k.id);
    assert.equal(old.status, 'active');
    assert.match(old.expiresAt, TIME_RE);
    const at = Date.parse(old.expiresAt);
    assert.ok(at >= t + 59000 && at <= Date.now() + 61000, `old key expires at ${old.expiresAt}`);
    assert.equal(Date.parse((await verify(s, k.key)).expiresAt), at);
    assert.equal(r.json.expiresAt, null, 'the new key does not inherit the grace expiry');
  });

  test('a rolled key keeps the expiry it had', async () => {
    const exp = new Date(Date.now() + 7200e3).toISOString();
    const k = await createKey(s, svc.id, { scope: 'metadata', expiresAt: exp });
    const r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 30 });
    assert.equal(r.status, 201);
    assert.equal(Date.parse(r.json.expiresAt), Date.parse(exp));
  });

  test('revoke is effective on the very next request, permanent and idempotent', async () => {
    const k = await createKey(s, svc.id);
    assert.equal((await verify(s, k.key)).code, 'VALID');
    let r = await s.api('POST', `/api/v1/keys/${k.id}/revoke`);
    assert.equal(r.status, 200);
    assert.equal(r.json.id, k.id);
    assert.equal(r.json.status, 'revoked');
    assert.match(r.json.revokedAt, TIME_RE);
    const v = await verify(s, k.key);
    assert.equal(v.code, 'REVOKED');
    assert.equal(v.valid, false);
    const c = await check(k.key);
    assert.equal(c.status, 401);
    assert.equal(c.headers.get('x-keyward-code'), 'REVOKED');
    r = await s.api('POST', `/api/v1/keys/${k.id}/revoke`, {});
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'revoked');
    for (const body of [{ enabled: true }, { description: 'x' }]) {
      r = await s.api('PATCH', `/api/v1/keys/${k.id}`, body);
      assert.equal(r.status, 409);
      assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
      assert.equal(r.json.code, 'KEY_REVOKED');
    }
    r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, {});
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'KEY_REVOKED');
    assert.equal((await verify(s, k.key)).code, 'REVOKED');
    // Revoked keys stay listed.
    const list = (await s.api('GET', `/api/v1/services/${svc.id}/keys?limit=200`)).json.items;
    assert.equal(list.find((i) => i.id === k.id)?.status, 'revoked');
    const missing = await s.api('POST', '/api/v1/keys/key_doesnotexist0000/revoke');
    assert.equal(missing.status, 404);
  });

  test('status precedence: revoked > expired > disabled', async () => {
    const k = await createKey(s, svc.id);
    await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: false });
    const r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 0 });
    assert.equal(r.status, 201, 'a disabled key can be rolled');
    assert.equal((await getKey(k.id)).status, 'expired');
    assert.equal((await verify(s, k.key)).code, 'EXPIRED');
    assert.equal((await s.api('POST', `/api/v1/keys/${k.id}/revoke`)).status, 200);
    assert.equal((await getKey(k.id)).status, 'revoked');
    assert.equal((await verify(s, k.key)).code, 'REVOKED');
  });

  test('delete: 204, NOT_FOUND on verify at once, 404 after', async () => {
    const k = await createKey(s, svc.id);
    const d = await s.api('DELETE', `/api/v1/keys/${k.id}`);
    assert.equal(d.status, 204);
    assert.equal(d.text, '');
    assert.deepEqual(await verify(s, k.key), { valid: false, code: 'NOT_FOUND' });
    assert.equal((await check(k.key)).headers.get('x-keyward-code'), 'NOT_FOUND');
    const r = await s.api('GET', `/api/v1/keys/${k.id}`);
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'NOT_FOUND');
    assert.equal((await s.api('DELETE', `/api/v1/keys/${k.id}`)).status, 404);
    const list = (await s.api('GET', `/api/v1/services/${svc.id}/keys?limit=200`)).json.items;
    assert.ok(!list.some((i) => i.id === k.id));
  });

  test('expiry: a past expiresAt is refused; one 2 s ahead expires when it passes', async () => {
    for (const past of ['2000-01-01T00:00:00Z', new Date(Date.now() - 1000).toISOString()]) {
      const r = await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', expiresAt: past });
      assert.equal(r.status, 400);
      assert.equal(r.json.code, 'INVALID_FIELD');
      assert.equal(r.json.field, 'expiresAt');
    }
    const soon = new Date(Date.now() + 2000).toISOString();
    const k = await createKey(s, svc.id, { scope: 'metadata', expiresAt: soon });
    assert.equal(Date.parse(k.expiresAt), Date.parse(soon));
    assert.match(k.expiresAt, TIME_RE);
    const v = await verify(s, k.key);
    assert.equal(v.code, 'VALID');
    assert.equal(Date.parse(v.expiresAt), Date.parse(soon));
    assert.equal((await check(k.key)).status, 204);
    await sleep(Math.max(0, Date.parse(soon) - Date.now()) + 200);
    const e = await verify(s, k.key);
    assert.equal(e.code, 'EXPIRED');
    assert.equal(e.valid, false);
    assert.equal((await getKey(k.id)).status, 'expired');
    const c = await check(k.key);
    assert.equal(c.status, 401);
    assert.equal(c.headers.get('x-keyward-code'), 'EXPIRED');
  });

  test('MALFORMED is decided by shape and checksum', async () => {
    const k = await createKey(s, svc.id);
    const last = k.key.at(-1);
    const flipped = k.key.slice(0, -1) + (last === 'a' ? 'b' : 'a');
    assert.deepEqual(await verify(s, flipped), { valid: false, code: 'MALFORMED' });
    const first = k.key[3];
    const body = `${k.key.slice(0, 3)}${first === 'Z' ? 'Y' : 'Z'}${k.key.slice(4)}`;
    assert.deepEqual(await verify(s, body), { valid: false, code: 'MALFORMED' }, 'a changed random part fails the checksum');
    for (const g of ['not-a-key', 'kw_', `${k.key}x`, k.key.slice(0, -1), `${k.key.slice(0, -1)}!`, 'kw_' + 'A'.repeat(49)]) {
      assert.deepEqual(await verify(s, g), { valid: false, code: 'MALFORMED' }, JSON.stringify(g));
    }
    assert.equal((await verify(s, k.key)).code, 'VALID', 'the original is still fine');
  });

  test('keys:verify callers see their own service only; callers without it get 403', async () => {
    const other = await createService(s, { name: 'Other' });
    const verifier = await createKey(s, svc.id, { scope: 'metadata', permissions: ['keys:verify'] });
    const mine = await createKey(s, svc.id, { scope: 'attributes' });
    const theirs = await createKey(s, other.id);
    const v = await verify(s, mine.key, verifier.key);
    assert.equal(v.code, 'VALID');
    assert.equal(v.keyId, mine.id);
    assert.equal(v.scope, 'attributes');
    assert.deepEqual(await verify(s, theirs.key, verifier.key), { valid: false, code: 'NOT_FOUND' });
    // Even a revoked key of the other service reveals nothing.
    await s.api('POST', `/api/v1/keys/${theirs.id}/revoke`);
    assert.deepEqual(await verify(s, theirs.key, verifier.key), { valid: false, code: 'NOT_FOUND' });
    assert.equal((await verify(s, theirs.key)).code, 'REVOKED', 'root sees it');
    const x = await api(s.url, 'POST', '/api/v1/keys/verify', { key: mine.key }, { headers: { 'X-API-Key': verifier.key } });
    assert.equal(x.status, 200);
    assert.equal(x.json.code, 'VALID');
    const plain = await createKey(s, svc.id, { scope: 'attributes_pictures', permissions: ['documents:read', 'documents:write', 'candidates:archive'] });
    const r = await api(s.url, 'POST', '/api/v1/keys/verify', { key: mine.key }, { token: plain.key });
    assert.equal(r.status, 403);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(r.json.code, 'FORBIDDEN');
    // A verifier that has been revoked is no longer a credential at all.
    await s.api('POST', `/api/v1/keys/${verifier.id}/revoke`);
    const gone = await api(s.url, 'POST', '/api/v1/keys/verify', { key: mine.key }, { token: verifier.key });
    assert.equal(gone.status, 401);
    assert.equal(gone.json.code, 'UNAUTHENTICATED');
    const none = await api(s.url, 'POST', '/api/v1/keys/verify', { key: mine.key });
    assert.equal(none.status, 401);
    assert.equal(none.json.code, 'UNAUTHENTICATED');
  });

  test('API keys are not admin credentials', async () => {
    const k = await createKey(s, svc.id, { scope: 'attributes_pictures', permissions: ['keys:verify'] });
    for (const [m, p, b] of [['GET', '/api/v1/services'], ['POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' }], ['GET', `/api/v1/keys/${k.id}`], ['POST', `/api/v1/keys/${k.id}/revoke`]]) {
      const r = await api(s.url, m, p, b, { token: k.key });
      assert.ok(r.status === 401 || r.status === 403, `${m} ${p}: ${r.status}`);
    }
    assert.equal((await getKey(k.id)).status, 'active');
  });

  test('revocation and disabling reach every connection and thread on the next request', async () => {
    const k = await createKey(s, svc.id);
    const burst = async () => (await Promise.all(Array.from({ length: 16 }, () => verify(s, k.key)))).map((v) => v.code);
    const checks = async () => (await Promise.all(Array.from({ length: 16 }, () => check(k.key)))).map((r) => r.status);
    assert.deepEqual([...new Set(await burst())], ['VALID']);
    await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: false });
    assert.deepEqual([...new Set(await burst())], ['DISABLED']);
    assert.deepEqual([...new Set(await checks())], [401]);
    await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: true });
    assert.deepEqual([...new Set(await checks())], [204]);
    await s.api('POST', `/api/v1/keys/${k.id}/revoke`);
    assert.deepEqual([...new Set(await burst())], ['REVOKED']);
    assert.deepEqual([...new Set(await checks())], [401]);
  });

  test('list pages default to 50 items', async () => {
    const own = await createService(s, { name: 'fifty-two keys' });
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; i < 52; i += 4) await createKey(s, own.id, { scope: 'metadata', description: `k${i}` });
    }));
    const p1 = await s.api('GET', `/api/v1/services/${own.id}/keys`);
    assert.equal(p1.json.items.length, 50);
    assert.equal(typeof p1.json.nextCursor, 'string');
    const p2 = await s.api('GET', `/api/v1/services/${own.id}/keys?cursor=${encodeURIComponent(p1.json.nextCursor)}`);
    assert.equal(p2.json.items.length, 2);
    assert.equal(p2.json.nextCursor, null);
    const ids = [...p1.json.items, ...p2.json.items].map((i) => i.id);
    assert.equal(new Set(ids).size, 52);
    const all = await s.api('GET', `/api/v1/services/${own.id}/keys?limit=200`);
    assert.deepEqual(all.json.items.map((i) => i.id), ids);
    const times = all.json.items.map((i) => Date.parse(i.createdAt));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], 'oldest first');
  });

  test('keys list pages with limit and cursor, oldest first, revoked included', async () => {
    const own = await createService(s, { name: 'many keys' });
    const made = [];
    for (let i = 0; i < 7; i++) made.push((await createKey(s, own.id, { scope: 'metadata', description: `k${i}` })).id);
    await s.api('POST', `/api/v1/keys/${made[2]}/revoke`);
    const seen = [];
    let cursor = null, pages = 0;
    do {
      const r = await s.api('GET', `/api/v1/services/${own.id}/keys?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200);
      assert.ok(r.json.items.length >= 1 && r.json.items.length <= 3);
      for (const i of r.json.items) assert.equal(i.serviceId, own.id);
      seen.push(...r.json.items.map((i) => i.id));
      cursor = r.json.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    assert.equal(pages, 3);
    assert.deepEqual(seen, made);
  });
});
