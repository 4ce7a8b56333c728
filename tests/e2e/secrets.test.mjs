// Secrets are shown once and exist nowhere else: not in the database files (WAL included), not in logs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { relative } from 'node:path';
import { api, createKey, createService, filesUnder, randomToken, sleep, startServer, verify } from './lib/server.mjs';

// The byte strings that would betray a secret: itself, its base64/base64url/hex forms, and its
// random tail (so a prefix-stripped or differently framed copy is caught too).
function needles(secret) {
  const b = Buffer.from(secret);
  const out = [b, Buffer.from(b.toString('base64')), Buffer.from(b.toString('base64url')), Buffer.from(b.toString('hex')),
    Buffer.from(b.toString('hex').toUpperCase())];
  if (secret.length >= 40) out.push(Buffer.from(secret.slice(-30)));
  const prefixed = secret.match(/^[a-z][a-z0-9]*_(.{30})/);
  if (prefixed && secret.length >= 40) out.push(Buffer.from(prefixed[1]));
  return out;
}

function assertClean(label, bytes, secrets) {
  for (const [name, sec] of secrets) {
    for (const n of needles(sec)) {
      const at = bytes.indexOf(n);
      assert.equal(at, -1, `${label} contains ${name} (as ${n.length === sec.length ? 'itself' : 'an encoding'}) at byte ${at}`);
    }
  }
}

