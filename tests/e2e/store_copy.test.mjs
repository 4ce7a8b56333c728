// keyward store copy: a deployment filled through the API on SQLite moves to a fresh PostgreSQL
// database and back, and answers exactly as before. Needs a cluster: KEYWARD_TEST_PG (scripts/test
// starts one); skipped without it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, createKey, createService, run, startServer, tempDir, verify } from './lib/server.mjs';

const PG = process.env.KEYWARD_TEST_PG || '';
const PSQL = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';
const PW = 'correct horse battery staple';

function psql(uri, sql) {
  const r = spawnSync(PSQL, [uri, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

// A fresh, empty database on the cluster; its URI.
function freshDb(tag) {
  const name = `kwcopy_${tag}_${createHash('sha256').update(`${process.pid}-${Date.now()}-${tag}`).digest('hex').slice(0, 12)}`;
  psql(PG, `CREATE DATABASE ${name}`);
  const u = new URL(PG);
  u.pathname = `/${name}`;
  return { uri: u.toString(), drop: () => psql(PG, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

// Rows per table (and the version counter) as psql sees them: "changes nothing" means this is equal.
function pgCounts(uri) {
  return psql(uri, 'SELECT ' + ['meta', 'services', 'keys', 'key_tombstones', 'usage', 'users', 'sessions', 'members', 'audit', 'documents', 'document_chunks', 'webhooks', 'webhook_deliveries', 'webhook_attempts']
    .map((t) => `(SELECT count(*) FROM ${t})`).join(" || ',' || ") + " || ',' || (SELECT value FROM counters)");
}

async function login(url, username) {
  const r = await api(url, 'POST', '/api/v1/session', { username, password: PW });
  if (r.status !== 200) return { status: r.status };
  return { status: 200, sid: r.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1], csrf: r.json.csrfToken };
}

async function auditList(url, token) {
  const r = await api(url, 'GET', '/api/v1/audit?limit=200', undefined, { token });
  assert.equal(r.status, 200, r.text);
  return r.json.items;
}

async function usage(url, token, serviceId) {
  const r = await api(url, 'GET', `/api/v1/services/${serviceId}/usage`, undefined, { token });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// What each key verifies as (code, valid, keyId) on a server.
async function answers(server, token, keys) {
  const out = {};
  for (const [name, k] of Object.entries(keys)) {
    const v = await verify(server, k.key, token);
    out[name] = { code: v.code, valid: v.valid, keyId: v.keyId ?? null };
  }
  return out;
}

// Fills a SQLite deployment through the API: services, keys in every state, people, usage, audit.
async function fill(s) {
  const svc = await createService(s, { name: 'Copied', description: 'moves to PostgreSQL' });
  const other = await createService(s, { name: 'Other' });
  const keys = {};
  keys.valid = await createKey(s, svc.id, { scope: 'attributes', description: 'stays valid', permissions: ['documents:read'] });
  keys.disabled = await createKey(s, svc.id, { scope: 'metadata', description: 'disabled' });
  assert.equal((await s.api('PATCH', `/api/v1/keys/${keys.disabled.id}`, { enabled: false })).status, 200);
  keys.revoked = await createKey(s, svc.id, { scope: 'metadata', description: 'revoked' });
  assert.equal((await s.api('POST', `/api/v1/keys/${keys.revoked.id}/revoke`, {})).status, 200);
  keys.rolledOld = await createKey(s, svc.id, { scope: 'metadata', description: 'rolled' });
  const rolled = await s.api('POST', `/api/v1/keys/${keys.rolledOld.id}/roll`, {});
  assert.equal(rolled.status, 201, rolled.text);
  keys.rolledNew = rolled.json;
  keys.deleted = await createKey(s, svc.id, { scope: 'metadata', description: 'deleted' });
  assert.equal((await s.api('DELETE', `/api/v1/keys/${keys.deleted.id}`)).status, 204);
  keys.otherService = await createKey(s, other.id);
  for (const [username, role] of [['sys', 'sysadmin'], ['viewer1', 'user']]) {
    assert.equal((await s.api('POST', '/api/v1/users', { username, password: PW, role })).status, 201);
  }
  assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/members`, { username: 'viewer1', role: 'viewer' })).status, 201);
  const session = await login(s.url, 'viewer1');
  assert.equal(session.status, 200);
  for (let i = 0; i < 3; i++) await verify(s, keys.valid.key);
  // Documents (one live with its content, one deleted) and a webhook with a failed delivery attempt.
  const su = await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
    { name: 'scanner', sourceSystem: 'scanner', permissions: ['documents:write', 'documents:read'] });
  assert.equal(su.status, 201, su.text);
  const docToken = (await s.api('POST', `/api/v1/service-users/${su.json.id}/tokens`, { label: 'copy' })).json.token;
  const ingest = async (bytes, ext) => {
    const fd = new FormData();
    fd.append('metadata', JSON.stringify({ source_tag: 'copy', external_id: ext, document_category: 'id', department: 'ops' }));
    fd.append('file', new Blob([bytes]), `${ext}.pdf`);
    const r = await fetch(`${s.url}/api/v1/ingest`, { method: 'POST', body: fd,
      headers: { Authorization: `Bearer ${docToken}`, 'X-Approver-Department': 'ops' } });
    const text = await r.text();
    assert.equal(r.status, 201, text);
    return JSON.parse(text);
  };
  // three chunks of 256 KiB and a partial one
  const docBytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(3 * 256 * 1024 + 1000)]);
  const doc = await ingest(docBytes, 'kept');
  const gone = await ingest(Buffer.from('%PDF-1.7\nshort'), 'gone');
  assert.equal((await s.api('DELETE', `/api/v1/documents/${gone.id}`)).status, 204);
  const hook = await s.api('POST', `/api/v1/services/${svc.id}/webhooks`, { url: 'http://127.0.0.1:9/never', events: ['key.created'] });
  assert.equal(hook.status, 201, hook.text);
  await createKey(s, other.id); // another service: no delivery
  keys.hooked = await createKey(s, svc.id, { scope: 'metadata', description: 'after the webhook' });
  let deliveries;
  for (let i = 0; i < 100; i++) {
    deliveries = (await s.api('GET', `/api/v1/webhooks/${hook.json.id}/deliveries`)).json.items;
    if (deliveries.length === 1 && deliveries[0].attempts >= 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(deliveries.length, 1);
  assert.ok(deliveries[0].attempts >= 1, JSON.stringify(deliveries));
  return { svc, keys, session, doc: { id: doc.id, bytes: docBytes, gone: gone.id, token: docToken }, hook: hook.json };
}

// What a copy must answer for the documents and the webhook made by fill().
async function sameDocsAndHooks(server, token, doc, hook, wantDeliveries) {
  const got = await fetch(`${server.url}/api/v1/documents/${doc.id}/content`, { headers: { Authorization: `Bearer ${doc.token}` } });
  assert.equal(got.status, 200, 'the document content is there');
  assert.equal(Buffer.compare(Buffer.from(await got.arrayBuffer()), doc.bytes), 0, 'byte for byte');
  const g = await api(server.url, 'GET', `/api/v1/documents/${doc.gone}`, undefined, { headers: { Authorization: `Bearer ${doc.token}` } });
  assert.equal(g.status, 404, 'the deleted document stays deleted');
  const w = await api(server.url, 'GET', `/api/v1/webhooks/${hook.id}`, undefined, { token });
  assert.equal(w.status, 200, w.text);
  assert.equal(w.json.url, hook.url);
  const d = await api(server.url, 'GET', `/api/v1/webhooks/${hook.id}/deliveries`, undefined, { token });
  assert.deepEqual(d.json.items.map((x) => [x.id, x.eventType]), wantDeliveries.map((x) => [x.id, x.eventType]));
  assert.ok(d.json.items.some((x) => x.attempts >= 1), 'the attempt log came along');
}

describe('store copy', { skip: PG ? false : 'KEYWARD_TEST_PG not set' }, () => {
  test('SQLite -> PostgreSQL -> SQLite keeps every answer, the audit chain, people and usage', async (t) => {
    const src = await startServer({ keepDir: true, args: ['--webhook-allow-private', 'true'] });
    const token = src.rootToken;
    const db = freshDb('a');
    const back = tempDir('kw-copy-back');
    const servers = [src];
    t.after(async () => {
      for (const s of servers) await s.stop({ expectClean: false });
      for (const s of servers) rmSync(s.logFile, { force: true });
      rmSync(src.dataDir, { recursive: true, force: true });
      rmSync(back, { recursive: true, force: true });
      db.drop();
    });
    const { svc, keys, session, doc, hook } = await fill(src);
    const before = await answers(src, token, keys);
    assert.deepEqual(Object.fromEntries(Object.entries(before).map(([n, a]) => [n, a.code])), {
      valid: 'VALID', disabled: 'DISABLED', revoked: 'REVOKED', rolledOld: 'EXPIRED', rolledNew: 'VALID',
      deleted: 'NOT_FOUND', otherService: 'VALID', hooked: 'VALID',
    });
    const deliveries = (await src.api('GET', `/api/v1/webhooks/${hook.id}/deliveries`)).json.items;
    await src.stop(); // a clean stop flushes usage and audit
    const masterKey = join(src.dataDir, 'master.key'); // the sealed secrets open only under it

    const copied = run(['store', 'copy', '--from', `sqlite:${src.dataDir}`, '--to', db.uri]);
    assert.equal(copied.status, 0, copied.stderr);
    assert.match(copied.stdout, /^keys +10$/m); // 8 API keys, the service user's token and its client secret row
    assert.match(copied.stdout, /^key_tombstones +1$/m);
    assert.match(copied.stdout, /^documents +2$/m);
    assert.match(copied.stdout, /^document content 1$/m);
    assert.match(copied.stdout, /^webhooks +1$/m);
    assert.match(copied.stdout, /^webhook_deliveries +1$/m);
    assert.match(copied.stdout, /^webhook_attempts +[1-9]\d*$/m);
    assert.match(copied.stdout, /^services +2$/m);
    assert.match(copied.stdout, /^users +2$/m);
    assert.match(copied.stdout, /^members +1$/m);
    assert.match(copied.stdout, /^sessions +1$/m);
    assert.match(copied.stdout, /audit chain intact: \d+ events/);
    const verified = run(['audit', 'verify', '--store', db.uri]);
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /audit chain intact/);

    // The source, started again, and the copy answer the same before anything else happens on them.
    const again = await startServer({ dataDir: src.dataDir, rootToken: null, keepDir: true });
    servers.push(again);
    const pg = await startServer({ rootToken: null, args: ['--store', db.uri, '--master-key-file', masterKey] });
    servers.push(pg);
    await sameDocsAndHooks(pg, token, doc, hook, deliveries);
    const wantAudit = await auditList(again.url, token);
    assert.ok(wantAudit.length >= 10);
    assert.deepEqual(await auditList(pg.url, token), wantAudit, 'the same audit list');
    const wantUsage = await usage(again.url, token, svc.id);
    assert.deepEqual(await usage(pg.url, token, svc.id), wantUsage, 'the same usage');
    assert.ok(JSON.stringify(wantUsage).includes(keys.valid.id), 'usage of the verified key is there');
    assert.deepEqual(await answers(pg, token, keys), before, 'every key answers as before (root token hash copied)');
    const me = await api(pg.url, 'GET', '/api/v1/session', undefined, { headers: { Cookie: `kw_session=${session.sid}` } });
    assert.equal(me.status, 200, 'a session made on SQLite holds on PostgreSQL');
    assert.equal((await login(pg.url, 'viewer1')).status, 200, 'login with the same password');
    assert.equal((await login(pg.url, 'sys')).status, 200);
    // A new key on the copy gets a fresh seq (the identity sequence follows the copied ones).
    const made = await api(pg.url, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' }, { token });
    assert.equal(made.status, 201, made.text);
    const fresh = made.json;
    assert.equal((await verify(pg, fresh.key, token)).code, 'VALID');
    const pgDeliveries = (await api(pg.url, 'GET', `/api/v1/webhooks/${hook.id}/deliveries`, undefined, { token })).json.items; // + fresh's
    assert.equal(pgDeliveries.length, 2);
    await pg.stop();
    await again.stop();

    // A second copy into the now non-empty target is refused and changes nothing.
    const countsBefore = pgCounts(db.uri);
    const refused = run(['store', 'copy', '--from', `sqlite:${src.dataDir}`, '--to', db.uri]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /not empty.*nothing was written/);
    assert.equal(pgCounts(db.uri), countsBefore);

    // And back to an empty SQLite data directory.
    const home = run(['store', 'copy', '--from', db.uri, '--to', `sqlite:${back}`]);
    assert.equal(home.status, 0, home.stderr);
    assert.match(home.stdout, /^keys +11$/m);
    assert.match(home.stdout, /^document content 1$/m);
    copyFileSync(masterKey, join(back, 'master.key'));
    const sq = await startServer({ dataDir: back, rootToken: null, keepDir: true });
    servers.push(sq);
    await sameDocsAndHooks(sq, token, doc, hook, pgDeliveries);
    const after = await answers(sq, token, { ...keys, fresh });
    assert.deepEqual(after, { ...before, fresh: { code: 'VALID', valid: true, keyId: fresh.id } });
    assert.equal((await login(sq.url, 'viewer1')).status, 200);
    await sq.stop();
    const v2 = run(['audit', 'verify', '--data-dir', back]);
    assert.equal(v2.status, 0, v2.stdout + v2.stderr);
  });

  test('refusals: a password on argv, a missing source, an unknown scheme', async () => {
    const r1 = run(['store', 'copy', '--from', 'sqlite:/nonexistent/kw', '--to', 'postgresql://u:secret@127.0.0.1:1/x']);
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /--to: .*no password on the command line/);
    assert.ok(!r1.stderr.includes('secret'));
    const r2 = run(['store', 'copy', '--from', 'sqlite:/nonexistent/kw', '--to', PG]);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /--from: no keyward database in \/nonexistent\/kw/);
    assert.equal(run(['store', 'copy', '--from', 'mysql://x', '--to', PG]).status, 2);
    assert.equal(run(['store', 'copy', '--to', PG]).status, 2);
    const help = run(['store', 'copy', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: keyward store copy/);
  });
});
