// Writes racing each other over HTTP, and the rules that keep credentials and people safe from it
// (issue 6 items 4, 5, 6 and the session a password change keeps).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, createKey, createService, sleep, startServer } from './lib/server.mjs';

const PW = 'correct horse battery staple';

async function login(s, username, password = PW) {
  const r = await api(s.url, 'POST', '/api/v1/session', { username, password });
  if (r.status !== 200) return { status: r.status };
  const sid = r.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1];
  return { status: 200, sid, csrf: r.json.csrfToken };
}

function as(s, sess, method, path, body) {
  return api(s.url, method, path, body, { headers: { Cookie: `kw_session=${sess.sid}`, 'X-CSRF-Token': sess.csrf } });
}

const authCheck = (s, key) => api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `Bearer ${key}` } });

describe('races', () => {
  let s;
  before(async () => { s = await startServer(); });
  after(() => s.cleanup());

  test('six parallel rolls of one key: one successor, five 409 KEY_ALREADY_ROLLED', async () => {
    const svc = await createService(s);
    const k = await createKey(s, svc.id);
    const rs = await Promise.all(Array.from({ length: 6 }, () =>
      s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 60 })));
    const codes = rs.map((r) => r.status).sort();
    assert.deepEqual(codes, [201, 409, 409, 409, 409, 409], rs.map((r) => r.text).join('\n'));
    for (const r of rs.filter((x) => x.status === 409)) assert.equal(r.json.code, 'KEY_ALREADY_ROLLED');
    const list = await s.api('GET', `/api/v1/services/${svc.id}/keys?limit=50`);
    assert.equal(list.json.items.filter((x) => x.rolledFrom === k.id).length, 1);
    // the one live successor verifies; a second roll of the old key is still refused
    const ok = rs.find((r) => r.status === 201).json;
    assert.equal((await authCheck(s, ok.key)).status, 204);
    const again = await s.api('POST', `/api/v1/keys/${k.id}/roll`, {});
    assert.equal(again.status, 409);
    assert.equal(again.json.code, 'KEY_ALREADY_ROLLED');
  });

  test('a rolled-away key cannot be revived, and an expired key cannot be rolled', async () => {
    const svc = await createService(s);
    const k = await createKey(s, svc.id);
    const r = await s.api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: 0 });
    assert.equal(r.status, 201);
    assert.equal((await authCheck(s, k.key)).headers.get('x-keyward-code'), 'EXPIRED');
    const revive = await s.api('PATCH', `/api/v1/keys/${k.id}`, { expiresAt: null });
    assert.equal(revive.status, 409, revive.text);
    assert.equal(revive.json.code, 'KEY_ROLLED');
    assert.equal((await authCheck(s, k.key)).status, 401);

    const e = await createKey(s, svc.id, { scope: 'metadata', expiresAt: new Date(Date.now() + 300).toISOString() });
    await sleep(450);
    const roll = await s.api('POST', `/api/v1/keys/${e.id}/roll`, {});
    assert.equal(roll.status, 409, roll.text);
    assert.equal(roll.json.code, 'KEY_EXPIRED');
  });

  test('the last enabled System Administrator cannot be disabled, demoted or deleted (409 LAST_SYSADMIN)', async () => {
    const t = await startServer();
    try {
      assert.equal((await t.api('POST', '/api/v1/users', { username: 'only', password: PW, role: 'sysadmin' })).status, 201);
      const me = await login(t, 'only');
      for (const [method, body] of [['PATCH', { disabled: true }], ['PATCH', { role: 'user' }], ['DELETE', undefined]]) {
        for (const r of [await t.api(method, '/api/v1/users/only', body), await as(t, me, method, '/api/v1/users/only', body)]) {
          assert.equal(r.status, 409, `${method} ${JSON.stringify(body)}: ${r.text}`);
          assert.equal(r.json.code, 'LAST_SYSADMIN');
        }
      }
      assert.equal((await as(t, me, 'GET', '/api/v1/session')).status, 200);
      assert.equal((await t.api('POST', '/api/v1/users', { username: 'second', password: PW, role: 'sysadmin' })).status, 201);
      assert.equal((await t.api('PATCH', '/api/v1/users/only', { role: 'user' })).status, 200);
      const last = await t.api('DELETE', '/api/v1/users/second');
      assert.equal(last.status, 409);
      assert.equal(last.json.code, 'LAST_SYSADMIN');
    } finally {
      await t.cleanup();
    }
  });

  test('a password change keeps the session that made it and ends the others', async () => {
    assert.equal((await s.api('POST', '/api/v1/users', { username: 'pat', password: PW, role: 'user' })).status, 201);
    const a = await login(s, 'pat');
    const b = await login(s, 'pat');
    const NEW = 'a brand new long password';
    const r = await as(s, a, 'PATCH', '/api/v1/users/pat', { password: NEW, currentPassword: PW });
    assert.equal(r.status, 200, r.text);
    assert.equal((await as(s, a, 'GET', '/api/v1/session')).status, 200);
    assert.equal((await as(s, b, 'GET', '/api/v1/session')).status, 401);
    assert.equal((await login(s, 'pat', NEW)).status, 200);
  });

  test('a login racing an admin cannot undo the admin: disable and password reset stand', async () => {
    // A slower Argon2 widens the window between the login's password check and its write; four event
    // loops make it likely that the admin's request is served beside the login, not behind it. One
    // user per round, so failed logins never reach the lockout.
    const s = await startServer({ args: ['--threads', '4', '--argon2-memory-kib', '65536'] });
    after(() => s.cleanup());
    const NEW = 'reset by the admin meanwhile';
    for (let i = 0; i < 8; i++) {
      const name = `racer${i}`;
      assert.equal((await s.api('POST', '/api/v1/users', { username: name, password: PW, role: 'user' })).status, 201);
      // the login spends tens of ms in Argon2; the admin's change lands in that window
      const lp = login(s, name);
      await sleep(2 + 2 * (i % 5));
      const d = await s.api('PATCH', `/api/v1/users/${name}`, { disabled: true });
      assert.equal(d.status, 200, d.text);
      const l = await lp;
      const users = await s.api('GET', '/api/v1/users?limit=200');
      assert.equal(users.json.items.find((u) => u.username === name).disabled, true, `round ${i}: login re-enabled the user`);
      if (l.status === 200) assert.equal((await as(s, l, 'GET', '/api/v1/session')).status, 401);
    }
    for (let i = 0; i < 8; i++) {
      const name = `resetter${i}`;
      assert.equal((await s.api('POST', '/api/v1/users', { username: name, password: PW, role: 'user' })).status, 201);
      const lp = login(s, name);
      await sleep(2 + 2 * (i % 5));
      assert.equal((await s.api('PATCH', `/api/v1/users/${name}`, { password: NEW })).status, 200);
      await lp;
      assert.equal((await login(s, name, NEW)).status, 200, `round ${i}: the reset was reverted`);
    }
  });
});
