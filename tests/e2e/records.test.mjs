// Identity records (candidates) over HTTP: an operator creates, changes, pictures and moves candidates;
// integrators extract them by scope (each scope's key set exactly), archive them in bulk, and keys with
// archiveAfterExtractSeconds schedule an auto-archive that happens after its time, across a restart and
// a kill -9. Archiving leaves nothing: the data key's bytes (read from the database before) are not in
// the SQLite db/-wal files (secure_delete) or in pg_dump afterwards. Bad input is a clear 4xx.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { TIME_RE, api, createKey, createService, startServer, waitFor } from './lib/server.mjs';
import { psql } from './lib/cluster.mjs';
import { assertContract } from './lib/openapi.mjs';

const META = ['approvedDate', 'blockPassID', 'identityId', 'inreviewDate', 'isArchived', 'recordId', 'refId', 'status',
  'waitingDate'];
const keysOf = (o) => Object.keys(o).sort();
const PW = 'correct horse battery staple';
const PNG = Buffer.from('89504e470d0a1a0a' + 'deadbeefcafe0102030405'.repeat(20), 'hex');

describe('identity records', () => {
  let s, svc, other, keyMeta, keyAttr, keyPics, keyArch;
  const op = (method, path, body, opts) => s.api(method, `/api/v1/services/${svc.id}/candidates${path}`, body, opts);
  const as = (key, method, path, body) => api(s.url, method, path, body, { headers: { 'X-API-Key': key } });
  const create = (refId, extra = {}) => op('POST', '', { refId, attributes: { given_name: `Ada-${refId}`, age: 36 }, ...extra });
  const move = (refId, status, comment) => op('POST', `/${refId}/status`, comment ? { status, comment } : { status });

  before(async () => {
    s = await startServer({ keepDir: true });
    svc = await createService(s, { name: 'KYC' });
    other = await createService(s, { name: 'Other' });
    keyMeta = (await createKey(s, svc.id, { scope: 'metadata' })).key;
    keyAttr = (await createKey(s, svc.id, { scope: 'attributes' })).key;
    keyPics = (await createKey(s, svc.id, { scope: 'attributes_pictures' })).key;
    keyArch = (await createKey(s, svc.id, { scope: 'metadata', permissions: ['candidates:archive'] })).key;
  });
  after(() => s.cleanup());

  test('operator: create, picture, move through the life cycle; history and dates', async () => {
    const r = await create('cand-1', { identityId: 'bp-1', certificates: [{ type: 'kyc', level: 2 }] });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.status, 'incomplete');
    assert.equal(r.json.blockPassID, 'bp-1');
    assert.deepEqual(r.json.attributes, { given_name: 'Ada-cand-1', age: 36 });
    assert.match(r.json.recordId, /^rec_[0-9A-Za-z]{16}$/);
    assert.equal(r.headers.get('location'), `/api/v1/services/${svc.id}/candidates/cand-1`);
    assert.equal((await create('cand-1')).json.code, 'REF_ID_TAKEN');
    assert.equal((await s.api('POST', `/api/v1/services/${other.id}/candidates`, { refId: 'cand-1' })).status, 201);

    const pic = await op('PUT', '/cand-1/pictures/selfie', PNG, { contentType: 'image/png' });
    assert.equal(pic.status, 204, pic.text);
    for (const st of ['waiting', 'inreview', 'approved']) assert.equal((await move('cand-1', st, `to ${st}`)).status, 200);
    const got = (await op('GET', '/cand-1')).json;
    assert.equal(got.status, 'approved');
    for (const d of ['waitingDate', 'inreviewDate', 'approvedDate', 'createdAt', 'updatedAt']) assert.match(got[d], TIME_RE);
    assert.deepEqual(got.pictures, [{ name: 'selfie', mediaType: 'image/png', size: PNG.length }]);
    assert.deepEqual(got.history.map((h) => [h.from, h.to]),
      [[null, 'incomplete'], ['incomplete', 'waiting'], ['waiting', 'inreview'], ['inreview', 'approved']]);
    assert.equal(got.history[3].comment, 'to approved');
    assert.deepEqual(got.history[3].actor, { type: 'root', id: 'root' });

    const bad = await move('cand-1', 'blocked');
    assert.equal(bad.status, 409);
    assert.equal(bad.json.code, 'INVALID_STATUS_TRANSITION');
    assert.match(bad.json.detail, /approved.*blocked/);
    assert.equal((await move('cand-1', 'inreview')).status, 200); /* re-review */
    assert.equal((await move('cand-1', 'blocked')).status, 200);
    assert.equal((await move('cand-1', 'waiting')).json.code, 'INVALID_STATUS_TRANSITION'); /* final */

    const p = await op('PATCH', '/cand-1', { attributes: { given_name: 'Grace' }, identityId: null });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json.attributes, { given_name: 'Grace' });
    assert.equal(p.json.identityId, null);
  });

  test('integrator: each scope returns exactly its fields', async () => {
    assert.equal((await create('cand-2')).status, 201);
    await op('PUT', '/cand-2/pictures/document_front', PNG, { contentType: 'image/jpeg' });
    const m = await as(keyMeta, 'GET', '/api/v1/candidates/cand-2');
    assert.equal(m.status, 200, m.text);
    assert.deepEqual(keysOf(m.json), META);
    const a = await as(keyAttr, 'GET', '/api/v1/candidates/cand-2');
    assert.deepEqual(keysOf(a.json), [...META, 'attributes'].sort());
    assert.deepEqual(a.json.attributes, { given_name: 'Ada-cand-2', age: 36 });
    const ap = await as(keyPics, 'GET', '/api/v1/candidates/cand-2');
    assert.deepEqual(keysOf(ap.json), [...META, 'attributes', 'pictures'].sort());
    assert.deepEqual(Object.keys(ap.json.pictures), ['document_front']);
    assert.equal(ap.json.pictures.document_front.mediaType, 'image/jpeg');
    assert.deepEqual(Buffer.from(ap.json.pictures.document_front.data, 'base64'), PNG);

    const list = await as(keyAttr, 'GET', '/api/v1/candidates?limit=200');
    assert.equal(list.status, 200);
    assert.ok(list.json.items.every((i) => i.refId !== 'cand-1' || i.attributes.given_name === 'Grace'));
    assert.ok(list.json.items.every((i) => keysOf(i).join() === [...META, 'attributes'].sort().join()));
    const waiting = await as(keyMeta, 'GET', '/api/v1/candidates?status=blocked');
    assert.deepEqual(waiting.json.items.map((i) => i.refId), ['cand-1']);
    /* another service's candidates are not visible */
    assert.equal((await as(keyMeta, 'GET', '/api/v1/candidates/nobody')).status, 404);
    /* operators use their own API; integrator credentials not the operator one */
    assert.equal((await s.api('GET', '/api/v1/candidates')).status, 403);
    assert.equal((await as(keyPics, 'GET', `/api/v1/services/${svc.id}/candidates`)).status, 403);
  });

  test('bulk archive: results per refId, archived -> metadata only, the data key gone from the files', async () => {
    assert.equal((await create('cand-3')).status, 201);
    await op('PUT', '/cand-3/pictures/selfie', PNG, { contentType: 'image/webp' });
    const rid = (await op('GET', '/cand-3')).json.recordId;
    const dek = sealedDek(s, rid);
    assert.ok(dek.length > 100, 'the sealed data key was read from the database');
    assert.ok(storeContains(s, dek), 'the data key is in the store before the archive');
    if (s.store === 'sqlite') /* encrypted at rest: the attributes and picture never in the files */
      for (const plain of [Buffer.from('Ada-cand-3'), PNG.subarray(8, 40)]) assert.ok(!storeContains(s, plain));

    assert.equal((await as(keyMeta, 'POST', '/api/v1/candidates/archive', { refIds: ['cand-3'] })).status, 403);
    const r = await as(keyArch, 'POST', '/api/v1/candidates/archive', { refIds: ['cand-3', 'cand-3', 'ghost'] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.results, [{ refId: 'cand-3', result: 'archived' }, { refId: 'cand-3', result: 'already_archived' },
      { refId: 'ghost', result: 'not_found' }]);
    const x = await as(keyPics, 'GET', '/api/v1/candidates/cand-3');
    assert.deepEqual(keysOf(x.json), META);
    assert.equal(x.json.isArchived, true);
    const o = (await op('GET', '/cand-3')).json;
    assert.equal(o.attributes, undefined);
    assert.deepEqual(o.pictures, [{ name: 'selfie', mediaType: 'image/webp', size: PNG.length }]);
    assert.equal(o.history.at(-1).to, 'archived');
    assert.equal((await op('PATCH', '/cand-3', { attributes: {} })).json.code, 'RECORD_ARCHIVED');
    assert.equal(sealedDek(s, rid).length, 0);
    assert.ok(!storeContains(s, dek), 'no trace of the data key after the archive');
  });

  test('operator: a picture read back by operators only; one candidate archived by a person', async () => {
    for (const [username, role] of [['rec-oper', 'operator'], ['rec-view', 'viewer']]) {
      assert.equal((await s.api('POST', '/api/v1/users', { username, password: PW, role: 'user' })).status, 201);
      assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/members`, { username, role })).status, 201);
    }
    const login = async (username) => {
      const r = await api(s.url, 'POST', '/api/v1/session', { username, password: PW });
      assert.equal(r.status, 200, r.text);
      return { cookie: `kw_session=${r.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1]}`, csrf: r.json.csrfToken };
    };
    const oper = await login('rec-oper'), view = await login('rec-view');
    const person = (who, method, path, body) => api(s.url, method, `/api/v1/services/${svc.id}/candidates${path}`, body,
      { headers: { Cookie: who.cookie, 'X-CSRF-Token': who.csrf } });
    /* the bytes, read raw (the harness's api() reads text) and held to the contract by hand */
    const picture = async (headers, path) => {
      const r = await fetch(`${s.url}/api/v1/services/${svc.id}/candidates${path}`, { headers });
      const bytes = Buffer.from(await r.arrayBuffer());
      assertContract({ method: 'GET', path: new URL(r.url).pathname, status: r.status, headers: r.headers, text: bytes.toString('latin1') });
      return { status: r.status, headers: r.headers, bytes, json: /json/.test(r.headers.get('content-type')) ? JSON.parse(bytes) : null };
    };

    assert.equal((await create('cand-4')).status, 201);
    assert.equal((await op('PUT', '/cand-4/pictures/selfie', PNG, { contentType: 'image/png' })).status, 204);
    assert.equal((await op('PUT', '/cand-4/pictures/proof_of_address', Buffer.from('%PDF-1.4 x'), { contentType: 'application/pdf' })).status, 204);
    const got = await picture({ Cookie: oper.cookie }, '/cand-4/pictures/selfie');
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(got.headers.get('cache-control'), 'no-store');
    assert.deepEqual(got.bytes, PNG);
    const pdf = await picture({ Authorization: `Bearer ${s.rootToken}` }, '/cand-4/pictures/proof_of_address');
    assert.equal(pdf.status, 200);
    assert.equal(pdf.headers.get('content-type'), 'application/pdf');
    assert.equal(pdf.bytes.toString(), '%PDF-1.4 x');
    const refused = await picture({ Cookie: view.cookie }, '/cand-4/pictures/selfie');
    assert.equal(refused.status, 403);
    assert.equal(refused.json.code, 'FORBIDDEN');
    for (const [path, status, code] of [['/cand-4/pictures/document_back', 404, 'NOT_FOUND'], ['/ghost/pictures/selfie', 404, 'NOT_FOUND'],
      ['/cand-4/pictures/passport', 400, 'INVALID_PICTURE_NAME']]) {
      const r = await picture({ Cookie: oper.cookie }, path);
      assert.equal(r.status, status, path);
      assert.equal(r.json.code, code, path);
    }
    await waitFor(async () => (await s.api('GET', '/api/v1/audit?action=candidate.picture.read&limit=200')).json.items
      .some((e) => JSON.stringify(e).includes('rec-oper')), 5000, 100);

    const rid = (await op('GET', '/cand-4')).json.recordId;
    const dek = sealedDek(s, rid);
    assert.ok(dek.length > 100);
    const viewerArchive = await person(view, 'POST', '/cand-4/archive');
    assert.equal(viewerArchive.status, 403);
    assert.equal(viewerArchive.json.code, 'FORBIDDEN');
    assert.equal((await person(oper, 'POST', '/cand-4/archive', { reason: 'x' })).json.code, 'UNKNOWN_FIELD');
    assert.equal((await op('GET', '/cand-4')).json.isArchived, false, 'refusals leave it alone');
    const a = await person(oper, 'POST', '/cand-4/archive');
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.isArchived, true);
    assert.equal(a.json.attributes, undefined);
    assert.deepEqual(a.json.pictures.map((p) => p.name), ['proof_of_address', 'selfie']);
    assert.equal(a.json.history.at(-1).to, 'archived');
    assert.deepEqual(a.json.history.at(-1).actor, { type: 'user', id: 'rec-oper' });
    assert.equal(sealedDek(s, rid).length, 0);
    assert.ok(!storeContains(s, dek), 'no trace of the data key after the archive');
    assert.equal((await as(keyPics, 'GET', '/api/v1/candidates/cand-4')).json.pictures, undefined);
    assert.equal((await picture({ Cookie: oper.cookie }, '/cand-4/pictures/selfie')).status, 404, 'the bytes are gone');
    const again = await person(oper, 'POST', '/cand-4/archive', {});
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.history.length, a.json.history.length, 'already archived: unchanged');
    assert.equal((await person(oper, 'POST', '/ghost/archive')).status, 404);
    const ev = await s.api('GET', '/api/v1/audit?action=candidate.archive&limit=200');
    assert.ok(ev.json.items.some((e) => JSON.stringify(e).includes('rec-oper') && e.outcome === 'success'), JSON.stringify(ev.json.items));
  });

  test('bad input: each a clear 4xx', async () => {
    const cases = [
      [await as(keyArch, 'POST', '/api/v1/candidates/archive', { refIds: [] }), 400, 'INVALID_FIELD', /1000/],
      [await as(keyArch, 'POST', '/api/v1/candidates/archive', { refIds: Array.from({ length: 1001 }, (_, i) => `r${i}`) }), 400,
        'INVALID_FIELD', /1000/],
      [await as(keyArch, 'POST', '/api/v1/candidates/archive', { refIds: 'cand-2' }), 400, 'INVALID_FIELD'],
      [await as(keyArch, 'POST', '/api/v1/candidates/archive', { refIds: ['bad id!'] }), 400, 'INVALID_FIELD'],
      [await as(keyArch, 'POST', '/api/v1/candidates/archive', { ids: ['x'] }), 400, 'UNKNOWN_FIELD'],
      [await as(keyArch, 'POST', '/api/v1/candidates/archive', '{"refIds":'), 400, 'BAD_JSON'],
      [await as(keyMeta, 'GET', '/api/v1/candidates/unknown-ref'), 404, 'NOT_FOUND'],
      [await op('GET', '/unknown-ref'), 404, 'NOT_FOUND'],
      [await op('POST', '', { refId: 'has space' }), 400, 'INVALID_FIELD'],
      // GET .../candidates/export is the export route: a candidate named so could not be read back
      [await op('POST', '', { refId: 'export' }), 400, 'INVALID_FIELD', /reserved/],
      [await op('POST', '', { refId: 'ok', attributes: [1] }), 400, 'INVALID_FIELD'],
      [await op('POST', '/cand-2/status', { status: 'done' }), 400, 'INVALID_FIELD'],
      [await op('POST', '/cand-2/status', { status: 'approved' }), 409, 'INVALID_STATUS_TRANSITION'],
      [await op('PUT', '/cand-2/pictures/selfie', PNG, { contentType: 'image/gif' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [await op('PUT', '/cand-2/pictures/passport', PNG, { contentType: 'image/png' }), 400, 'INVALID_PICTURE_NAME'],
      [await op('PUT', '/cand-2/pictures/selfie', Buffer.alloc(0), { contentType: 'image/png' }), 400, 'EMPTY_PICTURE'],
      [await op('PUT', '/nobody/pictures/selfie', PNG, { contentType: 'image/png' }), 404, 'NOT_FOUND'],
      [await op('GET', '?status=nope'), 400, 'INVALID_QUERY'],
    ];
    for (const [r, status, code, detail] of cases) {
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.code, code, r.text);
      if (detail) assert.match(r.json.detail, detail);
    }
  });

  test('oversize picture: 413 naming picture-max-bytes', async () => {
    const t = await startServer({ args: ['--picture-max-bytes', '2048'] });
    try {
      const sv = await createService(t, { name: 'small' });
      await t.api('POST', `/api/v1/services/${sv.id}/candidates`, { refId: 'big' });
      const ok = await t.api('PUT', `/api/v1/services/${sv.id}/candidates/big/pictures/selfie`, Buffer.alloc(2048, 1),
        { contentType: 'image/png' });
      assert.equal(ok.status, 204, ok.text);
      const r = await t.api('PUT', `/api/v1/services/${sv.id}/candidates/big/pictures/selfie`, Buffer.alloc(2049, 1),
        { contentType: 'image/png' });
      assert.equal(r.status, 413);
      assert.equal(r.json.code, 'PICTURE_TOO_LARGE');
      assert.match(r.json.detail, /2048 bytes \(picture-max-bytes\)/);
      /* a JSON body keeps its own cap */
      const j = await t.api('POST', `/api/v1/services/${sv.id}/candidates`, { refId: 'x', attributes: { a: 'b'.repeat(70000) } });
      assert.equal(j.status, 413);
      assert.equal(j.json.code, 'BODY_TOO_LARGE');
    } finally {
      await t.cleanup();
    }
  });

  test('auto-archive: scheduled on the first extract, archived after its time, once (audit)', async () => {
    const k = await createKey(s, svc.id, { scope: 'attributes', archiveAfterExtractSeconds: 1 });
    assert.equal((await create('auto-1')).status, 201);
    const before = await as(k.key, 'GET', '/api/v1/candidates/auto-1');
    assert.match(before.json.willArchiveAtDate, TIME_RE);
    const at = Date.parse(before.json.willArchiveAtDate);
    const again = await as(k.key, 'GET', '/api/v1/candidates/auto-1');
    assert.equal(again.json.willArchiveAtDate, before.json.willArchiveAtDate); /* not pushed back */
    let archivedAt = 0;
    await waitFor(async () => {
      const r = await as(keyMeta, 'GET', '/api/v1/candidates/auto-1');
      if (r.json.isArchived) archivedAt = Date.now();
      return r.json.isArchived;
    }, 15000, 100);
    console.log(`auto-archive: archived ${archivedAt - at} ms after willArchiveAtDate (target < 1000 ms)`);
    assert.ok(archivedAt >= at);
    const ev = await s.api('GET', `/api/v1/audit?action=candidate.archive&limit=200`);
    assert.equal(ev.status, 200, ev.text);
    const mine = ev.json.items.filter((e) => e.actor?.id === 'auto-archive' || e.actorId === 'auto-archive');
    assert.equal(mine.length, 1, JSON.stringify(ev.json.items));
  });

  test('auto-archive survives a restart and a kill -9 (the schedule is in the store)', async () => {
    const k = await createKey(s, svc.id, { scope: 'attributes', archiveAfterExtractSeconds: 2 });
    assert.equal((await create('auto-2')).status, 201);
    assert.equal((await create('auto-3')).status, 201);
    assert.match((await as(k.key, 'GET', '/api/v1/candidates/auto-2')).json.willArchiveAtDate, TIME_RE);
    await s.stop();
    s = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true });
    assert.match((await as(k.key, 'GET', '/api/v1/candidates/auto-3')).json.willArchiveAtDate, TIME_RE);
    await s.kill9();
    s = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true });
    for (const ref of ['auto-2', 'auto-3'])
      await waitFor(async () => (await as(keyMeta, 'GET', `/api/v1/candidates/${ref}`)).json.isArchived, 15000, 100);
  });
});

/* The sealed data key of record id, as bytes (empty once archived), read from the store directly. */
function sealedDek(s, id) {
  if (s.store === 'sqlite') {
    const r = spawnSync('sqlite3', [join(s.dataDir, 'keyward.db'), `SELECT hex(sealed_dek) FROM records WHERE id = '${id}'`],
      { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return Buffer.from(r.stdout.trim(), 'hex');
  }
  return Buffer.from(psql(s.store, `SELECT encode(sealed_dek, 'hex') FROM records WHERE id = '${id}'`), 'hex');
}

/* 1 if bytes occur in the SQLite db or -wal files, or in pg_dump's output (hex, as it writes bytea). */
function storeContains(s, bytes) {
  if (s.store === 'sqlite') {
    return ['keyward.db', 'keyward.db-wal'].some((f) => {
      const p = join(s.dataDir, f);
      return existsSync(p) && readFileSync(p).includes(bytes);
    });
  }
  const r = spawnSync('pg_dump', ['--data-only', '--table=records', s.store], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.includes(bytes.toString('hex'));
}

const pgBase = process.env.KEYWARD_TEST_STORE || '';
const onPg = /^postgres(ql)?:\/\//.test(pgBase);

describe('auto-archive on two nodes of one PostgreSQL', { skip: onPg ? false : 'runs on PostgreSQL only' }, () => {
  let A, B;
  before(async () => {
    const db = `kw_rec_nodes_${process.pid}`;
    psql(pgBase, `CREATE DATABASE ${db}`);
    const u = new URL(pgBase);
    u.pathname = `/${db}`;
    const rootToken = 'r'.repeat(48);
    delete process.env.KEYWARD_TEST_STORE; // the nodes name their store themselves
    try {
      A = await startServer({ rootToken, args: ['--store', u.toString()] });
      B = await startServer({ rootToken, args: ['--store', u.toString()] });
    } finally {
      process.env.KEYWARD_TEST_STORE = pgBase;
    }
  });
  after(async () => {
    await A?.cleanup();
    await B?.cleanup();
  });

  test('each due candidate is archived exactly once (one candidate.archive event each)', async () => {
    const svc = await createService(A, { name: 'nodes' });
    const k = await createKey(A, svc.id, { scope: 'attributes', archiveAfterExtractSeconds: 1 });
    const refs = Array.from({ length: 6 }, (_, i) => `n-${i}`);
    for (const ref of refs) {
      assert.equal((await A.api('POST', `/api/v1/services/${svc.id}/candidates`, { refId: ref, attributes: { a: ref } })).status, 201);
      const node = ref.endsWith('0') || ref.endsWith('2') || ref.endsWith('4') ? A : B;
      const r = await api(node.url, 'GET', `/api/v1/candidates/${ref}`, undefined, { headers: { 'X-API-Key': k.key } });
      assert.match(r.json.willArchiveAtDate, TIME_RE);
    }
    for (const ref of refs) {
      await waitFor(async () => (await api(B.url, 'GET', `/api/v1/candidates/${ref}`, undefined,
        { headers: { 'X-API-Key': k.key } })).json.isArchived, 15000, 100);
    }
    const ev = await A.api('GET', '/api/v1/audit?action=candidate.archive&limit=200');
    assert.equal(ev.status, 200, ev.text);
    const auto = ev.json.items.filter((e) => JSON.stringify(e).includes('auto-archive'));
    assert.equal(auto.length, refs.length, JSON.stringify(auto));
    assert.equal(new Set(auto.map((e) => JSON.stringify(e).match(/rec_[0-9A-Za-z]{16}/)?.[0])).size, refs.length);
  });
});
