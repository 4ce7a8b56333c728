// OAuth 2.0 with clients no one here wrote: oauth4webapi discovers keyward (RFC 8414), gets tokens by
// client credentials (client_secret_basic and client_secret_post), introspects (RFC 7662) and revokes
// (RFC 7009); jose verifies the JWTs against the JWKS with issuer, audience and typ at+jwt; keyward's
// own endpoints take the JWT as the service user. Seed 004's exchange with HMACs computed by openssl.
// Bad input everywhere: each a clear RFC 6749 (or problem+json) error, never a 5xx. A revoked jti is
// refused by a second node within 1 s (PostgreSQL only).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { api, createKey, createService, sleep, startServer } from './lib/server.mjs';
import { startCluster, startPostgres } from './lib/cluster.mjs';

const onPg = /^postgres(ql)?:\/\//.test(process.env.KEYWARD_TEST_STORE || '');
const insecure = { [oauth.allowInsecureRequests]: true };

async function discover(s) {
  const issuer = new URL(s.url);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
}

async function grant(as, su, auth = 'basic', parameters = {}) {
  const client = { client_id: su.clientId };
  const ca = auth === 'basic' ? oauth.ClientSecretBasic(su.clientSecret) : oauth.ClientSecretPost(su.clientSecret);
  const r = await oauth.clientCredentialsGrantRequest(as, client, ca, parameters, insecure);
  return oauth.processClientCredentialsResponse(as, client, r);
}

