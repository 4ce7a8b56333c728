// Encrypted responses (seed 001), as an integrator does them: fetch GET /api/v1/encryption-key, import
// the JWK with Node's WebCrypto, wrap a fresh AES-256 key with RSA-OAEP-256, send it in
// X-Keyward-Encryption-Key, and open the application/jose answer with jose's compactDecrypt (errors
// come encrypted too). A bad or wrongly wrapped key is a plain 400, never a plaintext answer;
// requireEncryption refuses plaintext; `keyward encryption-key rotate` keeps the old key working for its
// grace; the private key is never in the database files in the clear.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes, generateKeyPairSync, publicEncrypt, constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compactDecrypt } from 'jose';
import { api, createKey, createService, filesUnder, run, startServer, waitFor } from './lib/server.mjs';

const { subtle } = globalThis.crypto;

async function encKey(s) {
  const r = await api(s.url, 'GET', '/api/v1/encryption-key');
  assert.equal(r.status, 200);
  return r.json;
}

// A fresh AES-256 key wrapped to jwk with WebCrypto's RSA-OAEP (SHA-256): [raw key, header value].
async function wrapFor(jwk, { withKid = true, raw = randomBytes(32) } = {}) {
  const pub = await subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  const ct = Buffer.from(await subtle.encrypt({ name: 'RSA-OAEP' }, pub, raw)).toString('base64url');
  return [raw, withKid ? `${jwk.kid}.${ct}` : ct];
}

async function openJwe(r, raw) {
  assert.equal(r.headers.get('content-type'), 'application/jose', r.text);
  const { plaintext, protectedHeader } = await compactDecrypt(r.text, raw);
  return { body: JSON.parse(new TextDecoder().decode(plaintext)), header: protectedHeader };
}

const verifyAs = (s, cred, key, headers = {}) =>
  api(s.url, 'POST', '/api/v1/keys/verify', key === undefined ? {} : { key }, { token: cred, headers });

