// Service users (seed 002), their minted tokens and OAuth client secrets, driven over HTTP as the console
// or an integrator platform would: create per source system, mint/list/revoke tokens, use a token
// (auth/check, keys/verify, audit attribution), disable/enable/delete cascades, client-secret reset,
// and the API-key endpoints never seeing the other kinds. On PostgreSQL, two nodes on one database:
// disabling a service user on node A stops its token on node B within a generous deadline.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TIME_RE, api, createKey, createService, startServer, verify, waitFor } from './lib/server.mjs';
import { psql } from './lib/cluster.mjs';

const TOKEN_RE = /^kwt_[0-9A-Za-z]{49}$/;
const SECRET_RE = /^kwcs_[0-9A-Za-z]{49}$/;
const SU_FIELDS = ['clientId', 'clientSecretSetAt', 'createdAt', 'createdBy', 'enabled', 'id', 'name', 'permissions',
  'serviceId', 'sourceSystem', 'updatedAt'];

describe('service users and tokens', () => {
  let s, svc, other;
  const check = (tok, q = '') => api(s.url, 'GET', `/api/v1/auth/check${q}`, undefined, { headers: { Authorization: `Bearer ${tok}` } });
  const mkSu = async (body, svcId = svc.id) => s.api('POST', `/api/v1/services/${svcId}/service-users`, body);
  const mint = (suId, body = { label: 'upload' }) => s.api('POST', `/api/v1/service-users/${suId}/tokens`, body);

  before(async () => {
    s = await startServer();
    svc = await createService(s, { name: 'Docs' });
    other = await createService(s, { name: 'Other' });
  });
  after(() => s.cleanup());

  test('create: 201 with the client secret once; unique source system per service; bad input 400', async () => {
    const r = await mkSu({ name: 'VKYC', sourceSystem: 'vkyc', permissions: ['documents:write', 'keys:verify'] });
    assert.equal(r.status, 201, r.text);
    const u = r.json;
    for (const f of [...SU_FIELDS, 'clientSecret']) assert.ok(f in u, `has ${f}`);
    assert.match(u.id, /^su_[0-9A-Za-z]{16}$/);
    assert.equal(u.clientId, u.id);
    assert.match(u.clientSecret, SECRET_RE);
    assert.equal(u.serviceId, svc.id);
    assert.equal(u.enabled, true);
    assert.deepEqual(u.permissions, ['candidates:read', 'documents:write', 'keys:verify']);
    assert.equal(u.createdBy, 'root');
    assert.match(u.createdAt, TIME_RE);
    assert.equal(r.headers.get('location'), `/api/v1/service-users/${u.id}`);

    const got = await s.api('GET', `/api/v1/service-users/${u.id}`);
    assert.equal(got.status, 200);
    assert.ok(!got.text.includes(u.clientSecret));
    const { clientSecret: _c, ...rest } = u;
    assert.deepEqual(got.json, rest);

    const dup = await mkSu({ name: 'again', sourceSystem: 'vkyc' });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.code, 'SOURCE_SYSTEM_TAKEN');
    assert.equal((await mkSu({ name: 'vkyc elsewhere', sourceSystem: 'vkyc' }, other.id)).status, 201);
    for (const bad of [{ name: 'x', sourceSystem: 'VKYC' }, { name: 'x', sourceSystem: 'v' }, { name: 'x', sourceSystem: '1abc' },
      { name: 'x', sourceSystem: 'a'.repeat(33) }, { name: '', sourceSystem: 'abc' }, { sourceSystem: 'abc' },
      { name: 'x', sourceSystem: 'abc', permissions: ['root'] }, { name: 'x', sourceSystem: 'abc', extra: 1 }]) {
      const b = await mkSu(bad);
      assert.equal(b.status, 400, JSON.stringify(bad));
    }
    assert.equal((await mkSu({ name: 'x', sourceSystem: 'abc' }, 'svc_0000000000000000')).status, 404);
    const list = await s.api('GET', `/api/v1/services/${svc.id}/service-users?limit=1`);
    assert.equal(list.status, 200);
    assert.equal(list.json.items.length, 1);
    assert.equal(list.json.items[0].id, u.id);
    assert.ok(!list.text.includes(u.clientSecret));
  });

  test('tokens: mint once, list, use, revoke; permissions no wider than the user', async () => {
    const u = (await mkSu({ name: 'Doc service', sourceSystem: 'doc_service', permissions: ['documents:write', 'keys:verify'] })).json;
    const r = await mint(u.id, { label: 'Upload panel' });
    assert.equal(r.status, 201, r.text);
    const t = r.json;
    assert.match(t.token, TOKEN_RE);
    assert.match(t.id, /^tok_[0-9A-Za-z]{16}$/);
    assert.equal(t.serviceUserId, u.id);
    assert.equal(t.serviceId, svc.id);
    assert.equal(t.label, 'Upload panel');
    assert.equal(t.status, 'active');
    assert.equal(t.start, t.token.slice(0, t.start.length));
    assert.deepEqual(t.permissions, u.permissions);
    assert.equal(t.lastUsedAt, null);

    const narrow = await mint(u.id, { label: 'read only', permissions: [] });
    assert.deepEqual(narrow.json.permissions, ['candidates:read']);
    const wide = await mint(u.id, { label: 'too wide', permissions: ['documents:read'] });
    assert.equal(wide.status, 409);
    assert.equal(wide.json.code, 'PERMISSION_NOT_HELD');
    for (const bad of [{}, { label: '' }, { label: 'x'.repeat(101) }, { label: 'x', expiresAt: '2001-01-01T00:00:00Z' }, { label: 'a\nb' }]) {
      assert.equal((await mint(u.id, bad)).status, 400, JSON.stringify(bad));
    }
    assert.equal((await mint('su_0000000000000000')).status, 404);

    // auth/check and verify take the token, naming its kind and owner
    const c = await check(t.token, '?permission=documents:write');
    assert.equal(c.status, 204);
    assert.equal(c.headers.get('x-keyward-key-id'), t.id);
    assert.equal(c.headers.get('x-keyward-kind'), 'token');
    assert.equal(c.headers.get('x-keyward-service-user-id'), u.id);
    assert.equal((await check(narrow.json.token, '?permission=documents:write')).status, 403);
    const v = await verify(s, t.token);
    assert.equal(v.valid, true);
    assert.equal(v.kind, 'token');
    assert.equal(v.serviceUserId, u.id);
    assert.equal(v.keyId, t.id);
    // the token calls verify itself (it holds keys:verify): audited as the service user with the token
    const k = await createKey(s, svc.id);
    const own = await api(s.url, 'POST', '/api/v1/keys/verify', { key: k.key }, { token: t.token });
    assert.equal(own.status, 200);
    assert.equal(own.json.valid, true);
    await waitFor(async () => {
      const a = await s.api('GET', `/api/v1/audit?action=key.verify&actorId=${u.id}`);
      return a.json.items.some((e) => e.actor.type === 'service_user' && e.actor.id === u.id &&
        e.detail.credentialId === t.id && e.detail.credentialType === 'token');
    }, 3000);
    // a token cannot use the admin API
    assert.equal((await api(s.url, 'GET', `/api/v1/services/${svc.id}/keys`, undefined, { token: t.token })).status, 403);

    // last use shows in the list, never the secret
    await waitFor(async () => {
      const l = await s.api('GET', `/api/v1/service-users/${u.id}/tokens`);
      return l.json.items.find((i) => i.id === t.id)?.lastUsedAt !== null;
    }, 3000);
    const l = await s.api('GET', `/api/v1/service-users/${u.id}/tokens`);
    assert.equal(l.json.items.length, 2);
    assert.ok(!l.text.includes(t.token));

    const rv = await s.api('POST', `/api/v1/tokens/${t.id}/revoke`);
    assert.equal(rv.status, 200);
    assert.equal(rv.json.status, 'revoked');
    assert.equal((await s.api('POST', `/api/v1/tokens/${t.id}/revoke`)).json.status, 'revoked'); // idempotent
    const after = await check(t.token);
    assert.equal(after.status, 401);
    assert.equal(after.headers.get('x-keyward-code'), 'REVOKED');
    assert.equal((await check(narrow.json.token)).status, 204); // the other token lives on
    assert.equal((await s.api('POST', `/api/v1/tokens/tok_0000000000000000/revoke`)).status, 404);
  });

  test('API-key endpoints never see tokens; token endpoints never see keys', async () => {
    const u = (await mkSu({ name: 'Branch', sourceSystem: 'branch_scan' })).json;
    const t = (await mint(u.id)).json;
    const keys = await s.api('GET', `/api/v1/services/${svc.id}/keys`);
    assert.ok(!keys.json.items.some((i) => i.id === t.id));
    // a token id is not a key id: the key routes do not even match it
    assert.equal((await s.api('GET', `/api/v1/keys/${t.id}`)).status, 404);
    const k = await createKey(s, svc.id);
    assert.equal((await s.api('POST', `/api/v1/tokens/${k.id}/revoke`)).status, 404);
    const usage = await s.api('GET', `/api/v1/services/${svc.id}/usage`);
    assert.equal(usage.status, 200);
    assert.ok(!usage.text.includes(t.id));
  });

  test('disable stops every token at once, enable restores them; delete removes them', async () => {
    const u = (await mkSu({ name: 'Cascade', sourceSystem: 'cascade', permissions: ['documents:write'] })).json;
    const t1 = (await mint(u.id, { label: 'one' })).json;
    const t2 = (await mint(u.id, { label: 'two' })).json;
    assert.equal((await check(t1.token)).status, 204);

    const d = await s.api('PATCH', `/api/v1/service-users/${u.id}`, { enabled: false });
    assert.equal(d.status, 200);
    assert.equal(d.json.enabled, false);
    for (const t of [t1, t2]) {
      const c = await check(t.token);
      assert.equal(c.status, 401);
      assert.equal(c.headers.get('x-keyward-code'), 'DISABLED');
    }
    const l = await s.api('GET', `/api/v1/service-users/${u.id}/tokens`);
    assert.deepEqual(l.json.items.map((i) => i.status), ['disabled', 'disabled']);
    const refused = await mint(u.id);
    assert.equal(refused.status, 409);
    assert.equal(refused.json.code, 'SERVICE_USER_DISABLED');

    assert.equal((await s.api('PATCH', `/api/v1/service-users/${u.id}`, { enabled: true })).status, 200);
    assert.equal((await check(t1.token)).status, 204);

    // narrowing the user's permissions narrows its tokens
    const n = await s.api('PATCH', `/api/v1/service-users/${u.id}`, { permissions: [], name: 'Cascade 2' });
    assert.equal(n.status, 200);
    assert.equal(n.json.name, 'Cascade 2');
    assert.equal((await check(t1.token, '?permission=documents:write')).status, 403);

    assert.equal((await s.api('DELETE', `/api/v1/service-users/${u.id}`)).status, 204);
    const gone = await check(t2.token);
    assert.equal(gone.status, 401);
    assert.equal(gone.headers.get('x-keyward-code'), 'NOT_FOUND');
    assert.equal((await s.api('GET', `/api/v1/service-users/${u.id}`)).status, 404);
    assert.equal((await s.api('GET', `/api/v1/service-users/${u.id}/tokens`)).status, 404);
    assert.equal((await s.api('DELETE', `/api/v1/service-users/${u.id}`)).status, 404);
  });

  test('client secret reset: a new one once, the old one gone', async () => {
    const u = (await mkSu({ name: 'OAuth', sourceSystem: 'oauth_client' })).json;
    const r = await s.api('POST', `/api/v1/service-users/${u.id}/client-secret`);
    assert.equal(r.status, 200);
    assert.equal(r.json.clientId, u.id);
    assert.match(r.json.clientSecret, SECRET_RE);
    assert.notEqual(r.json.clientSecret, u.clientSecret);
    const got = await s.api('GET', `/api/v1/service-users/${u.id}`);
    assert.ok(!got.text.includes(r.json.clientSecret));
    assert.ok(got.json.clientSecretSetAt >= u.clientSecretSetAt);
  });

  test('only a System Administrator creates, mints or disables; members read', async () => {
    const u = (await mkSu({ name: 'Perms', sourceSystem: 'perms' })).json;
    const t = (await mint(u.id)).json;
    const anon = await api(s.url, 'POST', `/api/v1/services/${svc.id}/service-users`, { name: 'x', sourceSystem: 'xyz' });
    assert.equal(anon.status, 401);
    const k = await createKey(s, svc.id, { scope: 'metadata', permissions: ['keys:verify'] });
    for (const [m, p, b] of [['POST', `/api/v1/services/${svc.id}/service-users`, { name: 'x', sourceSystem: 'xyz' }],
      ['POST', `/api/v1/service-users/${u.id}/tokens`, { label: 'x' }], ['PATCH', `/api/v1/service-users/${u.id}`, { enabled: false }],
      ['POST', `/api/v1/tokens/${t.id}/revoke`, {}], ['GET', `/api/v1/service-users/${u.id}`, undefined]]) {
      const r = await api(s.url, m, p, b, { token: k.key });
      assert.equal(r.status, 403, `${m} ${p} with an API key`);
      const r2 = await api(s.url, m, p, b, { token: t.token });
      assert.equal(r2.status, 403, `${m} ${p} with a token`);
    }
    assert.equal((await s.api('GET', '/api/v1/service-users/su_bad')).status, 404);
  });

  test('access keys: id and secret once, at most two active, disable/enable, delete; never a bearer credential', async () => {
    const u = (await mkSu({ name: 'Passportal', sourceSystem: 'passportal', permissions: ['documents:read'] })).json;
    const mk = () => s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: u.id });
    const r = await mk();
    assert.equal(r.status, 201, r.text);
    const a = r.json;
    assert.match(a.accessKeyId, /^KWAK[A-Z2-7]{16}$/);
    assert.match(a.secretAccessKey, /^[0-9A-Za-z]{40}$/);
    assert.equal(a.serviceUserId, u.id);
    assert.equal(a.serviceId, svc.id);
    assert.equal(a.status, 'active');
    assert.equal(a.enabled, true);
    assert.equal(a.lastUsedAt, null);
    const b = (await mk()).json;
    const third = await mk();
    assert.equal(third.status, 409);
    assert.equal(third.json.code, 'ACCESS_KEY_LIMIT');

    const list = await s.api('GET', `/api/v1/services/${svc.id}/access-keys`);
    assert.equal(list.status, 200);
    const ids = list.json.items.map((i) => i.accessKeyId);
    assert.ok(ids.includes(a.accessKeyId) && ids.includes(b.accessKeyId));
    assert.ok(!list.text.includes(a.secretAccessKey));
    assert.ok(!('secretAccessKey' in list.json.items[0]));
    // neither the id nor the secret is a bearer credential, and the key endpoints do not see it
    assert.equal((await check(a.accessKeyId)).status, 401);
    assert.equal((await check(a.secretAccessKey)).status, 401);
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}/keys`)).text.includes(a.accessKeyId), false);

    const d = await s.api('PATCH', `/api/v1/access-keys/${a.accessKeyId}`, { enabled: false });
    assert.equal(d.status, 200);
    assert.equal(d.json.status, 'disabled');
    const c = (await mk()).json; // a disabled key does not count
    assert.match(c.accessKeyId, /^KWAK/);
    const back = await s.api('PATCH', `/api/v1/access-keys/${a.accessKeyId}`, { enabled: true });
    assert.equal(back.status, 409);
    assert.equal(back.json.code, 'ACCESS_KEY_LIMIT');
    for (const bad of [{}, { enabled: 'no' }, { enabled: true, extra: 1 }]) {
      assert.equal((await s.api('PATCH', `/api/v1/access-keys/${a.accessKeyId}`, bad)).status, 400);
    }
    assert.equal((await s.api('DELETE', `/api/v1/access-keys/${c.accessKeyId}`)).status, 204);
    assert.equal((await s.api('DELETE', `/api/v1/access-keys/${c.accessKeyId}`)).status, 404);
    assert.equal((await s.api('PATCH', `/api/v1/access-keys/${a.accessKeyId}`, { enabled: true })).status, 200);
    assert.equal((await s.api('PATCH', '/api/v1/access-keys/KWAKAAAAAAAAAAAAAAAA', { enabled: true })).status, 404);
    assert.equal((await s.api('PATCH', '/api/v1/access-keys/kwak_lower', { enabled: true })).status, 404);
    // bad input and wrong owner
    assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, {})).status, 400);
    assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: 'x' })).status, 400);
    const stranger = (await mkSu({ name: 'elsewhere', sourceSystem: 'passportal' }, other.id)).json;
    assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: stranger.id })).status, 404);
    // a disabled owner: its keys show disabled, none can be made
    await s.api('PATCH', `/api/v1/service-users/${u.id}`, { enabled: false });
    const l2 = await s.api('GET', `/api/v1/services/${svc.id}/access-keys`);
    assert.ok(l2.json.items.filter((i) => i.serviceUserId === u.id).every((i) => i.status === 'disabled'));
    assert.equal((await mk()).json.code, 'SERVICE_USER_DISABLED');
  });
});

const pgBase = process.env.KEYWARD_TEST_STORE || '';
const onPg = /^postgres(ql)?:\/\//.test(pgBase);

describe('two nodes on one PostgreSQL', { skip: onPg ? false : 'runs on PostgreSQL only' }, () => {
  let A, B;
  before(async () => {
    const db = `kw_su_nodes_${process.pid}`;
    psql(pgBase, `CREATE DATABASE ${db}`);
    const u = new URL(pgBase);
    u.pathname = `/${db}`;
    const rootToken = 'r'.repeat(48);
    delete process.env.KEYWARD_TEST_STORE; // the nodes name their store themselves
    try {
      A = await startServer({ rootToken, args: ['--store', u.toString()] });
      B = await startServer({ rootToken, args: ['--store', u.toString()] });
    } finally {
      process.env.KEYWARD_TEST_STORE = pgBase;
    }
  });
  after(async () => {
    await A?.cleanup();
    await B?.cleanup();
  });

  test('a service user disabled on node A: its token is refused on node B', async () => {
    const svc = await createService(A, { name: 'nodes' });
    const u = (await A.api('POST', `/api/v1/services/${svc.id}/service-users`, { name: 'n', sourceSystem: 'vkyc' })).json;
    const t = (await A.api('POST', `/api/v1/service-users/${u.id}/tokens`, { label: 'n' })).json;
    const onB = () => api(B.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `Bearer ${t.token}` } });
    await waitFor(async () => (await onB()).status === 204, 5000);
    assert.equal((await A.api('PATCH', `/api/v1/service-users/${u.id}`, { enabled: false })).status, 200);
    await waitFor(async () => (await onB()).headers.get('x-keyward-code') === 'DISABLED', 5000);
    assert.equal((await A.api('PATCH', `/api/v1/service-users/${u.id}`, { enabled: true })).status, 200);
    await waitFor(async () => (await onB()).status === 204, 5000);
  });
});
