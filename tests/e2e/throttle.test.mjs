// Login throttle (issue 6 item 7): parallel attempts are counted before the password is checked, and
// the per-IP limit follows X-Forwarded-For only when the peer is a --trusted-proxies address.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, createKey, createService, startServer, waitFor } from './lib/server.mjs';

const PW = 'correct horse battery staple';
const IP_LIMIT = 20;

const login = (s, username, password, headers = {}) =>
  api(s.url, 'POST', '/api/v1/session', { username, password }, { headers });

// IP_LIMIT failed logins from one client, each on its own unknown account (so no account locks first).
async function exhaustIp(s, tag, headers) {
  for (let i = 0; i < IP_LIMIT; i++) {
    const r = await login(s, `${tag}-${i}`, 'wrong password here', headers);
    assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
  }
}

async function sessionEventIps(s, actor) {
  const r = await s.api('GET', `/api/v1/audit?action=session.create&actor=${actor}`);
  assert.equal(r.status, 200, r.text);
  return r.json.items.map((e) => e.ip);
}

describe('login throttle behind a trusted proxy', () => {
  let s;
  before(async () => {
    // More event loops than cores, so parallel logins really overlap in the password check.
    s = await startServer({ args: ['--trusted-proxies', '127.0.0.1/32', '--threads', '4'] });
  });
  after(() => s.cleanup());

  test('10 parallel wrong passwords on one account: exactly 5 answer 401, the rest 429', async () => {
    assert.equal((await s.api('POST', '/api/v1/users', { username: 'racer', password: PW })).status, 201);
    const rs = await Promise.all(Array.from({ length: 10 }, () => login(s, 'racer', 'not the password!')));
    const counts = { 401: 0, 429: 0 };
    for (const r of rs) counts[r.status] = (counts[r.status] || 0) + 1;
    assert.deepEqual(counts, { 401: 5, 429: 5 }, JSON.stringify(rs.map((r) => r.status)));
    for (const r of rs.filter((x) => x.status === 429)) {
      assert.equal(r.json.code, 'LOGIN_LOCKED');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
    // Five real failures: locked for the window, even with the right password.
    const after = await login(s, 'racer', PW);
    assert.equal(after.status, 429);
    assert.ok(Number(after.headers.get('retry-after')) > 800, after.headers.get('retry-after'));
  });

  test('two X-Forwarded-For clients get separate per-IP counters; audit records the client', async () => {
    await exhaustIp(s, 'ghost-a', { 'X-Forwarded-For': '203.0.113.1' });
    const locked = await login(s, 'ghost-a-new', 'wrong password here', { 'X-Forwarded-For': '203.0.113.1' });
    assert.equal(locked.status, 429, locked.text);
    // A spoofed entry left of the proxy's own is not believed: still 203.0.113.1.
    const spoof = await login(s, 'ghost-a-new', 'x', { 'X-Forwarded-For': '198.51.100.99, 203.0.113.1' });
    assert.equal(spoof.status, 429, spoof.text);
    const other = await login(s, 'ghost-b-0', 'wrong password here', { 'X-Forwarded-For': '203.0.113.2' });
    assert.equal(other.status, 401, other.text);
    await waitFor(async () => (await sessionEventIps(s, 'ghost-b-0')).length > 0, 3000);
    assert.deepEqual(await sessionEventIps(s, 'ghost-b-0'), ['203.0.113.2']);
    assert.deepEqual(await sessionEventIps(s, 'ghost-a-0'), ['203.0.113.1']);
  });

  test('lastUsedIp of a key is the forwarded client', async () => {
    const svc = await createService(s);
    const key = await createKey(s, svc.id);
    const r = await api(s.url, 'GET', '/api/v1/auth/check', undefined, {
      headers: { Authorization: `Bearer ${key.key}`, 'X-Forwarded-For': '192.0.2.44' },
    });
    assert.equal(r.status, 204, r.text);
    let got;
    await waitFor(async () => (got = (await s.api('GET', `/api/v1/keys/${key.id}`)).json).lastUsedIp !== null, 3000);
    assert.equal(got.lastUsedIp, '192.0.2.44');
  });
});

describe('login throttle without trusted proxies', () => {
  let s;
  before(async () => { s = await startServer(); });
  after(() => s.cleanup());

  test('X-Forwarded-For is ignored: every client shares the peer address', async () => {
    await exhaustIp(s, 'ghost-c', { 'X-Forwarded-For': '203.0.113.1' });
    const other = await login(s, 'ghost-d-0', 'wrong password here', { 'X-Forwarded-For': '203.0.113.2' });
    assert.equal(other.status, 429, other.text);
    await waitFor(async () => (await sessionEventIps(s, 'ghost-c-0')).length > 0, 3000);
    assert.deepEqual(await sessionEventIps(s, 'ghost-c-0'), ['127.0.0.1']);
  });
});