async function createSu(s, svc, body) {
  const r = await s.api('POST', `/api/v1/services/${svc.id}/service-users`, body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// A raw form POST (no client library), for the bad-input cases.
async function form(s, path, body, headers = {}) {
  const r = await fetch(s.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, text };
}

const basicOf = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('OAuth 2.0 client credentials', () => {
  let s, svc, su, as, other;
  before(async () => {
    s = await startServer();
    svc = await createService(s);
    su = await createSu(s, svc, { name: 'VKYC', sourceSystem: 'vkyc', permissions: ['keys:verify', 'documents:write'] });
    const svc2 = await createService(s, { name: 'Other' });
    other = await createSu(s, svc2, { name: 'Docs', sourceSystem: 'doc_service', permissions: ['documents:read'] });
    as = await discover(s);
  });
  after(() => s.cleanup());

  test('discovery, a token by client_secret_basic, verified by jose against the JWKS', async () => {
    assert.equal(as.issuer, s.url);
    const t = await grant(as, su, 'basic');
    assert.equal(t.token_type.toLowerCase(), 'bearer');
    assert.ok(t.expires_in > 0 && t.expires_in <= 3600);
    assert.deepEqual(t.scope.split(' ').sort(), ['candidates:read', 'documents:write', 'keys:verify']);
    const jwks = createRemoteJWKSet(new URL(`${s.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(t.access_token, jwks, { issuer: s.url, audience: s.url, typ: 'at+jwt' });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(payload.sub, su.id);
    assert.equal(payload.client_id, su.clientId);
    assert.ok(payload.jti && payload.iat && payload.exp > payload.iat);
    // a token is not accepted with another audience or issuer
    await assert.rejects(jwtVerify(t.access_token, jwks, { issuer: s.url, audience: 'https://elsewhere.example' }));
    await assert.rejects(jwtVerify(t.access_token, jwks, { issuer: 'https://elsewhere.example', audience: s.url }));
  });

  test('client_secret_post and scope narrowing; a wider scope is invalid_scope', async () => {
    const t = await grant(as, su, 'post', { scope: 'keys:verify' });
    assert.deepEqual(t.scope.split(' ').sort(), ['candidates:read', 'keys:verify']);
    assert.deepEqual(decodeJwt(t.access_token).scope.split(' ').sort(), ['candidates:read', 'keys:verify']);
    await assert.rejects(grant(as, su, 'basic', { scope: 'documents:read' }), (e) => e.error === 'invalid_scope');
    await assert.rejects(grant(as, su, 'basic', { scope: 'no:such' }), (e) => e.error === 'invalid_scope');
  });

  test('keyward takes the JWT as the service user: keys/verify, and verify reports it', async () => {
    const t = await grant(as, su);
    const key = await createKey(s, svc.id);
    const r = await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: t.access_token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.valid, true);
    // narrowed without keys:verify: refused
    const narrow = await grant(as, su, 'basic', { scope: 'documents:write' });
    const f = await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: narrow.access_token });
    assert.equal(f.status, 403, f.text);
  });

  test('introspection (RFC 7662) with oauth4webapi', async () => {
    const t = await grant(as, su);
    const client = { client_id: su.clientId };
    const intro = async (who, tok) => oauth.processIntrospectionResponse(as, { client_id: who.clientId },
      await oauth.introspectionRequest(as, { client_id: who.clientId }, oauth.ClientSecretBasic(who.clientSecret), tok, insecure));
    const on = await intro(su, t.access_token);
    assert.equal(on.active, true);
    assert.equal(on.sub, su.id);
    assert.equal(on.client_id, su.clientId);
    assert.equal(on.iss, s.url);
    assert.equal(on.token_type, 'Bearer');
    assert.ok(on.exp > on.iat && on.jti);
    assert.match(on.scope, /keys:verify/);
    assert.equal((await intro(su, 'not-a-token')).active, false);
    // one signature character well inside the last segment changed to another (the last ones carry
    // padding bits a decoder may ignore, and an 'xx' ending would have stayed the same)
    const at = t.access_token, i = at.length - 10;
    assert.equal((await intro(su, at.slice(0, i) + (at[i] === 'A' ? 'B' : 'A') + at.slice(i + 1))).active, false);
    // another service's client does not learn about this token
    assert.equal((await intro(other, t.access_token)).active, false);
    // a minted kwt_ token of the service is introspectable too
    const m = await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'ci' });
    assert.equal(m.status, 201, m.text);
    const kwt = await intro(su, m.json.token);
    assert.equal(kwt.active, true);
    assert.equal(kwt.sub, su.id);
    void client;
  });

  test('revocation (RFC 7009): the jti is refused at once; unknown tokens are 200; kwt_ tokens too', async () => {
    const t = await grant(as, su);
    const key = await createKey(s, svc.id);
    const revoke = async (who, tok) => oauth.processRevocationResponse(
      await oauth.revocationRequest(as, { client_id: who.clientId }, oauth.ClientSecretBasic(who.clientSecret), tok, insecure));
    assert.equal((await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: t.access_token })).status, 200);
    // another client may not revoke it
    await assert.rejects(revoke(other, t.access_token), (e) => e.error === 'invalid_request');
    await revoke(su, t.access_token);
    const after1 = await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: t.access_token });
    assert.equal(after1.status, 401, after1.text);
    const intro = await oauth.processIntrospectionResponse(as, { client_id: su.clientId },
      await oauth.introspectionRequest(as, { client_id: su.clientId }, oauth.ClientSecretBasic(su.clientSecret), t.access_token, insecure));
    assert.equal(intro.active, false);
    await revoke(su, t.access_token); // again: 200
    await revoke(su, 'unknown-token'); // unknown: 200
    const m = (await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'rot', permissions: ['keys:verify'] })).json;
    assert.equal((await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: m.token })).status, 200);
    await revoke(su, m.token);
    assert.equal((await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: m.token })).status, 401);
    // both are in the audit log, attributed to the service user
    const audit = await s.api('GET', `/api/v1/audit?actor=${su.id}&limit=200`);
    const actions = new Set((audit.json.items || []).map((e) => e.action));
    assert.ok(actions.has('access_token.revoke'), [...actions].join());
  });

  test('a client secret reset or a disabled service user: no new tokens', async () => {
    const u = await createSu(s, svc, { name: 'Scan', sourceSystem: 'branch_scan', permissions: ['keys:verify'] });
    await grant(as, u);
    const reset = await s.api('POST', `/api/v1/service-users/${u.id}/client-secret`);
    assert.equal(reset.status, 200, reset.text);
    await assert.rejects(grant(as, u), (e) => e.status === 401);
    const fresh = await grant(as, { ...u, clientSecret: reset.json.clientSecret });
    assert.equal((await s.api('PATCH', `/api/v1/service-users/${u.id}`, { enabled: false })).status, 200);
    await assert.rejects(grant(as, { ...u, clientSecret: reset.json.clientSecret }), (e) => e.status === 401);
    const key = await createKey(s, svc.id);
    const r = await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: fresh.access_token });
    assert.equal(r.status, 401, 'a disabled user\'s JWT stops at once');
  });

  test('bad input: RFC 6749 errors, never a 5xx', async () => {
    const basic = basicOf(su.clientId, su.clientSecret);
    const cases = [
      [form(s, '/oauth/token', 'grant_type=password&username=a&password=b', { Authorization: basic }), 400, 'unsupported_grant_type'],
      [form(s, '/oauth/token', 'grant_type=authorization_code&code=x', { Authorization: basic }), 400, 'unsupported_grant_type'],
      [form(s, '/oauth/token', 'scope=keys%3Averify', { Authorization: basic }), 400, 'invalid_request'],
      [form(s, '/oauth/token', 'grant_type=client_credentials&grant_type=client_credentials', { Authorization: basic }), 400, 'invalid_request'],
      [form(s, '/oauth/token', 'grant_type=client_credentials&scope=%zz', { Authorization: basic }), 400, 'invalid_request'],
      [form(s, '/oauth/token', `grant_type=client_credentials&client_secret=${su.clientSecret}`, { Authorization: basic }), 400, 'invalid_request'],
      [form(s, '/oauth/token', 'grant_type=client_credentials', { Authorization: basicOf(su.clientId, 'kwcs_wrong') }), 401, 'invalid_client'],
      [form(s, '/oauth/token', 'grant_type=client_credentials', { Authorization: basicOf('su_AAAAAAAAAAAAAAAA', su.clientSecret) }), 401, 'invalid_client'],
      [form(s, '/oauth/token', 'grant_type=client_credentials', { Authorization: 'Basic !!!' }), 401, 'invalid_client'],
      [form(s, '/oauth/token', 'grant_type=client_credentials', { Authorization: 'Basic ' + Buffer.from('nocolon').toString('base64') }), 401, 'invalid_client'],
      [form(s, '/oauth/token', 'grant_type=client_credentials', { Authorization: `Bearer ${s.rootToken}` }), 401, 'invalid_client'],
      [form(s, '/oauth/token', 'grant_type=client_credentials'), 401, 'invalid_client'],
      [form(s, '/oauth/token', `grant_type=client_credentials&client_id=${su.clientId}`), 401, 'invalid_client'],
      [form(s, '/oauth/token', JSON.stringify({ grant_type: 'client_credentials' }), { 'Content-Type': 'application/json', Authorization: basic }), 400, 'invalid_request'],
      [form(s, '/oauth/token', 'grant_type=client_credentials&' + Array.from({ length: 20 }, (_, i) => `p${i}=1`).join('&'), { Authorization: basic }), 400, 'invalid_request'],
      [form(s, '/oauth/introspect', '', { Authorization: basic }), 400, 'invalid_request'],
      [form(s, '/oauth/introspect', 'token=x', { Authorization: basicOf(su.clientId, 'nope') }), 401, 'invalid_client'],
      [form(s, '/oauth/revoke', 'token=x'), 401, 'invalid_client'],
      [form(s, '/oauth/revoke', 'token_type_hint=access_token', { Authorization: basic }), 400, 'invalid_request'],
    ];
    for (const [p, status, error] of cases) {
      const r = await p;
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.error, error, r.text);
      assert.equal(typeof r.json.error_description, 'string');
      assert.equal(r.headers.get('cache-control'), 'no-store');
      assert.match(r.headers.get('content-type'), /^application\/json/);
      if (error === 'invalid_client') assert.match(r.headers.get('www-authenticate'), /^Basic /);
    }
    // client_secret_basic percent-decodes both parts (RFC 6749 2.3.1)
    const pct = (x) => [...x].map((ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    const ok = await form(s, '/oauth/token', 'grant_type=client_credentials', { Authorization: basicOf(pct(su.clientId), pct(su.clientSecret)) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal((await fetch(`${s.url}/oauth/token`)).status, 405);
  });
});

// HMAC-SHA256 by openssl, as the seed's integrators would make it.
function opensslHmac(secret, msg) {
  const r = spawnSync('openssl', ['dgst', '-sha256', '-hmac', secret, '-binary'], { input: msg });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout.toString('base64');
}

describe('seed 004: HMAC token for an access token', () => {
  let s, svc, su, ak;
  const exchange = (body) => api(s.url, 'POST', '/api/v1/access-tokens', body);
  const make = (k, { ts = Math.floor(Date.now() / 1000), nonce = randomBytes(16).toString('base64url'), secret = k.secretAccessKey } = {}) =>
    ({ accessKeyId: k.accessKeyId, timestamp: ts, nonce, signature: opensslHmac(secret, `${k.accessKeyId}.${ts}.${nonce}`) });
  before(async () => {
    s = await startServer();
    svc = await createService(s);
    su = await createSu(s, svc, { name: 'Portal', sourceSystem: 'passportal', permissions: ['keys:verify'] });
    ak = (await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: su.id })).json;
  });
  after(() => s.cleanup());

  test('the exchange answers a JWT for the service user that keyward and jose accept', async () => {
    const r = await exchange(make(ak));
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.tokenType, 'Bearer');
    assert.ok(r.json.expiresIn > 0);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const jwks = createRemoteJWKSet(new URL(`${s.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(r.json.accessToken, jwks, { issuer: s.url, audience: s.url, typ: 'at+jwt' });
    assert.equal(payload.sub, su.id);
    assert.equal(payload.kw_cred, ak.accessKeyId);
    const key = await createKey(s, svc.id);
    const v = await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: r.json.accessToken });
    assert.equal(v.status, 200, v.text);
    // padding is optional
    const unpadded = make(ak);
    unpadded.signature = unpadded.signature.replace(/=+$/, '');
    assert.equal((await exchange(unpadded)).status, 201);
  });

  test('replayed nonce, stale timestamp, wrong HMAC, bad nonce', async () => {
    const body = make(ak);
    assert.equal((await exchange(body)).status, 201);
    const again = await exchange(body);
    assert.equal(again.status, 401);
    assert.equal(again.json.code, 'NONCE_REPLAYED');
    for (const ts of [Math.floor(Date.now() / 1000) - 400, Math.floor(Date.now() / 1000) + 400]) {
      const r = await exchange(make(ak, { ts }));
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 'TIMESTAMP_SKEW');
    }
    const wrong = await exchange(make(ak, { secret: 'not-the-secret' }));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.code, 'SIGNATURE_MISMATCH');
    // a wrong HMAC does not spend the nonce: the right one still works
    const n = randomBytes(16).toString('base64url');
    assert.equal((await exchange(make(ak, { nonce: n, secret: 'x' }))).json.code, 'SIGNATURE_MISMATCH');
    assert.equal((await exchange(make(ak, { nonce: n }))).status, 201);
    for (const nonce of ['short', 'x'.repeat(65), 'has space in it!!', 'ünïcødé-nonce-val']) {
      const r = await exchange(make(ak, { nonce }));
      assert.equal(r.status, 400, nonce);
      assert.equal(r.json.code, 'INVALID_NONCE');
    }
    const bad = await exchange({ ...make(ak), signature: '***' });
    assert.equal(bad.status, 400);
    for (const b of [{}, { ...make(ak), extra: 1 }, { ...make(ak), timestamp: 'now' }, { ...make(ak), accessKeyId: 5 }]) {
      const r = await exchange(b);
      assert.equal(r.status, 400, JSON.stringify(b));
    }
  });

  test('unknown, disabled and deleted keys', async () => {
    const unknown = await exchange(make({ accessKeyId: 'KWAKAAAAAAAAAAAAAAAA', secretAccessKey: 'x' }));
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.code, 'ACCESS_KEY_NOT_FOUND');
    const k = (await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: su.id })).json;
    const t = await exchange(make(k));
    assert.equal(t.status, 201);
    assert.equal((await s.api('PATCH', `/api/v1/access-keys/${k.accessKeyId}`, { enabled: false })).status, 200);
    assert.equal((await exchange(make(k))).json.code, 'ACCESS_KEY_DISABLED');
    // the JWT it minted stops too (the cred: ban)
    const key = await createKey(s, svc.id);
    assert.equal((await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: t.json.accessToken })).status, 401);
    assert.equal((await s.api('DELETE', `/api/v1/access-keys/${k.accessKeyId}`)).status, 204);
    assert.equal((await exchange(make(k))).json.code, 'ACCESS_KEY_NOT_FOUND');
  });
});