describe('secrets', () => {
  test('no secret in any data file or log line', async () => {
    const rootToken = randomToken(48);
    const s = await startServer({ rootToken, args: ['--log-level', 'debug'] });
    const secrets = [['root token', rootToken]];
    try {
      const svc = await createService(s);
      const other = await createService(s, { name: 'prefixed', keyPrefix: 'acme' });
      for (const [i, scope] of ['metadata', 'attributes', 'attributes_pictures'].entries()) {
        const k = await createKey(s, i === 2 ? other.id : svc.id, { scope, permissions: ['keys:verify'], description: `key ${i}` });
        secrets.push([`key ${i}`, k.key]);
        assert.equal((await verify(s, k.key)).code, 'VALID');
        assert.equal((await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': k.key } })).status, 204);
        assert.equal((await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `Bearer ${k.key}` } })).status, 204);
        assert.equal((await api(s.url, 'POST', '/api/v1/keys/verify', { key: k.key }, { token: k.key })).status, 200);
      }
      // A rolled pair (both used), a revoked key and a deleted key (used after the fact).
      const toRoll = await createKey(s, svc.id);
      secrets.push(['pre-roll key', toRoll.key]);
      const rolled = (await s.api('POST', `/api/v1/keys/${toRoll.id}/roll`, { expireOldAfterSeconds: 5 })).json;
      secrets.push(['rolled key', rolled.key]);
      await verify(s, toRoll.key);
      await verify(s, rolled.key);
      const rev = await createKey(s, svc.id);
      secrets.push(['revoked key', rev.key]);
      await s.api('POST', `/api/v1/keys/${rev.id}/revoke`);
      await verify(s, rev.key);
      await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': rev.key } });
      const del = await createKey(s, svc.id);
      secrets.push(['deleted key', del.key]);
      await s.api('DELETE', `/api/v1/keys/${del.id}`);
      await verify(s, del.key);
      // Wrong credentials (a checksum-broken key, an unknown admin token) must not be echoed either.
      const broken = rolled.key.slice(0, -1) + (rolled.key.at(-1) === 'a' ? 'b' : 'a');
      secrets.push(['broken key', broken]);
      await verify(s, broken);
      await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': broken } });
      const wrong = randomToken(48);
      secrets.push(['wrong admin token', wrong]);
      await api(s.url, 'GET', '/api/v1/services', undefined, { token: wrong });
      // The root token and keys in bodies that fail validation are not logged.
      // ... nor echoed by an error answer.
      for (const body of [`{"name":"${rolled.key}","nope":1}`, `{"key":"${rolled.key}"`, `{"key":"${rolled.key}",}`]) {
        const r = await s.api('POST', body.includes('"name"') ? '/api/v1/services' : '/api/v1/keys/verify', body);
        assert.equal(r.status, 400, body);
        assertClean(`the ${r.json?.code} answer to ${body.slice(0, 12)}...`, Buffer.from(r.text), [['rolled key', rolled.key]]);
      }
      // A person: their password, session id and CSRF token are secrets too (issue 3).
      const password = `pw-${randomToken(24)}`;
      secrets.push(['password', password]);
      const u = await s.api('POST', '/api/v1/users', { username: 'dora', password, role: 'sysadmin' });
      assert.equal(u.status, 201, u.text);
      const login = await api(s.url, 'POST', '/api/v1/session', { username: 'dora', password });
      assert.equal(login.status, 200);
      const sid = login.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1];
      secrets.push(['session id', sid], ['csrf token', login.json.csrfToken]);
      await api(s.url, 'POST', '/api/v1/session', { username: 'dora', password: `${password}x` });
      secrets.push(['wrong password', `${password}x`]);
      // Service users (issue 8): the client secret (and its reset), minted tokens (used, revoked, of a
      // deleted user), and a secret access key, which is stored only sealed under the master key.
      const su = (await s.api('POST', `/api/v1/services/${svc.id}/service-users`, { name: 'VKYC', sourceSystem: 'vkyc', permissions: ['keys:verify'] })).json;
      secrets.push(['client secret', su.clientSecret]);
      const reset = (await s.api('POST', `/api/v1/service-users/${su.id}/client-secret`)).json;
      secrets.push(['reset client secret', reset.clientSecret]);
      const tok = (await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'upload' })).json;
      secrets.push(['token', tok.token]);
      assert.equal((await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `Bearer ${tok.token}` } })).status, 204);
      assert.equal((await api(s.url, 'POST', '/api/v1/keys/verify', { key: tok.token }, { token: tok.token })).status, 200);
      const tok2 = (await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'revoked' })).json;
      secrets.push(['revoked token', tok2.token]);
      await s.api('POST', `/api/v1/tokens/${tok2.id}/revoke`);
      await verify(s, tok2.token);
      const ak = (await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: su.id })).json;
      secrets.push(['secret access key', ak.secretAccessKey]);
      // OAuth and seed 004: the access tokens (JWTs: never stored, only their jti when revoked), the
      // client secret sent to /oauth/token (basic and post), and a request signed with the access key.
      const basic = `Basic ${Buffer.from(`${su.clientId}:${reset.clientSecret}`).toString('base64')}`;
      secrets.push(['basic credentials', basic.slice(6)]);
      const form = (path, body, headers = {}) => fetch(s.url + path, { method: 'POST', body,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers } }).then(async (r) => ({ status: r.status, json: await r.json().catch(() => null) }));
      const jwt1 = await form('/oauth/token', 'grant_type=client_credentials', { Authorization: basic });
      assert.equal(jwt1.status, 200);
      secrets.push(['access token (basic)', jwt1.json.access_token]);
      const jwt2 = await form('/oauth/token', `grant_type=client_credentials&client_id=${su.clientId}&client_secret=${reset.clientSecret}`);
      assert.equal(jwt2.status, 200);
      secrets.push(['access token (post)', jwt2.json.access_token]);
      assert.equal((await api(s.url, 'POST', '/api/v1/keys/verify', { key: tok.token }, { token: jwt1.json.access_token })).status, 200);
      assert.equal((await form('/oauth/revoke', `token=${jwt2.json.access_token}`, { Authorization: basic })).status, 200);
      assert.equal((await form('/oauth/token', 'grant_type=client_credentials', { Authorization: 'Basic ' + Buffer.from(`${su.clientId}:${reset.clientSecret}x`).toString('base64') })).status, 401);
      secrets.push(['wrong client secret', `${reset.clientSecret}x`]);
      const ts = Math.floor(Date.now() / 1000), nonce = 'secrets-test-nonce-0001';
      const hmac = createHmac('sha256', ak.secretAccessKey).update(`${ak.accessKeyId}.${ts}.${nonce}`).digest('base64');
      const ex = await api(s.url, 'POST', '/api/v1/access-tokens', { accessKeyId: ak.accessKeyId, timestamp: ts, nonce, signature: hmac });
      assert.equal(ex.status, 201, ex.text);
      secrets.push(['exchanged access token', ex.json.accessToken]);
      await s.api('PATCH', `/api/v1/access-keys/${ak.accessKeyId}`, { enabled: false });
      const gone = (await s.api('POST', `/api/v1/services/${svc.id}/service-users`, { name: 'gone', sourceSystem: 'gone' })).json;
      secrets.push(['deleted user client secret', gone.clientSecret]);
      const gtok = (await s.api('POST', `/api/v1/service-users/${gone.id}/tokens`, { label: 'x' })).json;
      secrets.push(['deleted user token', gtok.token]);
      await s.api('DELETE', `/api/v1/service-users/${gone.id}`);
      await verify(s, gtok.token);

      // Encrypted responses (issue 9): the client's AES key sent wrapped in X-Keyward-Encryption-Key, and
      // keyward's RSA private key, whose modulus in binary only the (sealed) private key's DER holds.
      const enc = (await api(s.url, 'GET', '/api/v1/encryption-key')).json.keys[0];
      const rsa = await crypto.subtle.importKey('jwk', enc, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
      const aes = crypto.getRandomValues(new Uint8Array(32));
      const wrapped = Buffer.from(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, rsa, aes)).toString('base64url');
      const encr = await api(s.url, 'POST', '/api/v1/keys/verify', { key: 'not-a-key' },
        { token: s.rootToken, headers: { 'X-Keyward-Encryption-Key': wrapped } });
      assert.equal(encr.headers.get('content-type'), 'application/jose');
      secrets.push(['client AES key', Buffer.from(aes).toString('base64url')]);
      secrets.push(['client AES key (hex)', Buffer.from(aes).toString('hex')]);
      const rawNeedles = [['client AES key bytes', Buffer.from(aes)], ['RSA modulus bytes', Buffer.from(enc.n, 'base64url')]];
      const assertNoRaw = (label, bytes) => {
        for (const [name, b] of rawNeedles) assert.equal(bytes.indexOf(b), -1, `${label} contains ${name}`);
      };

      // Webhooks (issue 10): the whsec_ signing secret of a create and of two rotations (the previous one
      // is kept, sealed, for 24 h), as text and as the 32 raw bytes; a failed create echoes nothing.
      const hook = await s.api('POST', `/api/v1/services/${svc.id}/webhooks`, { url: 'https://hooks.example.com/kw', events: ['key.created'] });
      assert.equal(hook.status, 201, hook.text);
      const rot1 = (await s.api('POST', `/api/v1/webhooks/${hook.json.id}/rotate-secret`)).json;
      const rot2 = (await s.api('POST', `/api/v1/webhooks/${hook.json.id}/rotate-secret`)).json;
      for (const [name, sec] of [['webhook secret', hook.json.secret], ['rotated webhook secret', rot1.secret],
        ['twice rotated webhook secret', rot2.secret]]) {
        assert.match(sec, /^whsec_/);
        secrets.push([name, sec], [`${name} (base64)`, sec.slice(6)]);
        rawNeedles.push([`${name} bytes`, Buffer.from(sec.slice(6), 'base64')]);
      }
      await createKey(s, svc.id); // a delivery signed with it is queued

      // Files as they are while running (WAL present), then after a clean stop.
      const scan = (label) => {
        const files = filesUnder(s.dataDir);
        assert.ok(files.length >= 1);
        for (const f of files) assertClean(`${label}: ${relative(s.dataDir, f)}`, readFileSync(f), secrets);
        for (const f of files) assertNoRaw(`${label}: ${relative(s.dataDir, f)}`, readFileSync(f));
        return files;
      };
      await sleep(1100); // let the write-behind flush (default 500 ms)
      const running = scan('running');
      assert.ok(running.some((f) => f.endsWith('keyward.db')), 'the database was scanned');
      assert.ok(running.some((f) => f.endsWith('-wal')), 'the WAL was scanned too');
    } finally {
      await s.stop();
    }
    const after = filesUnder(s.dataDir);
    for (const f of after) assertClean(`stopped: ${relative(s.dataDir, f)}`, readFileSync(f), secrets);
    const logs = Buffer.from(s.logs());
    assert.ok(logs.length > 0, 'keyward logged something at debug level');
    assertClean('captured output', logs, secrets);
    assertClean('log file', readFileSync(s.logFile), secrets);
    rmSync(s.dataDir, { recursive: true, force: true });
    rmSync(s.logFile, { force: true });
  });

  test('a root token given in the environment never reaches the output', async () => {
    const rootToken = randomToken(64);
    const s = await startServer({ rootToken, args: ['--log-level', 'debug'] });
    assert.equal((await s.api('GET', '/api/v1/services')).status, 200);
    await s.cleanup();
    assertClean('output', Buffer.from(s.logs()), [['root token', rootToken]]);
  });
});
