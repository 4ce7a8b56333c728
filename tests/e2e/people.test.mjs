// People: login sessions (cookie flags, fixation, CSRF, lockout), password change, and the role matrix.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, createKey, createService, startServer, verify } from './lib/server.mjs';

const PW = 'correct horse battery staple';

async function login(s, username, password = PW, headers = {}) {
  const r = await api(s.url, 'POST', '/api/v1/session', { username, password }, { headers });
  if (r.status !== 200) return { status: r.status, r };
  const cookie = r.headers.get('set-cookie');
  const sid = cookie.match(/kw_session=([^;]+)/)[1];
  return { status: 200, r, sid, cookie, csrf: r.json.csrfToken, user: r.json.user };
}

// A request as a logged-in person: cookie, plus the CSRF token unless told otherwise.
function as(s, sess, method, path, body, { csrf = true } = {}) {
  const headers = { Cookie: `kw_session=${sess.sid}` };
  if (csrf) headers['X-CSRF-Token'] = sess.csrf;
  return api(s.url, method, path, body, { headers });
}

describe('people', () => {
  let s;
  before(async () => {
    s = await startServer();
    for (const [username, role] of [['sys', 'sysadmin'], ['adm', 'user'], ['oper', 'user'], ['view', 'user'], ['out', 'user']]) {
      const r = await s.api('POST', '/api/v1/users', { username, password: PW, role });
      assert.equal(r.status, 201, r.text);
    }
  });
  after(() => s.cleanup());

  test('login sets a hardened cookie and answers who I am; the password hash never leaves', async () => {
    const a = await login(s, 'sys');
    assert.equal(a.status, 200);
    assert.match(a.cookie, /HttpOnly/);
    assert.match(a.cookie, /SameSite=Strict/);
    assert.match(a.cookie, /Path=\//);
    assert.deepEqual(a.user, { username: 'sys', role: 'sysadmin', memberships: [] });
    const me = await as(s, a, 'GET', '/api/v1/session');
    assert.equal(me.status, 200);
    assert.equal(me.json.csrfToken, a.csrf);
    const users = await as(s, a, 'GET', '/api/v1/users');
    assert.ok(users.json.items.length >= 5);
    assert.ok(!users.text.includes('argon2'));
  });

  test('a new session id at every login; a planted cookie is not adopted (fixation)', async () => {
    const planted = 'kws_' + 'A'.repeat(49);
    const a = await login(s, 'view', PW, { Cookie: `kw_session=${planted}` });
    const b = await login(s, 'view');
    assert.notEqual(a.sid, planted);
    assert.notEqual(a.sid, b.sid);
    assert.equal((await as(s, { sid: planted, csrf: '' }, 'GET', '/api/v1/session')).status, 401);
  });

  test('wrong password and unknown user answer the same 401; the attempt is audited', async () => {
    const a = await login(s, 'oper', 'wrong password here');
    const b = await login(s, 'nobody-here', 'wrong password here');
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    assert.equal(a.r.json.code, 'INVALID_CREDENTIALS');
    assert.equal(a.r.json.detail, b.r.json.detail);
    await new Promise((r) => setTimeout(r, 1100));
    const ev = await s.api('GET', '/api/v1/audit?action=session.create&actor=oper');
    assert.ok(ev.json.items.some((e) => e.outcome === 'denied'));
  });

  test('unsafe requests with the cookie need the CSRF token', async () => {
    const a = await login(s, 'sys');
    let r = await as(s, a, 'POST', '/api/v1/services', { name: 'csrf' }, { csrf: false });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'CSRF_FAILED');
    r = await api(s.url, 'POST', '/api/v1/services', { name: 'csrf' }, { headers: { Cookie: `kw_session=${a.sid}`, 'X-CSRF-Token': 'x'.repeat(49) } });
    assert.equal(r.json.code, 'CSRF_FAILED');
    r = await as(s, a, 'POST', '/api/v1/services', { name: 'csrf ok' });
    assert.equal(r.status, 201);
    assert.equal((await as(s, a, 'GET', '/api/v1/services', undefined, { csrf: false })).status, 200);
  });

  test('logout ends the session', async () => {
    const a = await login(s, 'oper');
    const r = await as(s, a, 'DELETE', '/api/v1/session');
    assert.equal(r.status, 204);
    assert.match(r.headers.get('set-cookie'), /Max-Age=0/);
    assert.equal((await as(s, a, 'GET', '/api/v1/session')).status, 401);
  });

  test('lockout after 5 failures for one account, with Retry-After; other accounts unaffected', async () => {
    await s.api('POST', '/api/v1/users', { username: 'victim', password: PW });
    for (let i = 0; i < 5; i++) assert.equal((await login(s, 'victim', 'not the password!')).status, 401);
    const locked = await login(s, 'victim');
    assert.equal(locked.status, 429);
    assert.equal(locked.r.json.code, 'LOGIN_LOCKED');
    assert.ok(Number(locked.r.headers.get('retry-after')) > 0);
    assert.equal(locked.r.json.title, 'Too Many Requests');
    assert.equal((await login(s, 'adm')).status, 200);
  });

  test('password change proves the old one; disabling ends sessions', async () => {
    await s.api('POST', '/api/v1/users', { username: 'carol', password: PW });
    const a = await login(s, 'carol');
    let r = await as(s, a, 'PATCH', '/api/v1/users/carol', { currentPassword: 'not it at all', password: 'a brand new passphrase' });
    assert.equal(r.status, 403);
    r = await as(s, a, 'PATCH', '/api/v1/users/carol', { role: 'sysadmin', currentPassword: PW });
    assert.equal(r.status, 403);
    r = await as(s, a, 'PATCH', '/api/v1/users/sys', { currentPassword: PW, password: 'a brand new passphrase' });
    assert.equal(r.status, 403);
    r = await as(s, a, 'PATCH', '/api/v1/users/carol', { currentPassword: PW, password: 'a brand new passphrase' });
    assert.equal(r.status, 200);
    // A sysadmin changing their own password proves the current one too.
    const sys = await login(s, 'sys');
    r = await as(s, sys, 'PATCH', '/api/v1/users/sys', { currentPassword: 'not it at all', password: 'another new passphrase' });
    assert.equal(r.status, 403);
    assert.equal(r.json.field, 'currentPassword');
    assert.equal((await login(s, 'carol')).status, 401);
    const b = await login(s, 'carol', 'a brand new passphrase');
    assert.equal(b.status, 200);
    assert.equal((await s.api('PATCH', '/api/v1/users/carol', { disabled: true })).status, 200);
    assert.equal((await as(s, b, 'GET', '/api/v1/session')).status, 401);
    assert.equal((await login(s, 'carol', 'a brand new passphrase')).status, 401);
  });

  test('user input is checked', async () => {
    for (const [body, field] of [[{ username: 'A', password: PW }, 'username'], [{ username: 'okname', password: 'short' }, 'password'],
      [{ username: 'okname2', password: PW, role: 'god' }, 'role']]) {
      const r = await s.api('POST', '/api/v1/users', body);
      assert.equal(r.status, 400);
      assert.equal(r.json.field, field);
    }
    const dup = await s.api('POST', '/api/v1/users', { username: 'sys', password: PW });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.code, 'USER_EXISTS');
  });

  test('a missing service is 404 NOT_FOUND on .../members (POST and GET) and .../usage, like .../keys', async () => {
    const ghost = 'svc_0000000000000000';
    const cases = [
      ['POST', `/api/v1/services/${ghost}/members`, { username: 'view', role: 'viewer' }],
      ['GET', `/api/v1/services/${ghost}/members`],
      ['GET', `/api/v1/services/${ghost}/usage`],
      ['GET', `/api/v1/services/${ghost}/keys`],
    ];
    const got = [];
    for (const [m, p, b] of cases) {
      const r = await s.api(m, p, b);
      got.push(`${m} ${p.replace(ghost, '{ghost}')}: ${r.status} ${r.json?.code}${r.text.includes('%') ? ' (echoes)' : ''}`);
    }
    assert.deepEqual(got, cases.map(([m, p]) => `${m} ${p.replace(ghost, '{ghost}')}: 404 NOT_FOUND`));
  });

  test('adding an unknown user as a member is 404 naming the field username', async () => {
    const svc = await createService(s, { name: 'Membership' });
    const r = await s.api('POST', `/api/v1/services/${svc.id}/members`, { username: 'nobody-here', role: 'viewer' });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.code, 'NOT_FOUND');
    assert.equal(r.json.field, 'username');
    assert.deepEqual((await s.api('GET', `/api/v1/services/${svc.id}/members`)).json.items, [], 'nothing was added');
  });

  test('usage keeps naming a key after it is deleted (start and description)', async () => {
    const svc = await createService(s, { name: 'Usage after delete' });
    const k = await createKey(s, svc.id, { scope: 'metadata', description: 'batch importer' });
    const live = await createKey(s, svc.id, { scope: 'metadata', description: 'still here' });
    await verify(s, k.key);
    await verify(s, live.key);
    const seen = async () => {
      const u = await s.api('GET', `/api/v1/services/${svc.id}/usage?hours=1`);
      return u.json.keys.length === 2 ? u : null;
    };
    let u = null;
    for (let i = 0; i < 40 && !(u = await seen()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(u, 'both keys appear in usage once written behind');
    assert.equal((await s.api('DELETE', `/api/v1/keys/${k.id}`)).status, 204);
    u = await s.api('GET', `/api/v1/services/${svc.id}/usage?hours=1`);
    assert.equal(u.status, 200);
    const gone = u.json.keys.find((x) => x.keyId === k.id);
    assert.ok(gone, 'the deleted key keeps its usage');
    assert.equal(gone.start, k.start);
    assert.equal(gone.description, 'batch importer');
    assert.equal(gone.valid, 1);
    const here = u.json.keys.find((x) => x.keyId === live.id);
    assert.equal(here.start, live.start);
    assert.equal(here.description, 'still here');
  });

  describe('role matrix', () => {
    let svc, other, key, sess = {};
    before(async () => {
      svc = await createService(s, { name: 'Matrix' });
      other = await createService(s, { name: 'Elsewhere' });
      key = await createKey(s, svc.id);
      for (const [u, role] of [['adm', 'admin'], ['oper', 'operator'], ['view', 'viewer']]) {
        assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/members`, { username: u, role })).status, 201);
      }
      for (const u of ['sys', 'adm', 'oper', 'view', 'out']) sess[u] = await login(s, u);
      await verify(s, key.key);
    });

    const who = ['sys', 'adm', 'oper', 'view', 'out'];
    const ok = (status) => status >= 200 && status < 300;
    // Root's view of what a write may touch, read back after every attempt: a refused write must leave
    // it exactly as it was, an allowed one must show its effect. lastUsedAt/lastUsedIp are left out of
    // a key's state: the writer thread sets them from the verification in before(), not an admin write.
    const root = async (path) => {
      const r = await s.api('GET', path);
      return { status: r.status, json: r.json };
    };
    const rootKey = async () => {
      const { status, json } = await root(`/api/v1/keys/${key.id}`);
      const { lastUsedAt, lastUsedIp, ...rest } = json || {};
      return { status, key: rest };
    };
    const serviceNames = async () => (await root('/api/v1/services?limit=200')).json.items.map((i) => i.name).sort();
    const keyDescriptions = async () => (await root(`/api/v1/services/${svc.id}/keys?limit=200`)).json.items.map((k) => k.description).sort();
    const memberRole = async (u) => (await root(`/api/v1/services/${svc.id}/members`)).json.items.find((m) => m.username === u)?.role;

    // [name, request for user u (given the state before), expected statuses, state(), effect(before, after, response, u)]
    const writes = [
      ['create service', (u) => ['POST', '/api/v1/services', { name: `made by ${u}` }], [201, 403, 403, 403, 403],
        serviceNames, (b, a, r, u) => {
          assert.deepEqual(a, [...b, `made by ${u}`].sort());
          assert.equal(r.json.name, `made by ${u}`);
        }],
      ['create key', (u) => ['POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', description: `made by ${u}` }], [201, 403, 403, 403, 403],
        keyDescriptions, async (b, a, r, u) => {
          assert.deepEqual(a, [...b, `made by ${u}`].sort());
          assert.equal((await verify(s, r.json.key)).valid, true);
        }],
      ['edit key', (u) => ['PATCH', `/api/v1/keys/${key.id}`, { description: `touched by ${u}` }], [200, 403, 403, 403, 403],
        rootKey, (b, a, r, u) => {
          assert.equal(a.key.description, `touched by ${u}`);
          assert.equal(r.json.description, `touched by ${u}`);
          const { description: _d, updatedAt: _u, ...same } = a.key;
          const { description: _bd, updatedAt: _bu, ...was } = b.key;
          assert.deepEqual(same, was);
        }],
      // Flips view's role each time, so an allowed change is visible; view is a viewer again at the end.
      ['change member', (u, role) => ['PATCH', `/api/v1/services/${svc.id}/members/view`, { role: role === 'viewer' ? 'operator' : 'viewer' }],
        [200, 200, 403, 403, 404], () => memberRole('view'), (b, a, r) => {
          assert.equal(a, b === 'viewer' ? 'operator' : 'viewer');
          assert.equal(r.json.role, a);
        }],
      ['delete service', () => ['DELETE', `/api/v1/services/${other.id}`], [204, 403, 403, 403, 403],
        async () => root(`/api/v1/services/${other.id}`), (b, a) => {
          assert.equal(b.status, 200);
          assert.equal(a.status, 404);
        }],
    ];
    for (const [name, req, expected, state, effect] of writes) {
      test(`${name}: refused writes change nothing, allowed ones take effect`, async () => {
        const got = [];
        for (const u of who) {
          const before = await state();
          const [m, p, b] = req(u, before);
          const r = await as(s, sess[u], m, p, b);
          got.push(r.status);
          const after = await state();
          if (ok(r.status)) await effect(before, after, r, u);
          else assert.deepEqual(after, before, `${name} refused to ${u} (${r.status}) changed what root reads back`);
          if (name === 'delete service' && ok(r.status)) other = await createService(s, { name: 'Elsewhere' });
        }
        assert.deepEqual(got, expected);
      });
    }
    after(async () => {
      assert.equal((await s.api('PATCH', `/api/v1/services/${svc.id}/members/view`, { role: 'viewer' })).status, 200);
    });

    const reads = [
      ['read service', () => ['GET', `/api/v1/services/${svc.id}`], [200, 200, 200, 200, 404]],
      ['list keys', () => ['GET', `/api/v1/services/${svc.id}/keys`], [200, 200, 200, 200, 404]],
      ['read key', () => ['GET', `/api/v1/keys/${key.id}`], [200, 200, 200, 200, 404]],
      ['usage', () => ['GET', `/api/v1/services/${svc.id}/usage`], [200, 200, 200, 200, 404]],
      ['service audit', () => ['GET', `/api/v1/audit?serviceId=${svc.id}`], [200, 200, 200, 200, 404]],
      ['whole audit', () => ['GET', '/api/v1/audit'], [200, 403, 403, 403, 403]],
      ['list members', () => ['GET', `/api/v1/services/${svc.id}/members`], [200, 200, 200, 200, 404]],
      ['list users', () => ['GET', '/api/v1/users'], [200, 403, 403, 403, 403]],
    ];
    for (const [name, req, expected] of reads) {
      test(name, async () => {
        const got = [];
        for (const u of who) {
          const [m, p, b] = req();
          got.push((await as(s, sess[u], m, p, b)).status);
        }
        assert.deepEqual(got, expected);
      });
    }

    test('a member sees only their services; an API key cannot use the admin API', async () => {
      const list = await as(s, sess.view, 'GET', '/api/v1/services');
      assert.deepEqual(list.json.items.map((i) => i.id), [svc.id]);
      assert.deepEqual(sess.view.user.memberships, [{ serviceId: svc.id, role: 'viewer' }]);
      const r = await api(s.url, 'GET', '/api/v1/services', undefined, { token: key.key });
      assert.equal(r.status, 403);
      assert.equal(r.json.code, 'FORBIDDEN');
    });

    test('usage counts the verification per key per hour', async () => {
      await new Promise((r) => setTimeout(r, 1100));
      const u = await as(s, sess.view, 'GET', `/api/v1/services/${svc.id}/usage?hours=24`);
      assert.equal(u.status, 200);
      assert.equal(u.json.bucketSeconds, 3600);
      assert.ok(u.json.totals.valid >= 1);
      const k = u.json.keys.find((x) => x.keyId === key.id);
      assert.equal(k.points.length, 24);
      assert.equal(k.start, key.start);
      assert.ok(k.points.at(-1).valid >= 1);
      assert.equal((await as(s, sess.view, 'GET', `/api/v1/services/${svc.id}/usage?hours=0`)).status, 400);
    });
  });
});