describe('a revoked jti on another node', { skip: onPg ? false : 'runs on PostgreSQL only (scripts/test sets KEYWARD_TEST_STORE)' }, () => {
  let pg, cl;
  before(async () => {
    delete process.env.KEYWARD_TEST_STORE;
    pg = startPostgres();
    // one issuer for the deployment (the default, http://LISTEN, differs per node)
    cl = await startCluster(pg, { n: 2, db: 'kw_oauth', args: ['--issuer', 'https://keyward.test'] });
  });
  after(async () => {
    await cl?.stop();
    pg?.remove();
  });

  test('is refused by every node within 1 s', async () => {
    const [A, B] = cl.nodes;
    const root = (n, m, p, b) => api(n.url, m, p, b, { token: cl.rootToken });
    const svc = (await root(A, 'POST', '/api/v1/services', { name: 'S' })).json;
    const su = (await root(A, 'POST', `/api/v1/services/${svc.id}/service-users`, { name: 'V', sourceSystem: 'vkyc', permissions: ['keys:verify'] })).json;
    const key = (await root(A, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' })).json;
    const auth = basicOf(su.clientId, su.clientSecret);
    let tok;
    for (let i = 0; i < 100 && !tok; i++) { // B learns of the new client secret through the store at once
      const r = await form(A, '/oauth/token', 'grant_type=client_credentials', { Authorization: auth });
      if (r.status === 200) tok = r.json.access_token;
      else await sleep(20);
    }
    const onB = () => api(B.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { token: tok });
    for (let i = 0; i < 100 && (await onB()).status !== 200; i++) await sleep(20); // B has the signing key
    assert.equal((await onB()).status, 200);
    const rv = await form(A, '/oauth/revoke', `token=${tok}`, { Authorization: auth });
    assert.equal(rv.status, 200, rv.text);
    // The 1 s target is measured by make bench; here a generous deadline (a loaded CI machine).
    const t0 = performance.now();
    while ((await onB()).status !== 401) {
      assert.ok(performance.now() - t0 < 10000, 'B still accepts the revoked JWT after 10 s');
      await sleep(10);
    }
    console.log(`oauth: a revoked JWT refused on the other node after ${(performance.now() - t0).toFixed(0)} ms`);
  });

  // Client secrets live in every node's key cache (keys rows of kind client_secret, carried by sync), so
  // /oauth/token answers from memory: a reset, a disable and a delete on A must reach B's /oauth/token.
  test('a client secret reset, a disabled or deleted client stops its client authentication on every node', async () => {
    const [A, B] = cl.nodes;
    const root = (n, m, p, b) => api(n.url, m, p, b, { token: cl.rootToken });
    const svc = (await root(A, 'POST', '/api/v1/services', { name: 'T' })).json;
    const su = (await root(A, 'POST', `/api/v1/services/${svc.id}/service-users`, { name: 'D', sourceSystem: 'doc_service', permissions: ['documents:read'] })).json;
    // B authenticates the client for introspection exactly as for /oauth/token (from its key cache); the
    // cluster's nodes do not share a master key, so B cannot sign with A's key and introspection shows it.
    const onB = (secret) => form(B, '/oauth/introspect', 'token=unknown', { Authorization: basicOf(su.clientId, secret) });
    const until = async (secret, status, what) => {
      const t0 = performance.now();
      let r;
      while ((r = await onB(secret)).status !== status) {
        assert.ok(r.status === 200 || r.status === 401, r.text);
        assert.ok(performance.now() - t0 < 10000, `B: ${what} not in force after 10 s (${r.status})`);
        await sleep(10);
      }
      return r;
    };
    assert.equal((await until(su.clientSecret, 200, 'a new client')).json.active, false);
    const reset = await root(A, 'POST', `/api/v1/service-users/${su.id}/client-secret`);
    assert.equal(reset.status, 200, reset.text);
    const refused = await until(su.clientSecret, 401, 'the reset');
    assert.equal(refused.json.error, 'invalid_client');
    await until(reset.json.clientSecret, 200, 'the new secret');
    assert.equal((await root(A, 'PATCH', `/api/v1/service-users/${su.id}`, { enabled: false })).status, 200);
    await until(reset.json.clientSecret, 401, 'the disable');
    assert.equal((await root(A, 'PATCH', `/api/v1/service-users/${su.id}`, { enabled: true })).status, 200);
    await until(reset.json.clientSecret, 200, 'the re-enable');
    assert.equal((await root(A, 'DELETE', `/api/v1/service-users/${su.id}`)).status, 204);
    await until(reset.json.clientSecret, 401, 'the delete');
  });
});
