// The streamed exports: GET /api/v1/audit/export and GET /api/v1/services/{serviceId}/candidates/export,
// as CSV (parsed back with csv-parse, equal to the JSON lists; formula cells prefixed) and JSON Lines,
// with the lists' filters and who may. Then the streaming itself on a million seeded audit rows: every
// row arrives once and in order, a client that goes away mid-stream leaves the server serving, and a
// paused reader does not make keyward hold the body (VmRSS, printed, stays within a generous bound).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { api, createKey, createService, sleep, startServer } from './lib/server.mjs';
import { psql } from './lib/cluster.mjs';

const PW = 'correct horse battery staple';
const SEED_ROWS = Number(process.env.KW_EXPORT_ROWS || 1000000); // fewer for a quick sanitizer run
const RSS_BOUND_KIB = 64 * 1024;

// The cell keyward writes for a value: formula starters get a leading quote (csv-parse undoes the quoting).
const cell = (v) => (v === null || v === undefined ? '' : /^[=+\-@\t\r]/.test(String(v)) ? `'${v}` : String(v));

const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]);

// GET path on s as a raw node:http request (backpressure: node stops reading the socket while paused).
function stream(s, path, token = s.rootToken) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${s.url}${path}`, { headers: { Authorization: `Bearer ${token}` } }, resolve);
    req.on('error', reject);
  });
}

describe('exports', () => {
  let s, svc, other, until, viewer, keyTok;
  const listAll = async (path) => {
    const items = [];
    let cursor = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const r = await s.api('GET', `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      items.push(...r.json.items);
      cursor = r.json.nextCursor;
    } while (cursor);
    return items;
  };
  const as = (who, path) => api(s.url, 'GET', path, undefined, { headers: { Cookie: who.cookie } });

  before(async () => {
    s = await startServer({ keepDir: true });
    svc = await createService(s, { name: '=HYPERLINK("http://x")' });
    other = await createService(s, { name: 'Other' });
    keyTok = (await createKey(s, svc.id, { scope: 'metadata' })).key;
    for (const refId of ['plain-1', '@SUM.A1', '-12', 'c:2', 'c:3']) {
      const r = await s.api('POST', `/api/v1/services/${svc.id}/candidates`, { refId, identityId: refId === 'c:2' ? 'bp-2' : undefined });
      assert.equal(r.status, 201, r.text);
    }
    assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/candidates/c:2/status`, { status: 'waiting' })).status, 200);
    assert.equal((await s.api('POST', `/api/v1/services/${other.id}/candidates`, { refId: 'elsewhere' })).status, 201);
    // a formula-looking request id lands in the audit trail as is
    await s.api('POST', `/api/v1/services/${svc.id}/candidates`, { refId: 'c:4' }, { headers: { 'X-Request-Id': '-2.3' } });
    assert.equal((await s.api('POST', '/api/v1/users', { username: 'exp-view', password: PW, role: 'user' })).status, 201);
    assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/members`, { username: 'exp-view', role: 'viewer' })).status, 201);
    const r = await api(s.url, 'POST', '/api/v1/session', { username: 'exp-view', password: PW });
    viewer = { cookie: `kw_session=${r.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1]}` };
    await sleep(5);
    until = new Date().toISOString();
  });
  after(() => s.cleanup());

  test('audit: CSV parsed back equals the JSON list; JSON Lines equal it too; formula cells prefixed', async () => {
    const q = `serviceId=${svc.id}&until=${encodeURIComponent(until)}`;
    const list = await listAll(`/api/v1/audit?${q}`);
    assert.ok(list.length >= 9, `${list.length} events`);
    const csv = await s.api('GET', `/api/v1/audit/export?format=csv&${q}`);
    assert.equal(csv.status, 200, csv.text);
    assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(csv.headers.get('content-disposition'), 'attachment; filename="audit.csv"');
    assert.equal(csv.headers.get('transfer-encoding'), 'chunked');
    assert.ok(csv.text.endsWith('\r\n') && !/[^\r]\n/.test(csv.text), 'CRLF line ends');
    const rows = parse(csv.text, { columns: true });
    assert.deepEqual(Object.keys(rows[0]), ['id', 'seq', 'time', 'actorType', 'actorId', 'action', 'targetType', 'targetId',
      'serviceId', 'outcome', 'ip', 'requestId', 'detail', 'hash', 'prevHash']);
    assert.equal(rows.length, list.length);
    list.forEach((e, i) => {
      const r = rows[i];
      assert.deepEqual([r.id, r.seq, r.time, r.actorId, r.action, r.targetId, r.serviceId, r.outcome, r.ip, r.requestId, r.hash, r.prevHash],
        [e.id, String(e.seq), e.time, e.actor?.id ?? '', e.action, e.target?.id ?? '', e.serviceId ?? '', e.outcome, e.ip,
          cell(e.requestId), e.hash, e.prevHash].map((v) => (v === '' ? '' : v)), `row ${i}`);
      if (e.actor) assert.equal(r.actorType, e.actor.type);
      assert.deepEqual(r.detail === '' ? null : JSON.parse(r.detail), e.detail);
    });
    const formula = rows.find((r) => r.requestId.startsWith("'"));
    assert.equal(formula?.requestId, "'-2.3", 'the request id -2.3 comes back prefixed');

    const jsonl = await s.api('GET', `/api/v1/audit/export?format=jsonl&${q}`);
    assert.equal(jsonl.status, 200);
    assert.equal(jsonl.headers.get('content-type'), 'application/x-ndjson');
    assert.equal(jsonl.headers.get('cache-control'), 'no-store');
    assert.ok(jsonl.text.endsWith('\n'));
    assert.deepEqual(jsonl.text.trimEnd().split('\n').map((l) => JSON.parse(l)), list);
  });

  test('audit: filters as the list; 400 for an unknown format; 403 for a person without serviceId', async () => {
    const q = `action=candidate.create&serviceId=${svc.id}&until=${encodeURIComponent(until)}`;
    const list = await listAll(`/api/v1/audit?${q}`);
    assert.equal(list.length, 6);
    const rows = parse((await s.api('GET', `/api/v1/audit/export?${q}`)).text, { columns: true }); // csv by default
    assert.deepEqual(rows.map((r) => r.id), list.map((e) => e.id));
    const none = await s.api('GET', '/api/v1/audit/export?format=csv&actor=nobody-at-all');
    assert.equal(none.text, 'id,seq,time,actorType,actorId,action,targetType,targetId,serviceId,outcome,ip,requestId,detail,hash,prevHash\r\n');
    assert.equal((await s.api('GET', '/api/v1/audit/export?format=jsonl&actor=nobody-at-all')).text, '');

    const bad = await s.api('GET', '/api/v1/audit/export?format=xml');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'INVALID_QUERY');
    assert.match(bad.json.detail, /csv, jsonl/);
    assert.equal(bad.json.field, 'format');
    const forbidden = await as(viewer, '/api/v1/audit/export?format=csv');
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.code, 'FORBIDDEN');
    assert.equal((await as(viewer, `/api/v1/audit/export?format=csv&serviceId=${other.id}`)).status, 404);
    const mine = await as(viewer, `/api/v1/audit/export?format=jsonl&serviceId=${svc.id}&until=${encodeURIComponent(until)}`);
    assert.equal(mine.status, 200);
    assert.ok(mine.text.trimEnd().split('\n').every((l) => JSON.parse(l).serviceId === svc.id));
    const key = await api(s.url, 'GET', '/api/v1/audit/export', undefined, { headers: { 'X-API-Key': keyTok } });
    assert.equal(key.status, 403, key.text);
    const head = await s.api('HEAD', '/api/v1/audit/export?format=csv');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  test('candidates: metadata only, equal to the list; filters; formula refIds prefixed; who may', async () => {
    const path = `/api/v1/services/${svc.id}/candidates`;
    const list = await listAll(path);
    assert.equal(list.length, 6);
    const csv = await s.api('GET', `${path}/export?format=csv`);
    assert.equal(csv.status, 200, csv.text);
    assert.equal(csv.headers.get('content-disposition'), `attachment; filename="candidates-${svc.id}.csv"`);
    const cols = ['refId', 'recordId', 'identityId', 'status', 'isArchived', 'inreviewDate', 'waitingDate', 'approvedDate',
      'willArchiveAtDate', 'createdAt', 'updatedAt'];
    const rows = parse(csv.text, { columns: true });
    assert.deepEqual(Object.keys(rows[0]), cols);
    assert.deepEqual(rows, list.map((c) => Object.fromEntries(cols.map((k) => [k, k === 'isArchived' ? String(c[k]) : cell(c[k])]))));
    assert.deepEqual(rows.filter((r) => r.refId.startsWith("'")).map((r) => r.refId), ["'@SUM.A1", "'-12"]);
    assert.ok(!csv.text.includes('attributes') && !csv.text.includes('elsewhere'));

    const jsonl = await s.api('GET', `${path}/export?format=jsonl`);
    assert.equal(jsonl.headers.get('content-disposition'), `attachment; filename="candidates-${svc.id}.jsonl"`);
    const objs = jsonl.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(objs, list.map((c) => Object.fromEntries(cols.map((k) => [k, c[k] ?? null]))));

    const waiting = parse((await s.api('GET', `${path}/export?status=waiting`)).text, { columns: true });
    assert.deepEqual(waiting.map((r) => [r.refId, r.identityId, r.status]), [['c:2', 'bp-2', 'waiting']]);
    assert.equal((await s.api('GET', `${path}/export?format=pdf`)).status, 400);
    assert.equal((await s.api('GET', `${path}/export?status=nope`)).status, 400);
    const v = await as(viewer, `${path}/export?format=jsonl`); // a viewer: metadata is what a viewer sees
    assert.equal(v.status, 200);
    assert.equal(v.text, jsonl.text);
    assert.equal((await as(viewer, `/api/v1/services/${other.id}/candidates/export`)).status, 404);
    assert.equal((await api(s.url, 'GET', `${path}/export`)).status, 401);
  });

  test('a million audit rows: whole and in order; a client gone mid-stream; a paused reader holds no body', async () => {
    // Seed the rows into the store directly while keyward is stopped, after the events it wrote.
    await s.stop();
    const fill = (from) => `SELECT ${from} + i, 'evt_seed' || i, 1700000000000 + i, 'system', 'seed', 'seed.row', 'seed', 'x' || i, '', ` +
      `'success', '', '', '', %H, %H`;
    if (s.store === 'sqlite') {
      const db = `${s.dataDir}/keyward.db`;
      const sq = (sql) => spawnSync('sqlite3', [db, sql], { encoding: 'utf8' });
      const max = Number(sq('SELECT max(seq) FROM audit').stdout.trim());
      const sql = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${SEED_ROWS}) ` +
        `INSERT INTO audit ${fill(max).replaceAll('%H', 'randomblob(32)')} FROM n;`;
      const r = sq(sql);
      assert.equal(r.status, 0, r.stderr);
    } else {
      const max = Number(psql(s.store, 'SELECT max(seq) FROM audit'));
      const sql = `INSERT INTO audit ${fill(max).replaceAll('%H', "'\\x" + 'ab'.repeat(32) + "'::bytea")} ` +
        `FROM generate_series(1, ${SEED_ROWS}) AS i`;
      const psqlBin = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';
      const r = spawnSync(psqlBin, [s.store, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, 0, `psql: ${r.stderr} ${r.error?.message ?? ''}`);
    }
    // Under ASan (make test-asan) freed blocks wait in its quarantine (256 MiB by default) and count in VmRSS;
    // a small quarantine keeps the bound below about memory the server still holds.
    const env = process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS}:quarantine_size_mb=8` } : {};
    s = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true, env });
    const q = '/api/v1/audit/export?format=csv&action=seed.row';
    await s.api('GET', '/api/v1/audit/export?format=csv&actor=nobody'); // warm the paths up
    const base = rssKiB(s.pid);

    // A client that goes away after the first chunk.
    const gone = await stream(s, q);
    await new Promise((resolve) => gone.once('data', resolve));
    gone.destroy();
    assert.equal((await s.api('GET', '/readyz')).status, 200);

    // A paused reader: the server makes no more chunks than the socket takes.
    const res = await stream(s, q);
    assert.equal(res.statusCode, 200);
    res.pause();
    await sleep(1500);
    const paused = rssKiB(s.pid) - base;
    let rows = 0, header = null, prev = null, rest = '', peak = paused, bytes = 0, bad = null;
    await new Promise((resolve, reject) => {
      res.setEncoding('utf8');
      res.on('data', (d) => {
        bytes += d.length;
        const lines = (rest + d).split('\r\n');
        rest = lines.pop();
        for (const l of lines) {
          if (header === null) { header = l; continue; }
          const seq = Number(l.split(',')[1]);
          if (prev !== null && seq !== prev - 1 && bad === null) bad = `seq ${seq} after ${prev}`;
          prev = seq;
          rows++;
        }
        if (rows % 100000 < 200) peak = Math.max(peak, rssKiB(s.pid) - base);
      });
      res.on('end', resolve);
      res.on('error', reject);
      res.resume();
    });
    peak = Math.max(peak, rssKiB(s.pid) - base);
    console.log(`# export of ${rows} audit rows (${(bytes / 1048576).toFixed(1)} MiB): VmRSS ${base} KiB before, ` +
      `+${paused} KiB with the reader paused, +${peak} KiB at most while reading`);
    assert.equal(bad, null);
    assert.equal(rest, '');
    assert.equal(rows, SEED_ROWS);
    assert.ok(header.startsWith('id,seq,'));
    assert.ok(paused < RSS_BOUND_KIB && peak < RSS_BOUND_KIB, `VmRSS grew ${paused} / ${peak} KiB`);
    assert.equal((await s.api('GET', `/api/v1/audit/export?format=jsonl&serviceId=${svc.id}&until=${encodeURIComponent(until)}`)).status, 200);
  });
});
