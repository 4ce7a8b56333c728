// JWT signing keys and the master key, driven like an operator: the JWKS and RFC 8414 metadata, `keyward
// signing-key rotate` while serving (the old kid stays published), `keyward rekey` while serving (every
// sealed secret re-wrapped, the server never stops answering), master.key created 0600 and refused when
// wider, and the master key never in the database files (grep).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { compactDecrypt } from 'jose';
import { api, createKey, createService, filesUnder, run, startServer, tempDir, waitFor } from './lib/server.mjs';

const jwks = async (s) => {
  const r = await api(s.url, 'GET', '/.well-known/jwks.json');
  assert.equal(r.status, 200);
  return r;
};
const kids = (r) => r.json.keys.map((k) => k.kid);

describe('signing keys and the master key', () => {
  test('JWKS publishes one Ed25519 key with an RFC 7638 kid; RFC 8414 metadata names the endpoints', async () => {
    const s = await startServer();
    try {
      const r = await jwks(s);
      assert.match(r.headers.get('cache-control'), /max-age=\d+/);
      assert.equal(r.json.keys.length, 1);
      const [k] = r.json.keys;
      assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
      assert.equal(k.kty, 'OKP');
      assert.equal(k.crv, 'Ed25519');
      assert.equal(k.alg, 'EdDSA');
      assert.equal(k.use, 'sig');
      assert.equal(Buffer.from(k.x, 'base64url').length, 32);
      const { createHash } = await import('node:crypto');
      const thumb = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${k.x}"}`).digest('base64url');
      assert.equal(k.kid, thumb, 'kid is the RFC 7638 thumbprint');
      const m = await api(s.url, 'GET', '/.well-known/oauth-authorization-server');
      assert.equal(m.status, 200);
      assert.equal(m.json.issuer, s.url);
      assert.equal(m.json.jwks_uri, `${s.url}/.well-known/jwks.json`);
      assert.equal(m.json.token_endpoint, `${s.url}/oauth/token`);
      assert.equal(m.json.introspection_endpoint, `${s.url}/oauth/introspect`);
      assert.equal(m.json.revocation_endpoint, `${s.url}/oauth/revoke`);
      assert.deepEqual(m.json.grant_types_supported, ['client_credentials']);
      assert.deepEqual(m.json.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
      // a restart keeps the same key (it is in the store, sealed)
      await s.stop();
      const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true });
      try {
        assert.deepEqual(kids(await jwks(again)), [k.kid]);
      } finally {
        await again.stop();
      }
    } finally {
      await s.cleanup();
    }
  });

  test('the issuer setting names iss and every endpoint', async () => {
    const s = await startServer({ env: { KEYWARD_ISSUER: 'https://auth.example.com' } });
    try {
      const m = await api(s.url, 'GET', '/.well-known/oauth-authorization-server');
      assert.equal(m.json.issuer, 'https://auth.example.com');
      assert.equal(m.json.token_endpoint, 'https://auth.example.com/oauth/token');
    } finally {
      await s.cleanup();
    }
    const bad = run(['migrate', '--issuer', 'ftp://x', '--data-dir', tempDir('kw-iss')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /issuer must be an http/);
    const ttl = run(['migrate', '--access-token-ttl', '59', '--data-dir', tempDir('kw-iss')]);
    assert.equal(ttl.status, 2);
    assert.match(ttl.stderr, /access-token-ttl must be an integer in 60\.\.3600/);
  });

  test('signing-key rotate while serving: the new kid is published within a second, the old one stays', async () => {
    const s = await startServer();
    try {
      const [old] = kids(await jwks(s));
      const r = run(['signing-key', 'rotate', '--data-dir', s.dataDir, ...s.storeArgs]);
      assert.equal(r.status, 0, r.stderr);
      const fresh = r.stdout.match(/new signing key ([A-Za-z0-9_-]{43})/)?.[1];
      assert.ok(fresh, r.stdout);
      const both = await waitFor(async () => {
        const k = kids(await jwks(s));
        return k.length === 2 ? k : null;
      }, 1500);
      assert.deepEqual(both, [fresh, old], 'newest first, the old one still published');
      const audit = await s.api('GET', '/api/v1/audit?action=signing_key.*');
      assert.equal(audit.status, 200);
      assert.deepEqual(audit.json.items.map((e) => e.action), ['signing_key.rotate', 'signing_key.create']);
      assert.equal(audit.json.items[0].target.id, fresh);
      assert.equal(run(['signing-key', 'spin']).status, 2);
    } finally {
      await s.cleanup();
    }
  });

  test('rekey while serving re-wraps the signing keys; the server keeps answering; master key never in the DB', async () => {
    const s = await startServer();
    const dir = s.dataDir;
    const keyFile = join(dir, 'master.key');
    try {
      assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'master.key is created 0600');
      const oldKey = readFileSync(keyFile);
      assert.equal(oldKey.length, 32);
      const before = kids(await jwks(s));
      // an identity record's data key and the response-encryption key are sealed too
      const svc = await createService(s);
      const made = await s.api('POST', `/api/v1/services/${svc.id}/candidates`, { refId: 'rk-1', attributes: { givenName: 'Grace' } });
      assert.equal(made.status, 201, made.text);
      const reader = await createKey(s, svc.id, { scope: 'attributes' });
      const newFile = join(tempDir('kw-newkey'), 'new.key');
      let stop = false, answered = 0, failures = 0;
      const load = (async () => {
        while (!stop) {
          const r = await api(s.url, 'GET', '/.well-known/jwks.json');
          if (r.status === 200 && r.json.keys.length >= 1) answered++;
          else failures++;
        }
      })();
      const r = run(['rekey', '--data-dir', dir, ...s.storeArgs, '--new-master-key-file', newFile]);
      stop = true;
      await load;
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /re-wrapped \d+ access key\(s\), 1 signing key\(s\), 1 encryption key\(s\), 1 record data key\(s\), 0 document data key\(s\) and 0 webhook secret\(s\)/);
      assert.equal(failures, 0);
      assert.ok(answered > 0);
      const newKey = readFileSync(newFile);
      assert.equal(statSync(newFile).mode & 0o777, 0o600);
      assert.deepEqual(readFileSync(keyFile), newKey, 'master.key holds only the new key afterwards');
      assert.notDeepEqual(newKey, oldKey);
      assert.deepEqual(kids(await jwks(s)), before, 'the same keys, re-wrapped');
      // a second run finds nothing left to do
      const again = run(['rekey', '--data-dir', dir, ...s.storeArgs]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /re-wrapped 0 access key\(s\), 0 signing key\(s\), 0 encryption key\(s\), 0 record data key\(s\), 0 document data key\(s\) and 0 webhook secret\(s\)/);
      // rotating now seals a private key under the new master key, and a restart opens everything
      assert.equal(run(['signing-key', 'rotate', '--data-dir', dir, ...s.storeArgs]).status, 0);
      await s.stop();
      const s2 = await startServer({ dataDir: dir, rootToken: s.rootToken, keepDir: true });
      try {
        assert.equal(kids(await jwks(s2)).length, 2);
        // only the new master key is left: the record's attributes still open
        const got = await api(s2.url, 'GET', '/api/v1/candidates/rk-1', undefined, { token: reader.key });
        assert.equal(got.status, 200, got.text);
        assert.equal(got.json.attributes.givenName, 'Grace');
        // and the response-encryption key's private key: an encrypted extract opens
        const [jwk] = (await api(s2.url, 'GET', '/api/v1/encryption-key')).json.keys;
        const aes = randomBytes(32);
        const pub = await globalThis.crypto.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
        const wrapped = Buffer.from(await globalThis.crypto.subtle.encrypt({ name: 'RSA-OAEP' }, pub, aes)).toString('base64url');
        const sealed = await api(s2.url, 'GET', '/api/v1/candidates/rk-1', undefined,
          { token: reader.key, headers: { 'X-Keyward-Encryption-Key': wrapped } });
        assert.equal(sealed.status, 200, sealed.text);
        const opened = JSON.parse(new TextDecoder().decode((await compactDecrypt(sealed.text, aes)).plaintext));
        assert.equal(opened.attributes.givenName, 'Grace');
        assert.doesNotMatch(s2.logs(), /cannot open (a signing key|an encryption key|a record)/);
      } finally {
        await s2.stop();
      }
      for (const f of filesUnder(dir)) {
        if (f === keyFile) continue;
        const bytes = readFileSync(f);
        for (const k of [oldKey, newKey]) {
          assert.equal(bytes.indexOf(k), -1, `${f} holds a master key`);
          assert.equal(bytes.indexOf(Buffer.from(k.toString('base64'))), -1, `${f} holds a master key (base64)`);
          assert.equal(bytes.indexOf(Buffer.from(k.toString('hex'))), -1, `${f} holds a master key (hex)`);
        }
      }
      const log = s.logs() + r.stdout + r.stderr;
      for (const k of [oldKey, newKey]) assert.ok(!log.includes(k.toString('base64')) && !log.includes(k.toString('hex')));
    } finally {
      await s.cleanup();
    }
  });

  test('a master key file readable by others is refused; KEYWARD_MASTER_KEY wins over the file', async () => {
    const s = await startServer();
    const dir = s.dataDir;
    await s.stop();
    try {
      chmodSync(join(dir, 'master.key'), 0o644);
      await assert.rejects(startServer({ dataDir: dir, keepDir: true, readyTimeoutMs: 3000 }), /readable by others/);
      chmodSync(join(dir, 'master.key'), 0o600);
      // another master key: the node serves (and verifies) but cannot open the signing key, and says so
      const other = randomBytes(32).toString('base64');
      const s2 = await startServer({ dataDir: dir, keepDir: true, env: { KEYWARD_MASTER_KEY: other } });
      try {
        assert.equal(kids(await jwks(s2)).length, 1, 'no second key made');
        assert.match(s2.logs(), /cannot open a signing key's private key/);
      } finally {
        await s2.stop();
      }
      const bad = await startServer({ dataDir: dir, keepDir: true, readyTimeoutMs: 3000, env: { KEYWARD_MASTER_KEY: 'short' } })
        .then(() => 'started', (e) => String(e));
      assert.match(bad, /KEYWARD_MASTER_KEY rejected/);
      writeFileSync(join(dir, 'master.key'), Buffer.alloc(31), { mode: 0o600 });
      await assert.rejects(startServer({ dataDir: dir, keepDir: true, readyTimeoutMs: 3000 }), /must hold 32 raw bytes/);
    } finally {
      await s.cleanup();
    }
  });
});
