// One door for every credential: GET /api/v1/auth/check and POST /api/v1/keys/verify take API keys, a
// service user's kwt_ tokens, JWT access tokens (OAuth client credentials) and RFC 9421 signed requests
// (auth/check), each valid and each refusal with its stable code; a keys:verify holder sees only its own
// service's credentials whatever their kind; a service user's credentials never reach admin or person
// routes; a revoked JWT is refused at once on its node and, on PostgreSQL, by a second node within 1 s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { httpbis } from 'http-message-signatures';
import { api, createKey, createService, sleep, startServer } from './lib/server.mjs';
import { startCluster, startPostgres } from './lib/cluster.mjs';

const onPg = /^postgres(ql)?:\/\//.test(process.env.KEYWARD_TEST_STORE || '');
const basicOf = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function form(base, path, body, headers = {}) {
  const r = await fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null, text };
}

// A JWT access token for the service user by client credentials (client_secret_basic).
async function jwtFor(base, su, scope) {
  const r = await form(base, '/oauth/token', `grant_type=client_credentials${scope ? `&scope=${encodeURIComponent(scope)}` : ''}`,
    { Authorization: basicOf(su.clientId, su.clientSecret) });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());

function digest(body) {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

// The headers of a request signed with the access key by http-message-signatures.
async function signHeaders(ak, method, url, body, paramValues = {}) {
  const headers = body !== undefined ? { 'content-type': 'application/json', 'content-digest': digest(body) } : {};
  const signed = await httpbis.signMessage({
    key: { id: ak.accessKeyId, alg: 'hmac-sha256',
      sign: async (data) => createHmac('sha256', Buffer.from(ak.secretAccessKey, 'utf8')).update(data).digest() },
    fields: body !== undefined ? ['@method', '@authority', '@path', 'content-type', 'content-digest'] : ['@method', '@authority', '@path'],
    params: ['keyid', 'alg', 'created', 'nonce'],
    paramValues: { nonce: randomBytes(12).toString('base64url'), ...paramValues },
  }, { method, url, headers });
  return signed.headers;
}

describe('one door: every kind through auth/check and keys/verify', () => {
  let s, svc, other, key, su, tok, narrowTok, ak, otherKey, otherSu;
  const check = (headers, q = '') => api(s.url, 'GET', `/api/v1/auth/check${q}`, undefined, { headers });
  const bearer = (t) => ({ Authorization: `Bearer ${t}` });
  const signedCheck = async (a = ak, q = '', paramValues) =>
    check(await signHeaders(a, 'GET', `${s.url}/api/v1/auth/check${q}`, undefined, paramValues), q);
  const verifyAs = (caller, k) => api(s.url, 'POST', '/api/v1/keys/verify', { key: k }, { token: caller });

  function refused(r, code, label) {
    assert.equal(r.status, 401, `${label}: ${r.text}`);
    assert.equal(r.headers.get('x-keyward-code'), code, label);
    assert.equal(r.json.code, 'UNAUTHENTICATED', label);
    assert.match(r.headers.get('www-authenticate') || '', /^Bearer\b/, label);
    assert.equal(r.headers.get('x-keyward-credential-id'), null, `${label}: no facts on a refusal`);
  }

  before(async () => {
    s = await startServer();
    svc = await createService(s, { name: 'Door' });
    other = await createService(s, { name: 'Elsewhere' });
    key = await createKey(s, svc.id, { scope: 'attributes', permissions: ['keys:verify'] });
    otherKey = await createKey(s, other.id, { scope: 'metadata', permissions: ['keys:verify'] });
    const u = await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
      { name: 'VKYC', sourceSystem: 'vkyc', permissions: ['keys:verify', 'documents:write'] });
    assert.equal(u.status, 201, u.text);
    su = u.json;
    const ou = await s.api('POST', `/api/v1/services/${other.id}/service-users`,
      { name: 'Docs', sourceSystem: 'doc_service', permissions: ['keys:verify'] });
    assert.equal(ou.status, 201, ou.text);
    otherSu = ou.json;
    const t = await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'door' });
    assert.equal(t.status, 201, t.text);
    tok = t.json;
    narrowTok = (await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'narrow', permissions: ['keys:verify'] })).json;
    const k = await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: su.id });
    assert.equal(k.status, 201, k.text);
    ak = k.json;
  });
  after(() => s.cleanup());

  test('auth/check: an API key, a token, a JWT and a signed request each pass, naming kind, service, user, credential', async () => {
    const k = await check(bearer(key.key));
    assert.equal(k.status, 204, k.text);
    assert.equal(k.headers.get('x-keyward-kind'), 'api_key');
    assert.equal(k.headers.get('x-keyward-key-id'), key.id);
    assert.equal(k.headers.get('x-keyward-credential-id'), key.id);
    assert.equal(k.headers.get('x-keyward-service-id'), svc.id);
    assert.equal(k.headers.get('x-keyward-scope'), 'attributes');
    assert.equal(k.headers.get('x-keyward-permissions'), 'candidates:read,keys:verify');
    assert.equal(k.headers.get('x-keyward-service-user-id'), null);

    for (const headers of [bearer(tok.token), { 'X-API-Key': tok.token }]) {
      const r = await check(headers, '?permission=documents:write');
      assert.equal(r.status, 204, r.text);
      assert.equal(r.headers.get('x-keyward-kind'), 'token');
      assert.equal(r.headers.get('x-keyward-key-id'), tok.id);
      assert.equal(r.headers.get('x-keyward-credential-id'), tok.id);
      assert.equal(r.headers.get('x-keyward-service-user-id'), su.id);
      assert.equal(r.headers.get('x-keyward-service-id'), svc.id);
      assert.equal(r.headers.get('x-keyward-permissions'), 'candidates:read,documents:write,keys:verify');
    }

    const jwt = await jwtFor(s.url, su);
    for (let i = 0; i < 2; i++) { // the second answer comes from the verified-token cache
      const j = await check(bearer(jwt), '?permission=documents:write');
      assert.equal(j.status, 204, j.text);
      assert.equal(j.headers.get('x-keyward-kind'), 'jwt');
      assert.equal(j.headers.get('x-keyward-credential-id'), claims(jwt).jti);
      assert.equal(j.headers.get('x-keyward-key-id'), null, 'a JWT is not a key');
      assert.equal(j.headers.get('x-keyward-service-user-id'), su.id);
      assert.equal(j.headers.get('x-keyward-service-id'), svc.id);
      assert.equal(j.headers.get('x-keyward-scope'), 'metadata');
      assert.equal(j.headers.get('x-keyward-permissions'), 'candidates:read,documents:write,keys:verify');
    }

    const g = await signedCheck(ak, '?permission=keys:verify');
    assert.equal(g.status, 204, g.text);
    assert.equal(g.headers.get('x-keyward-kind'), 'signature');
    assert.equal(g.headers.get('x-keyward-key-id'), ak.accessKeyId);
    assert.equal(g.headers.get('x-keyward-credential-id'), ak.accessKeyId);
    assert.equal(g.headers.get('x-keyward-service-user-id'), su.id);
    assert.equal(g.headers.get('x-keyward-service-id'), svc.id);
  });

  test('auth/check: a permission the credential lacks is 403 for every kind', async () => {
    const narrowJwt = await jwtFor(s.url, su, 'keys:verify');
    for (const [label, r] of [
      ['api key', await check(bearer(key.key), '?permission=documents:write')],
      ['token', await check(bearer(narrowTok.token), '?permission=documents:write')],
      ['jwt', await check(bearer(narrowJwt), '?permission=documents:write')],
      ['signature', await signedCheck(ak, '?permission=documents:read')],
    ]) {
      assert.equal(r.status, 403, `${label}: ${r.text}`);
      assert.equal(r.headers.get('x-keyward-code'), 'FORBIDDEN', label);
    }
  });

  test('auth/check: each JWT refusal has its stable code', async () => {
    const jwt = await jwtFor(s.url, su);
    const [h, p, sig] = jwt.split('.');
    const flip = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    refused(await check(bearer(`${h}.${p}.${flip}`)), 'TOKEN_SIGNATURE_INVALID', 'tampered signature');
    const forged = b64url({ ...claims(jwt), scope: 'candidates:read documents:read documents:write keys:verify' });
    refused(await check(bearer(`${h}.${forged}.${sig}`)), 'TOKEN_SIGNATURE_INVALID', 'widened scope');
    refused(await check(bearer(`${b64url({ ...header(jwt), typ: 'JWT' })}.${p}.${sig}`)), 'TOKEN_TYPE_INVALID', 'typ JWT');
    refused(await check(bearer(`${b64url({ ...header(jwt), alg: 'HS256' })}.${p}.${sig}`)), 'TOKEN_TYPE_INVALID', 'alg HS256');
    refused(await check(bearer(`${b64url({ ...header(jwt), kid: 'nope' })}.${p}.${sig}`)), 'SIGNING_KEY_UNKNOWN', 'unknown kid');
    refused(await check(bearer(`eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.${sig}`)), 'MALFORMED', 'payload not JSON');
    refused(await check(bearer('eyJ!!!.x.y')), 'MALFORMED', 'not base64url');

    // revoked (RFC 7009): refused on this node at once, with the cached verification evicted by the ban
    assert.equal((await check(bearer(jwt))).status, 204);
    const rv = await form(s.url, '/oauth/revoke', `token=${jwt}`, { Authorization: basicOf(su.clientId, su.clientSecret) });
    assert.equal(rv.status, 200, rv.text);
    refused(await check(bearer(jwt)), 'REVOKED', 'revoked jti');
    // the router answers the same credential 401 too
    assert.equal((await verifyAs(jwt, key.key)).status, 401);
  });

  test('auth/check: tokens and signed requests refused with their codes; a disabled user stops every kind', async () => {
    refused(await check(bearer('kwt_nope')), 'MALFORMED', 'malformed token');
    refused(await check(bearer(s.rootToken)), 'MALFORMED', 'the root token is not a service credential');
    refused(await check({}), 'MISSING', 'nothing');
    const t = (await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'to revoke' })).json;
    assert.equal((await check(bearer(t.token))).status, 204);
    assert.equal((await s.api('POST', `/api/v1/tokens/${t.id}/revoke`)).status, 200);
    refused(await check(bearer(t.token)), 'REVOKED', 'revoked token');

    // signed requests: stale, replayed, wrong secret, unknown key
    refused(await signedCheck(ak, '', { created: new Date(Date.now() - 3600e3) }), 'SIGNATURE_STALE', 'stale created');
    const h = await signHeaders(ak, 'GET', `${s.url}/api/v1/auth/check`);
    assert.equal((await check(h)).status, 204);
    refused(await check(h), 'SIGNATURE_REPLAYED', 'replay');
    refused(await signedCheck({ ...ak, secretAccessKey: 'x'.repeat(40) }), 'SIGNATURE_MISMATCH', 'wrong secret');
    refused(await signedCheck({ ...ak, accessKeyId: 'KWAKAAAAAAAAAAAAAAAA' }), 'ACCESS_KEY_NOT_FOUND', 'unknown key');
    const sig = await signHeaders(ak, 'GET', `${s.url}/api/v1/auth/check`);
    const amb = await check({ ...sig, Authorization: `Bearer ${tok.token}` });
    assert.equal(amb.status, 400);
    assert.equal(amb.headers.get('x-keyward-code'), 'AMBIGUOUS_CREDENTIALS');

    // a disabled service user: its token, JWT and access key all stop on the next request
    const u = (await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
      { name: 'Scan', sourceSystem: 'branch_scan', permissions: ['keys:verify'] })).json;
    const ut = (await s.api('POST', `/api/v1/service-users/${u.id}/tokens`, { label: 'x' })).json;
    const uk = (await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: u.id })).json;
    const uj = await jwtFor(s.url, u);
    assert.equal((await check(bearer(ut.token))).status, 204);
    assert.equal((await check(bearer(uj))).status, 204);
    assert.equal((await signedCheck(uk)).status, 204);
    assert.equal((await s.api('PATCH', `/api/v1/service-users/${u.id}`, { enabled: false })).status, 200);
    refused(await check(bearer(ut.token)), 'DISABLED', 'token of a disabled user');
    refused(await check(bearer(uj)), 'DISABLED', 'JWT of a disabled user');
    refused(await signedCheck(uk), 'ACCESS_KEY_DISABLED', 'access key of a disabled user');
    const v = await verifyAs(s.rootToken, uj);
    assert.equal(v.json.code, 'DISABLED');
    assert.equal(v.json.serviceUserId, u.id);
  });

  test('keys/verify: an API key as before, a token and a JWT with kind, owner and credential id', async () => {
    const k = await verifyAs(s.rootToken, key.key);
    assert.equal(k.status, 200, k.text);
    assert.deepEqual(k.json, { valid: true, code: 'VALID', keyId: key.id, serviceId: svc.id, scope: 'attributes',
      permissions: ['candidates:read', 'keys:verify'], expiresAt: null, kind: 'api_key' });
    const t = await verifyAs(s.rootToken, tok.token);
    assert.equal(t.json.valid, true);
    assert.equal(t.json.kind, 'token');
    assert.equal(t.json.keyId, tok.id);
    assert.equal(t.json.serviceUserId, su.id);

    const jwt = await jwtFor(s.url, su, 'keys:verify');
    const c = claims(jwt);
    const j = await verifyAs(s.rootToken, jwt);
    assert.equal(j.status, 200, j.text);
    assert.deepEqual(j.json, { valid: true, code: 'VALID', kind: 'jwt', jti: c.jti, serviceId: svc.id, serviceUserId: su.id,
      scope: 'metadata', permissions: ['candidates:read', 'keys:verify'], expiresAt: new Date(c.exp * 1000).toISOString() });
    // a JWT holding keys:verify verifies itself, a key and a token of its own service
    assert.equal((await verifyAs(jwt, jwt)).json.valid, true);
    assert.equal((await verifyAs(jwt, key.key)).json.valid, true);
    assert.equal((await verifyAs(jwt, tok.token)).json.valid, true);
    // refusals: no facts unless the signature held
    const [h, p, sig] = jwt.split('.');
    assert.deepEqual((await verifyAs(s.rootToken, `${h}.${p}.${sig.slice(0, -4)}AAAA`)).json,
      { valid: false, code: 'TOKEN_SIGNATURE_INVALID', kind: 'jwt' });
    assert.deepEqual((await verifyAs(s.rootToken, `${b64url({ ...header(jwt), kid: 'nope' })}.${p}.${sig}`)).json,
      { valid: false, code: 'SIGNING_KEY_UNKNOWN', kind: 'jwt' });
    const rv = await form(s.url, '/oauth/revoke', `token=${jwt}`, { Authorization: basicOf(su.clientId, su.clientSecret) });
    assert.equal(rv.status, 200);
    const gone = await verifyAs(s.rootToken, jwt);
    assert.equal(gone.json.valid, false);
    assert.equal(gone.json.code, 'REVOKED');
    assert.equal(gone.json.jti, c.jti);
    // a JWT longer than an API key may be is still a JWT; anything else that long is refused
    const long = `${h}.${b64url({ pad: 'x'.repeat(900) })}.${sig}`;
    assert.equal((await verifyAs(s.rootToken, long)).json.kind, 'jwt');
    assert.equal((await verifyAs(s.rootToken, 'k'.repeat(900))).status, 400);
  });

  test('keys/verify: a keys:verify holder of another service sees NOT_FOUND for every kind', async () => {
    const jwt = await jwtFor(s.url, su);
    const otherJwt = await jwtFor(s.url, otherSu);
    const otherTok = (await s.api('POST', `/api/v1/service-users/${otherSu.id}/tokens`, { label: 'o' })).json;
    for (const caller of [otherKey.key, otherJwt, otherTok.token]) {
      for (const cred of [key.key, tok.token, jwt]) {
        const r = await verifyAs(caller, cred);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.valid, false);
        assert.equal(r.json.code, 'NOT_FOUND');
        assert.equal(r.json.keyId, undefined);
        assert.equal(r.json.jti, undefined);
        assert.equal(r.json.serviceUserId, undefined);
      }
    }
    // and its own service's JWT is found
    assert.equal((await verifyAs(otherKey.key, otherJwt)).json.valid, true);
  });

  test('a service user\'s credentials reach no admin or person route (403), whatever their kind', async () => {
    const jwt = await jwtFor(s.url, su);
    const routes = [
      ['GET', '/api/v1/services'],
      ['POST', '/api/v1/services', { name: 'mine' }],
      ['GET', `/api/v1/services/${svc.id}`],
      ['PATCH', `/api/v1/services/${svc.id}`, { name: 'renamed' }],
      ['DELETE', `/api/v1/services/${svc.id}`],
      ['GET', `/api/v1/services/${svc.id}/keys`],
      ['POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' }],
      ['GET', `/api/v1/services/${svc.id}/usage`],
      ['GET', `/api/v1/services/${svc.id}/members`],
      ['POST', `/api/v1/services/${svc.id}/members`, { username: 'x', role: 'admin' }],
      ['GET', `/api/v1/keys/${key.id}`],
      ['POST', `/api/v1/keys/${key.id}/revoke`],
      ['GET', '/api/v1/audit'],
      ['GET', '/api/v1/session'],
      ['DELETE', '/api/v1/session'],
      ['GET', '/api/v1/users'],
      ['POST', '/api/v1/users', { username: 'mallory', password: 'correct horse battery', role: 'sysadmin' }],
      ['PATCH', '/api/v1/users/admin', { role: 'sysadmin' }],
      ['GET', `/api/v1/services/${svc.id}/service-users`],
      ['GET', `/api/v1/service-users/${su.id}`],
      ['PATCH', `/api/v1/service-users/${su.id}`, { permissions: ['documents:read'] }],
      ['POST', `/api/v1/service-users/${su.id}/client-secret`],
      ['POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'self-minted' }],
      ['GET', `/api/v1/service-users/${su.id}/tokens`],
      ['POST', `/api/v1/tokens/${tok.id}/revoke`],
      ['POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: su.id }],
      ['GET', `/api/v1/services/${svc.id}/access-keys`],
      ['PATCH', `/api/v1/access-keys/${ak.accessKeyId}`, { enabled: false }],
      ['DELETE', `/api/v1/access-keys/${ak.accessKeyId}`],
    ];
    for (const [method, path, body] of routes) {
      const payload = body !== undefined ? JSON.stringify(body) : undefined;
      for (const [kind, headers] of [
        ['token', bearer(tok.token)],
        ['jwt', bearer(jwt)],
        ['signature', await signHeaders(ak, method, s.url + path, payload)],
      ]) {
        const r = await api(s.url, method, path, payload, { headers });
        assert.equal(r.status, 403, `${kind} ${method} ${path}: ${r.status} ${r.text}`);
        assert.equal(r.json.code, 'FORBIDDEN', `${kind} ${method} ${path}`);
      }
    }
    // nothing changed meanwhile
    assert.equal((await s.api('GET', `/api/v1/service-users/${su.id}`)).json.permissions.includes('documents:read'), false);
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}`)).json.name, 'Door');
    assert.equal((await check(bearer(tok.token))).status, 204, 'the token was not revoked by itself');
    assert.equal((await signedCheck(ak)).status, 204, 'the access key was not disabled by itself');
  });
});

describe('a JWT from another issuer', () => {
  test('is ISSUER_MISMATCH after the issuer changes (same signing keys)', async () => {
    let s = await startServer({ args: ['--issuer', 'https://one.keyward.test'] });
    const dataDir = s.dataDir;
    try {
      const svc = await createService(s);
      const su = (await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
        { name: 'V', sourceSystem: 'vkyc', permissions: ['keys:verify'] })).json;
      const jwt = await jwtFor(s.url, su);
      assert.equal((await api(s.url, 'GET', '/api/v1/auth/check', undefined, { token: jwt })).status, 204);
      const rootToken = s.rootToken;
      await s.stop();
      s = await startServer({ dataDir, rootToken, args: ['--issuer', 'https://two.keyward.test'] });
      const r = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { token: jwt });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.headers.get('x-keyward-code'), 'ISSUER_MISMATCH');
      const v = await api(s.url, 'POST', '/api/v1/keys/verify', { key: jwt }, { token: s.rootToken });
      assert.deepEqual(v.json, { valid: false, code: 'ISSUER_MISMATCH', kind: 'jwt' });
      const a = await api(s.url, 'GET', '/api/v1/services', undefined, { token: jwt });
      assert.equal(a.status, 401);
      assert.equal(a.json.code, 'ISSUER_MISMATCH');
    } finally {
      await s.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a revoked JWT on a second node', { skip: onPg ? false : 'runs on PostgreSQL only (scripts/test sets KEYWARD_TEST_STORE)' }, () => {
  let pg, cl;
  before(async () => {
    delete process.env.KEYWARD_TEST_STORE; // the cluster passes its own --store
    pg = startPostgres();
    cl = await startCluster(pg, { n: 2, db: 'kw_door', args: ['--issuer', 'https://keyward.test'],
      env: { KEYWARD_MASTER_KEY: randomBytes(32).toString('base64') } });
  });
  after(async () => {
    await cl?.stop();
    pg?.remove();
  });

  test('auth/check on both nodes refuses it (A at once, B by polling)', async () => {
    const [A, B] = cl.nodes;
    const root = (n, m, p, b) => api(n.url, m, p, b, { token: cl.rootToken });
    const svc = (await root(A, 'POST', '/api/v1/services', { name: 'S' })).json;
    const su = (await root(A, 'POST', `/api/v1/services/${svc.id}/service-users`,
      { name: 'V', sourceSystem: 'vkyc', permissions: ['keys:verify'] })).json;
    const jwt = await jwtFor(A.url, su);
    const on = (n) => api(n.url, 'GET', '/api/v1/auth/check', undefined, { token: jwt });
    const until = async (fn, ok, what) => {
      for (let i = 0; i < 500; i++) { // a generous deadline (10 s); speed is the bench's business
        const r = await fn();
        if (ok(r)) return r;
        await sleep(20);
      }
      assert.fail(what);
    };
    await until(() => on(B), (r) => r.status === 204, 'B never accepted the JWT (signing key not propagated)');
    assert.equal((await on(A)).status, 204);
    const rv = await form(A.url, '/oauth/revoke', `token=${jwt}`, { Authorization: basicOf(su.clientId, su.clientSecret) });
    assert.equal(rv.status, 200, rv.text);
    const a = await on(A);
    assert.equal(a.status, 401, 'A refuses it at once');
    assert.equal(a.headers.get('x-keyward-code'), 'REVOKED');
    const b = await until(() => on(B), (r) => r.status === 401, 'B still accepts the revoked JWT');
    assert.equal(b.headers.get('x-keyward-code'), 'REVOKED');
  });
});