describe('encrypted responses', () => {
  test('the published key; a verify answered as a JWE that jose opens; errors encrypted; bad keys refused in plain', async () => {
    const s = await startServer();
    try {
      const set = await encKey(s);
      assert.equal(set.keys.length, 1);
      const [jwk] = set.keys;
      assert.deepEqual(Object.keys(jwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
      assert.equal(jwk.kty, 'RSA');
      assert.equal(jwk.alg, 'RSA-OAEP-256');
      assert.equal(jwk.use, 'enc');
      assert.equal(jwk.e, 'AQAB');
      assert.equal(Buffer.from(jwk.n, 'base64url').length, 384, 'RSA-3072');
      const thumb = createHash('sha256').update(`{"e":"${jwk.e}","kty":"RSA","n":"${jwk.n}"}`).digest('base64url');
      assert.equal(jwk.kid, thumb, 'kid is the RFC 7638 thumbprint');
      assert.equal(set.kid, jwk.kid);
      assert.equal(createPublicKey(set.pem).export({ format: 'jwk' }).n, jwk.n, 'the PEM is the same key');

      const svc = await createService(s);
      const verifier = await createKey(s, svc.id, { scope: 'metadata', permissions: ['keys:verify'] });
      const [raw, hdr] = await wrapFor(jwk);
      const r = await verifyAs(s, verifier.key, verifier.key, { 'X-Keyward-Encryption-Key': hdr });
      assert.equal(r.status, 200);
      assert.ok(!r.text.includes(verifier.id), 'nothing in the clear');
      const { body, header } = await openJwe(r, raw);
      assert.deepEqual(header, { alg: 'dir', enc: 'A256GCM', kid: jwk.kid, cty: 'application/json' });
      assert.equal(body.valid, true);
      assert.equal(body.keyId, verifier.id);
      // without the kid prefix: the published key is found
      const [raw2, bare] = await wrapFor(jwk, { withKid: false });
      const r2 = await verifyAs(s, verifier.key, verifier.key, { 'X-Keyward-Encryption-Key': bare });
      assert.equal((await openJwe(r2, raw2)).body.keyId, verifier.id);
      // each response is under the key of its own request: the first key cannot open the second answer
      await assert.rejects(compactDecrypt(r2.text, raw));
      // errors are encrypted too: a bad body, and no credential at all
      const [raw3, h3] = await wrapFor(jwk);
      const bad = await verifyAs(s, verifier.key, undefined, { 'X-Keyward-Encryption-Key': h3 });
      assert.equal(bad.status, 400);
      assert.equal((await openJwe(bad, raw3)).body.code, 'INVALID_FIELD');
      const [raw4, h4] = await wrapFor(jwk);
      const anon = await api(s.url, 'POST', '/api/v1/keys/verify', { key: 'x' }, { headers: { 'X-Keyward-Encryption-Key': h4 } });
      assert.equal(anon.status, 401);
      const opened = await openJwe(anon, raw4);
      assert.equal(opened.body.code, 'UNAUTHENTICATED');
      assert.equal(opened.body.status, 401);

      // bad keys: a plain 400 ENCRYPTION_KEY_INVALID, never the answer in the clear
      const other = generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey;
      const toOther = publicEncrypt({ key: other, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        randomBytes(32)).toString('base64url');
      const [, short] = await wrapFor(jwk, { raw: randomBytes(16) });
      const [, good] = await wrapFor(jwk, { withKid: false });
      const sha1 = publicEncrypt({ key: set.pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
        randomBytes(32)).toString('base64url');
      for (const value of ['garbage!', 'AAAA', toOther, `${jwk.kid}.${toOther}`, short, `${'x'.repeat(43)}.${good}`,
        sha1, `${jwk.kid}.${good}x`, `.${good}`]) {
        const b = await verifyAs(s, verifier.key, verifier.key, { 'X-Keyward-Encryption-Key': value });
        assert.equal(b.status, 400, value);
        assert.equal(b.headers.get('content-type'), 'application/problem+json');
        assert.equal(b.json.code, 'ENCRYPTION_KEY_INVALID');
        assert.ok(!b.text.includes(verifier.id));
      }
      // two keys at once are refused too
      const [, h5] = await wrapFor(jwk);
      const two = await fetch(`${s.url}/api/v1/keys/verify`, {
        method: 'POST',
        headers: [['Authorization', `Bearer ${verifier.key}`], ['Content-Type', 'application/json'],
          ['X-Keyward-Encryption-Key', h5], ['X-Keyward-Encryption-Key', h5]],
        body: JSON.stringify({ key: verifier.key }),
      });
      assert.equal(two.status, 400);
      assert.equal((await two.json()).code, 'ENCRYPTION_KEY_INVALID');
      // a restart keeps the same key (sealed in the store)
      await s.stop();
      const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true });
      try {
        assert.deepEqual((await encKey(again)).keys.map((k) => k.kid), [jwk.kid]);
      } finally {
        await again.stop();
      }
    } finally {
      await s.cleanup();
    }
  });

  test('requireEncryption: plaintext refused with ENCRYPTION_REQUIRED, encrypted answered; PATCH turns it off', async () => {
    const s = await startServer();
    try {
      const [jwk] = (await encKey(s)).keys;
      const svc = await createService(s);
      const k = await createKey(s, svc.id, { scope: 'attributes', permissions: ['keys:verify'], requireEncryption: true });
      assert.equal(k.requireEncryption, true);
      assert.equal((await s.api('GET', `/api/v1/keys/${k.id}`)).json.requireEncryption, true);
      const plain = await verifyAs(s, k.key, k.key);
      assert.equal(plain.status, 400);
      assert.equal(plain.json.code, 'ENCRYPTION_REQUIRED');
      assert.equal(plain.headers.get('content-type'), 'application/problem+json');
      const [raw, hdr] = await wrapFor(jwk);
      const enc = await verifyAs(s, k.key, k.key, { 'X-Keyward-Encryption-Key': hdr });
      assert.equal(enc.status, 200);
      assert.equal((await openJwe(enc, raw)).body.valid, true);
      // root is not bound by a key's setting; the verified key's facts are unchanged
      assert.equal((await verifyAs(s, s.rootToken, k.key)).json.valid, true);
      const off = await s.api('PATCH', `/api/v1/keys/${k.id}`, { requireEncryption: false });
      assert.equal(off.status, 200);
      assert.equal(off.json.requireEncryption, false);
      assert.equal((await verifyAs(s, k.key, k.key)).status, 200, 'effective on the next request');
      const bad = await s.api('PATCH', `/api/v1/keys/${k.id}`, { requireEncryption: 'yes' });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.field, 'requireEncryption');
      const plainKey = await createKey(s, svc.id, { scope: 'metadata' });
      assert.equal(plainKey.requireEncryption, false);
    } finally {
      await s.cleanup();
    }
  });

  test('encryption-key rotate while serving: new key first, the old one works for --grace; grace 0 retires it', async () => {
    const s = await startServer();
    try {
      const [old] = (await encKey(s)).keys;
      const svc = await createService(s);
      const v = await createKey(s, svc.id, { scope: 'metadata', permissions: ['keys:verify'] });
      const r = run(['encryption-key', 'rotate', '--grace', '1h', '--data-dir', s.dataDir, ...s.storeArgs]);
      assert.equal(r.status, 0, r.stderr);
      const fresh = r.stdout.match(/new encryption key ([A-Za-z0-9_-]{43})/)?.[1];
      assert.ok(fresh, r.stdout);
      const both = await waitFor(async () => {
        const set = await encKey(s);
        return set.keys.length === 2 ? set : null;
      }, 3000);
      assert.deepEqual(both.keys.map((k) => k.kid), [fresh, old.kid], 'the new key first, the old one still listed');
      assert.equal(both.kid, fresh);
      assert.equal(createPublicKey(both.pem).export({ format: 'jwk' }).n, both.keys[0].n);
      for (const jwk of both.keys) {
        for (const withKid of [true, false]) {
          const [raw, hdr] = await wrapFor(jwk, { withKid });
          const a = await verifyAs(s, v.key, v.key, { 'X-Keyward-Encryption-Key': hdr });
          const { body, header } = await openJwe(a, raw);
          assert.equal(body.valid, true);
          assert.equal(header.kid, jwk.kid, 'the JWE names the key that opened the request');
        }
      }
      const audit = await s.api('GET', '/api/v1/audit?action=encryption_key.*');
      assert.deepEqual(audit.json.items.map((e) => e.action), ['encryption_key.rotate', 'encryption_key.create']);
      assert.equal(audit.json.items[0].target.id, fresh);
      // a rotation with no grace: the key before is gone at once
      const r2 = run(['encryption-key', 'rotate', '--grace', '0', '--data-dir', s.dataDir, ...s.storeArgs]);
      assert.equal(r2.status, 0, r2.stderr);
      const newest = r2.stdout.match(/new encryption key ([A-Za-z0-9_-]{43})/)?.[1];
      const after = await waitFor(async () => {
        const set = await encKey(s);
        return set.kid === newest ? set : null;
      }, 3000);
      assert.deepEqual(after.keys.map((k) => k.kid), [newest, old.kid], 'the 1 h grace of the first key still runs');
      const [, gone] = await wrapFor(both.keys[0]);
      const refused = await verifyAs(s, v.key, v.key, { 'X-Keyward-Encryption-Key': gone });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.code, 'ENCRYPTION_KEY_INVALID');
      assert.equal(run(['encryption-key', 'rotate', '--grace', 'soon', '--data-dir', s.dataDir]).status, 2);
      assert.equal(run(['encryption-key', 'spin']).status, 2);
      // the private keys are sealed: no modulus in binary (only the private key's DER holds it) and no
      // PEM private key in any database file
      if (s.store === 'sqlite') {
        const files = filesUnder(s.dataDir).filter((f) => /keyward\.db/.test(f));
        assert.ok(files.length > 0);
        for (const jwk of (await encKey(s)).keys) {
          const n = Buffer.from(jwk.n, 'base64url');
          for (const f of files) {
            const bytes = readFileSync(f);
            assert.equal(bytes.indexOf(n), -1, `${f} holds a modulus in binary`);
            assert.equal(bytes.indexOf('PRIVATE KEY'), -1, f);
          }
        }
      }
    } finally {
      await s.cleanup();
    }
  });
  test('a candidate extract comes encrypted; a requireEncryption key cannot extract in plain', async () => {
    const s = await startServer();
    try {
      const [jwk] = (await encKey(s)).keys;
      const svc = await createService(s);
      const c = await s.api('POST', `/api/v1/services/${svc.id}/candidates`,
        { refId: 'enc-1', attributes: { givenName: 'Ada', documentNumber: 'X1234567' } });
      assert.equal(c.status, 201, c.text);
      const key = await createKey(s, svc.id, { scope: 'attributes' });
      const [raw, hdr] = await wrapFor(jwk);
      const one = await api(s.url, 'GET', '/api/v1/candidates/enc-1', undefined, { token: key.key, headers: { 'X-Keyward-Encryption-Key': hdr } });
      assert.equal(one.status, 200);
      assert.ok(!one.text.includes('X1234567'), 'the attributes are not in the clear');
      const { body } = await openJwe(one, raw);
      assert.equal(body.refId, 'enc-1');
      assert.equal(body.attributes.documentNumber, 'X1234567');
      const [raw2, hdr2] = await wrapFor(jwk);
      const list = await api(s.url, 'GET', '/api/v1/candidates', undefined, { token: key.key, headers: { 'X-Keyward-Encryption-Key': hdr2 } });
      assert.equal((await openJwe(list, raw2)).body.items[0].attributes.givenName, 'Ada');
      const [raw3, hdr3] = await wrapFor(jwk);
      const missing = await api(s.url, 'GET', '/api/v1/candidates/nobody', undefined, { token: key.key, headers: { 'X-Keyward-Encryption-Key': hdr3 } });
      assert.equal(missing.status, 404);
      assert.equal((await openJwe(missing, raw3)).body.code, 'NOT_FOUND');

      const strict = await createKey(s, svc.id, { scope: 'attributes', requireEncryption: true });
      for (const path of ['/api/v1/candidates/enc-1', '/api/v1/candidates']) {
        const plain = await api(s.url, 'GET', path, undefined, { token: strict.key });
        assert.equal(plain.status, 400);
        assert.equal(plain.json.code, 'ENCRYPTION_REQUIRED');
        assert.ok(!plain.text.includes('X1234567'));
      }
      const [raw4, hdr4] = await wrapFor(jwk);
      const ok = await api(s.url, 'GET', '/api/v1/candidates/enc-1', undefined, { token: strict.key, headers: { 'X-Keyward-Encryption-Key': hdr4 } });
      assert.equal((await openJwe(ok, raw4)).body.attributes.givenName, 'Ada');
    } finally {
      await s.cleanup();
    }
  });
});
