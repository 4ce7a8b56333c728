// Secrets are shown once and exist nowhere else: not in the database files (WAL included), not in logs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, createKey, createService, randomToken, run, startServer, verify } from './lib/server.mjs';

function needles(secret) {
  const b = Buffer.from(secret);
  return [b, Buffer.from(b.toString('base64')), Buffer.from(b.toString('hex')), Buffer.from(secret.slice(-30))];
}

describe('secrets', () => {
  test('no secret in any data file or log line', async () => {
    const rootToken = randomToken(48);
    const s = await startServer({ rootToken, args: ['--log-level', 'debug'] });
    const secrets = [rootToken];
    const svc = await createService(s);
    for (const scope of ['metadata', 'attributes', 'attributes_pictures']) {
      const k = await createKey(s, svc.id, { scope, permissions: ['keys:verify'] });
      secrets.push(k.key);
      assert.equal((await verify(s, k.key)).code, 'VALID');
      await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': k.key } });
      await api(s.url, 'POST', '/api/v1/keys/verify', { key: k.key }, { token: k.key });
    }
    const rolled = (await s.api('POST', `/api/v1/keys/${(await createKey(s, svc.id)).id}/roll`, { expireOldAfterSeconds: 5 })).json;
    secrets.push(rolled.key);
    // A person: their password, session id and CSRF token are secrets too.
    const password = `pw-${randomToken(24)}`;
    secrets.push(password);
    assert.equal((await s.api('POST', '/api/v1/users', { username: 'dora', password, role: 'sysadmin' })).status, 201);
    const login = await api(s.url, 'POST', '/api/v1/session', { username: 'dora', password });
    assert.equal(login.status, 200);
    const sid = login.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1];
    secrets.push(sid, login.json.csrfToken);
    await api(s.url, 'POST', '/api/v1/session', { username: 'dora', password: `${password}x` });
    secrets.push(`${password}x`);
    // A wrong credential must not be echoed either.
    const wrong = randomToken(48);
    secrets.push(wrong);
    await api(s.url, 'GET', '/api/v1/services', undefined, { token: wrong });
    // Files as they are while running (WAL present), then after a clean stop.
    const scan = (label) => {
      for (const f of readdirSync(s.dataDir)) {
        const bytes = readFileSync(join(s.dataDir, f));
        for (const sec of secrets) for (const n of needles(sec)) {
          assert.equal(bytes.indexOf(n), -1, `${label}: ${f} contains a secret`);
        }
      }
    };
    await new Promise((r) => setTimeout(r, 1100)); // let the write-behind flush
    scan('running');
    assert.ok(readdirSync(s.dataDir).some((f) => f.endsWith('-wal')), 'the WAL was scanned too');
    await s.stop();
    scan('stopped');
    const logs = Buffer.from(s.logs());
    assert.ok(logs.length > 0);
    for (const sec of secrets) for (const n of needles(sec)) assert.equal(logs.indexOf(n), -1, 'a log line contains a secret');
    rmSync(s.dataDir, { recursive: true, force: true });
  });

  test('the generated root token is printed once, on first start only', async () => {
    const s = await startServer({ rootToken: null, keepDir: true });
    const first = s.logs().match(/kwroot_[0-9A-Za-z]{49}/);
    assert.ok(first, 'first start prints a kwroot_ token');
    const r = await api(s.url, 'GET', '/api/v1/services', undefined, { token: first[0] });
    assert.equal(r.status, 200);
    await s.stop();
    // The log stream (stderr) never carries it: only the one stdout banner does.
    assert.equal(s.logs().split(first[0]).length - 1, 2, 'the banner shows it twice (token and export line) and nothing else does');
    const again = await startServer({ rootToken: null, dataDir: s.dataDir });
    assert.equal(again.logs().match(/kwroot_/), null);
    assert.equal((await again.api('GET', '/api/v1/services', undefined, { token: first[0] })).status, 200);
    await again.stop();
    const db = readFileSync(join(s.dataDir, 'keyward.db'));
    assert.equal(db.indexOf(Buffer.from(first[0])), -1);
    rmSync(s.dataDir, { recursive: true, force: true });
  });

  test('root-token rotate replaces it, effective on the next request of a running server', async () => {
    const s = await startServer();
    const rot = run(['root-token', 'rotate', '--data-dir', s.dataDir]);
    assert.equal(rot.status, 0, rot.stderr);
    const fresh = rot.stdout.match(/kwroot_[0-9A-Za-z]{49}/)[0];
    assert.equal((await s.api('GET', '/api/v1/services')).status, 401);
    assert.equal((await api(s.url, 'GET', '/api/v1/services', undefined, { token: fresh })).status, 200);
    await s.cleanup();
  });

  test('a root token shorter than 32 characters is refused at first start', () => {
    const r = run(['serve', '--listen', '127.0.0.1:1', '--data-dir', '/tmp/kw-never'], { env: { KEYWARD_ROOT_TOKEN: 'too-short' } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /32/);
    assert.ok(!r.stderr.includes('too-short'));
  });
});
