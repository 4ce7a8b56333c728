// State that must hold across nodes (issue 7): two keyward nodes on one PostgreSQL database share the
// login throttle (a lockout on A holds on B; parallel attempts over both are counted up front) and run
// each once-per-deployment job once (the expired-session purge), recording which node ran it.
// Runs when KEYWARD_TEST_PG names a cluster (scripts/test starts one); skipped otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { api, randomToken, startServer, waitFor } from './lib/server.mjs';

const PG = process.env.KEYWARD_TEST_PG || '';
const PSQL = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';
const PW = 'correct horse battery staple';

function psql(uri, sql) {
  const r = spawnSync(PSQL, [uri, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `psql: ${r.stderr}`);
  return r.stdout.trim();
}

const login = (s, username, password) => api(s.url, 'POST', '/api/v1/session', { username, password });

describe('two nodes on one PostgreSQL', { skip: PG ? false : 'KEYWARD_TEST_PG not set' }, () => {
  let a, b, uri;
  const db = `kw_shared_${randomBytes(6).toString('hex')}`;
  before(async () => {
    psql(PG, `CREATE DATABASE ${db}`);
    const u = new URL(PG);
    u.pathname = `/${db}`;
    uri = u.toString();
    delete process.env.KEYWARD_TEST_STORE; // both nodes on this one database, whatever the harness says
    const rootToken = randomToken(48);
    a = await startServer({ rootToken, args: ['--store', uri, '--threads', '2'] });
    b = await startServer({ rootToken, args: ['--store', uri, '--threads', '2'] });
    for (const username of ['locked', 'racer', 'keeper']) {
      const r = await a.api('POST', '/api/v1/users', { username, password: PW });
      assert.equal(r.status, 201, r.text);
    }
  });
  after(async () => {
    await a?.cleanup();
    await b?.cleanup();
    psql(PG, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  });

  test('5 wrong passwords on A: B answers 429 with Retry-After for the right password', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await login(a, 'locked', 'wrong password!');
      assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
    }
    const r = await login(b, 'locked', PW);
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.code, 'LOGIN_LOCKED');
    assert.ok(Number(r.headers.get('retry-after')) > 800, r.headers.get('retry-after'));
    // and A, which counted the failures, agrees
    assert.equal((await login(a, 'locked', PW)).status, 429);
  });

  test('10 parallel wrong passwords spread over A and B: exactly 5 answer 401', async () => {
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => login(i % 2 ? b : a, 'racer', 'not the password!')));
    const counts = { 401: 0, 429: 0 };
    for (const r of rs) counts[r.status] = (counts[r.status] || 0) + 1;
    assert.deepEqual(counts, { 401: 5, 429: 5 }, JSON.stringify(rs.map((r) => r.status)));
    for (const r of rs.filter((x) => x.status === 429)) assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });

  test('an expired session row disappears once, and the jobs table says which node ran the purge', async () => {
    const live = await login(a, 'keeper', PW);
    assert.equal(live.status, 200, live.text);
    const hash = randomBytes(32).toString('hex');
    psql(uri, `INSERT INTO sessions(id_hash, username, csrf, created_at, last_seen, expires_at)
               VALUES (decode('${hash}', 'hex'), 'keeper', '', 1, ${Date.now()}, ${Date.now() - 1000})`);
    const before = Number(psql(uri, `SELECT runs FROM jobs WHERE name = 'sessions.purge'`));
    assert.ok(before >= 1, 'both nodes registered the job and one ran it at start');
    // The schedule lives in the store: make the job due now, and one of the nodes runs it within a poll.
    psql(uri, `UPDATE jobs SET next_run_at = 0 WHERE name = 'sessions.purge'`);
    const gone = await waitFor(() => psql(uri, `SELECT count(*) FROM sessions WHERE id_hash = decode('${hash}', 'hex')`) === '0', 10000, 100);
    assert.ok(gone, 'the expired session was not purged');
    const row = await waitFor(() => {
      const [runs, lastRunBy, lastOk, lastError, next] = psql(uri,
        `SELECT runs, last_run_by, last_ok_at, last_error, next_run_at FROM jobs WHERE name = 'sessions.purge'`).split('|');
      return Number(runs) === before + 1 ? { lastRunBy, lastOk: Number(lastOk), lastError, next: Number(next) } : null;
    }, 5000, 100);
    assert.ok(row, 'the run was not recorded');
    assert.match(row.lastRunBy, new RegExp(`:(${a.pid}|${b.pid})$`), row.lastRunBy);
    assert.ok(row.lastOk > Date.now() - 60000, `last_ok_at ${row.lastOk}`);
    assert.equal(row.lastError, '');
    assert.ok(row.next > Date.now() + 30000, 'next run a purge interval away');
    // The live session is untouched, and works on the other node too.
    assert.equal(psql(uri, `SELECT count(*) FROM sessions WHERE username = 'keeper'`), '1');
    const me = await api(b.url, 'GET', '/api/v1/users', undefined, { headers: { Cookie: `kw_session=${live.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1]}` } });
    assert.notEqual(me.status, 401, me.text);
    // Once: two more polls later it has not run again.
    await new Promise((r) => setTimeout(r, 2200));
    assert.equal(Number(psql(uri, `SELECT runs FROM jobs WHERE name = 'sessions.purge'`)), before + 1);
  });
});
