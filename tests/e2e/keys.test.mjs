// The whole API key lifecycle through the HTTP API, as an integrator platform would drive it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, createKey, createService, sleep, startServer, verify } from './lib/server.mjs';

const KEY_RE = /^kw_[0-9A-Za-z]{49}$/;

describe('API keys', () => {
  let s, svc;
  before(async () => {
    s = await startServer();
    svc = await createService(s, { name: 'Keys' });
  });
  after(() => s.cleanup());

  test('create shows the secret once; reads never do', async () => {
    const k = await createKey(s, svc.id, { description: 'CRM export', scope: 'attributes', archiveAfterExtractSeconds: 3600 });
    assert.match(k.key, KEY_RE);
    assert.equal(k.start, k.key.slice(0, 7));
    assert.equal(k.status, 'active');
    assert.equal(k.scope, 'attributes');
    assert.equal(k.archiveAfterExtractSeconds, 3600);
    assert.deepEqual(k.permissions, ['candidates:read']);
    assert.equal(k.createdBy, 'root');
    assert.equal(k.lastUsedAt, null);
    const got = await s.api('GET', `/api/v1/keys/${k.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.json.key, undefined);
    assert.ok(!got.text.includes(k.key));
    const list = await s.api('GET', `/api/v1/services/${svc.id}/keys`);
    assert.equal(list.status, 200);
    assert.ok(list.json.items.some((i) => i.id === k.id));
    assert.ok(!list.text.includes(k.key));
  });

  test('verify answers VALID with the key facts, and records last use within a second', async () => {
    const k = await createKey(s, svc.id, { scope: 'attributes_pictures', permissions: ['documents:write'] });
    const v = await verify(s, k.key);
    assert.deepEqual(v, {
      valid: true, code: 'VALID', keyId: k.id, serviceId: svc.id, scope: 'attributes_pictures',
      permissions: ['candidates:read', 'documents:write'], expiresAt: null,
    });
    await sleep(1000);
    const got = await s.api('GET', `/api/v1/keys/${k.id}`);
    assert.notEqual(got.json.lastUsedAt, null);
    assert.equal(got.json.lastUsedIp, '127.0.0.1');
  });

  test('update, disable and enable take effect on the next request', async () => {
    const k = await createKey(s, svc.id);
    let r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { description: 'renamed', scope: 'attributes', permissions: ['keys:verify'], archiveAfterExtractSeconds: null });
    assert.equal(r.status, 200);
    assert.equal(r.json.description, 'renamed');
    assert.equal(r.json.scope, 'attributes');
    assert.deepEqual(r.json.permissions, ['candidates:read', 'keys:verify']);
    assert.equal(r.json.archiveAfterExtractSeconds, null);
    r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: false });
    assert.equal(r.json.status, 'disabled');
    assert.equal((await verify(s, k.key)).code, 'DISABLED');
    const check = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `Bearer ${k.key}` } });
    assert.equal(check.status, 401);
    assert.equal(check.headers.get('x-keyward-code'), 'DISABLED');
    r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: true });
    assert.equal(r.json.status, 'active');
    assert.equal((await verify(s, k.key)).code, 'VALID');
  });

  test('roll without grace: the old key stops at once, the new one works', async () => {
    const k = await createKey(s, svc.id, { description: 'to roll', scope: 'attributes', permissions: ['documents:read'] });
    const r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, {});
    assert.equal(r.status, 201);
    assert.match(r.json.key, KEY_RE);
    assert.notEqual(r.json.id, k.id);
    assert.equal(r.json.rolledFrom, k.id);
    assert.equal(r.json.description, 'to roll');
    assert.deepEqual(r.json.permissions, ['candidates:read', 'documents:read']);
    assert.equal((await verify(s, k.key)).code, 'EXPIRED');
    assert.equal((await verify(s, r.json.key)).code, 'VALID');
    assert.equal((await s.api('GET', `/api/v1/keys/${k.id}`)).json.status, 'expired');
  });

  test('roll with grace: both work until the old one expires', async () => {
    const k = await createKey(s, svc.id);
    const r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 60 });
    assert.equal(r.status, 201);
    assert.equal((await verify(s, k.key)).code, 'VALID');
    assert.equal((await verify(s, r.json.key)).code, 'VALID');
    const old = (await s.api('GET', `/api/v1/keys/${k.id}`)).json;
    const left = Date.parse(old.expiresAt) - Date.now();
    assert.ok(left > 50000 && left <= 60000, `old key expires in ${left} ms`);
  });

  test('revoke is immediate, permanent and idempotent', async () => {
    const k = await createKey(s, svc.id);
    let r = await s.api('POST', `/api/v1/keys/${k.id}/revoke`);
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'revoked');
    assert.notEqual(r.json.revokedAt, null);
    assert.equal((await verify(s, k.key)).code, 'REVOKED');
    r = await s.api('POST', `/api/v1/keys/${k.id}/revoke`);
    assert.equal(r.status, 200);
    r = await s.api('PATCH', `/api/v1/keys/${k.id}`, { enabled: true });
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'KEY_REVOKED');
    r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, {});
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'KEY_REVOKED');
  });

  test('delete: the key stops verifying and is gone', async () => {
    const k = await createKey(s, svc.id);
    assert.equal((await s.api('DELETE', `/api/v1/keys/${k.id}`)).status, 204);
    assert.equal((await verify(s, k.key)).code, 'NOT_FOUND');
    const r = await s.api('GET', `/api/v1/keys/${k.id}`);
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'NOT_FOUND');
    assert.equal((await s.api('DELETE', `/api/v1/keys/${k.id}`)).status, 404);
  });

  test('expiry: a past expiresAt is refused; a near one expires on time', async () => {
    let r = await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', expiresAt: '2000-01-01T00:00:00Z' });
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'INVALID_FIELD');
    assert.equal(r.json.field, 'expiresAt');
    const soon = new Date(Date.now() + 1500).toISOString();
    const k = await createKey(s, svc.id, { scope: 'metadata', expiresAt: soon });
    assert.equal((await verify(s, k.key)).code, 'VALID');
    await sleep(1700);
    const v = await verify(s, k.key);
    assert.equal(v.code, 'EXPIRED');
    assert.equal(v.valid, false);
  });

  test('MALFORMED is decided by shape and checksum', async () => {
    const k = await createKey(s, svc.id);
    const last = k.key.at(-1);
    const broken = k.key.slice(0, -1) + (last === 'a' ? 'b' : 'a');
    assert.deepEqual(await verify(s, broken), { valid: false, code: 'MALFORMED' });
    assert.deepEqual(await verify(s, 'not-a-key'), { valid: false, code: 'MALFORMED' });
  });

  test('a key holding keys:verify verifies its own service only; others get 403', async () => {
    const other = await createService(s, { name: 'Other' });
    const verifier = await createKey(s, svc.id, { scope: 'metadata', permissions: ['keys:verify'] });
    const mine = await createKey(s, svc.id);
    const theirs = await createKey(s, other.id);
    assert.equal((await verify(s, mine.key, verifier.key)).code, 'VALID');
    const v = await verify(s, theirs.key, verifier.key);
    assert.deepEqual(v, { valid: false, code: 'NOT_FOUND' });
    const plain = await createKey(s, svc.id);
    const r = await api(s.url, 'POST', '/api/v1/keys/verify', { key: mine.key }, { token: plain.key });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'FORBIDDEN');
    const x = await api(s.url, 'POST', '/api/v1/keys/verify', { key: mine.key }, { headers: { 'X-API-Key': verifier.key } });
    assert.equal(x.status, 200);
  });

  test('a service prefix is used by keys created afterwards', async () => {
    const p = await createService(s, { name: 'Prefixed', keyPrefix: 'acme' });
    const k = await createKey(s, p.id);
    assert.match(k.key, /^acme_[0-9A-Za-z]{49}$/);
    await s.api('PATCH', `/api/v1/services/${p.id}`, { keyPrefix: 'acme2' });
    const k2 = await createKey(s, p.id);
    assert.match(k2.key, /^acme2_/);
    assert.equal((await verify(s, k.key)).code, 'VALID');
  });
});
