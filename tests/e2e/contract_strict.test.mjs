// The HTTP contract as a strict client reads it: path ids checked before anything is looked up or audited,
// one credential per request, one Bearer rule everywhere, bounded echoes, and the api/ -> domain/ layering.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { api, createKey, createService, startServer, waitFor } from './lib/server.mjs';

const SRC = new URL('../../src/', import.meta.url).pathname;

// One request written byte for byte on a fresh connection (Connection: close); parsed answer.
function raw(port, head, body = '') {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks = [];
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('raw request timed out')); });
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [h, ...rest] = text.split('\r\n\r\n');
      const lines = h.split('\r\n');
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      const b = rest.join('\r\n\r\n');
      let json = null;
      try { json = JSON.parse(Buffer.from(b, 'latin1').toString('utf8')); } catch { /* not JSON */ }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, text: b, json });
    });
    const bytes = Buffer.isBuffer(head) ? head : Buffer.from(head, 'latin1');
    sock.write(Buffer.concat([bytes, Buffer.from(`Host: x\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`), Buffer.from(body)]));
  });
}

function sqliteCount(db, sql) {
  const r = spawnSync('sqlite3', [db, sql], { encoding: 'utf8' });
  if (r.error) throw new Error(`the sqlite3 CLI is needed for this test: ${r.error.message}`);
  return Number(r.stdout.trim());
}

// Every stored audit seq, newest first (the list's order).
function sqliteSeqs(db) {
  const r = spawnSync('sqlite3', [db, 'SELECT seq FROM audit ORDER BY seq DESC'], { encoding: 'utf8' });
  if (r.error) throw new Error(`the sqlite3 CLI is needed for this test: ${r.error.message}`);
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

describe('strict contract', () => {
  let s, port, svc, key, reader;
  before(async () => {
    s = await startServer();
    port = s.port;
    svc = await createService(s, { name: 'Strict' });
    key = await createKey(s, svc.id);
    reader = await createKey(s, svc.id, { scope: 'metadata', permissions: ['keys:verify'] });
  });
  after(() => s.cleanup());

  // Every stored audit event, through the API (newest first).
  const allEvents = async () => {
    const items = [];
    let cursor = null;
    do {
      const r = await s.api('GET', `/api/v1/audit?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      items.push(...r.json.items);
      cursor = r.json.nextCursor;
    } while (cursor);
    return items;
  };

  test('a malformed path id is 404 NOT_FOUND for everyone, is not audited, and no event drops out of the list', async () => {
    const paths = [
      Buffer.concat([Buffer.from('GET /api/v1/keys/key_'), Buffer.from([0xff, 0xfe]), Buffer.from(' HTTP/1.1\r\n')]),
      Buffer.concat([Buffer.from('GET /api/v1/services/svc_'), Buffer.from([0xc3]), Buffer.from('/keys HTTP/1.1\r\n')]),
      'GET /api/v1/keys/key_%FF%FE HTTP/1.1\r\n',
      'PATCH /api/v1/keys/KEY_0123456789abcdef HTTP/1.1\r\n',
      'DELETE /api/v1/users/Not%20A%20User HTTP/1.1\r\n',
      `GET /api/v1/services/${svc.id}/members/${'x'.repeat(80)} HTTP/1.1\r\n`,
      `GET /api/v1/services/${svc.id}x HTTP/1.1\r\n`,
      `GET /api/v1/services/${key.id} HTTP/1.1\r\n`, // an id of the wrong kind
    ];
    const before = sqliteCount(join(s.dataDir, 'keyward.db'), 'SELECT count(*) FROM audit');
    for (const [who, auth] of [['integrator', reader.key], ['root', s.rootToken], ['nobody', null]]) {
      for (const p of paths) {
        const head = Buffer.concat([Buffer.isBuffer(p) ? p : Buffer.from(p), Buffer.from(auth ? `Authorization: Bearer ${auth}\r\n` : '')]);
        const r = await raw(port, head);
        const label = `${who} ${Buffer.from(p).toString('latin1').split(' ')[1]}`;
        assert.equal(r.status, 404, `${label}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.equal(r.json?.code, 'NOT_FOUND', label);
        assert.match(r.headers['content-type'] || '', /^application\/problem\+json/, label);
      }
    }
    // Nothing above reached the audit log; every stored event is listed (none skipped for bad bytes).
    await new Promise((r) => setTimeout(r, 700)); // longer than a write-behind interval
    const db = join(s.dataDir, 'keyward.db');
    assert.equal(sqliteCount(db, 'SELECT count(*) FROM audit'), before, 'malformed ids are not audited');
    // Reading the list is itself audited (written behind), so its own events may land while it is read:
    // compare by seq. Every event stored before the read is listed, and every stored event up to the
    // newest one listed is listed.
    const storedBefore = sqliteSeqs(db);
    const listed = await allEvents();
    const storedAfter = sqliteSeqs(db);
    const listedSeqs = listed.map((e) => e.seq);
    const newest = Math.max(...listedSeqs);
    assert.ok(storedBefore.length >= before && storedBefore.length > 0);
    assert.deepEqual(listedSeqs, storedAfter.filter((q) => q <= newest), 'the list shows every stored event');
    assert.ok(storedBefore.every((q) => listedSeqs.includes(q)), 'every event stored before the read is listed');
    for (const e of listed) if (e.target) assert.match(e.target.id, /^[A-Za-z0-9._-]+$/, JSON.stringify(e));
  });

  test('well-formed ids still route: unknown ones are 404 after authentication, refusals are audited with the path', async () => {
    // Refusals are aggregated per source, reason and minute (item 8): the event for this one is written
    // when its minute closes or at a clean stop, with the refused path and request id as its sample.
    const t = await startServer({ keepDir: true });
    try {
      const svc2 = await createService(t);
      const k2 = await createKey(t, svc2.id, { scope: 'metadata' });
      const rdr = await createKey(t, svc2.id, { scope: 'metadata', permissions: ['keys:verify'] });
      const unknown = 'key_0000000000000000';
      assert.equal((await api(t.url, 'GET', `/api/v1/keys/${unknown}`)).status, 401, 'authentication comes first');
      assert.equal((await t.api('GET', `/api/v1/keys/${unknown}`)).status, 404);
      const r = await api(t.url, 'GET', `/api/v1/keys/${k2.id}`, undefined, { token: rdr.key, headers: { 'X-Request-Id': 'strict-refused' } });
      assert.equal(r.status, 403);
      await t.stop();
      const again = await startServer({ dataDir: t.dataDir, rootToken: t.rootToken, keepDir: true });
      try {
        const events = (await again.api('GET', '/api/v1/audit?limit=200')).json.items;
        const ev = events.find((e) => e.detail?.sample?.requestId === 'strict-refused');
        assert.ok(ev, 'the refusal is audited');
        assert.equal(ev.outcome, 'denied');
        assert.ok(ev.detail.sample.path.includes(k2.id), JSON.stringify(ev));
        assert.equal(ev.detail.count, 1);
      } finally {
        await again.cleanup();
      }
    } finally {
      rmSync(t.dataDir, { recursive: true, force: true });
    }
  });

  test('ambiguous credentials are 400 AMBIGUOUS_CREDENTIALS on the admin API, /keys/verify and /auth/check', async () => {
    const routes = [
      ['GET /api/v1/services HTTP/1.1\r\n', ''],
      ['POST /api/v1/keys/verify HTTP/1.1\r\nContent-Type: application/json\r\n', JSON.stringify({ key: key.key })],
      ['GET /api/v1/auth/check HTTP/1.1\r\n', ''],
    ];
    const sets = [
      ['two Authorization headers', `Authorization: Bearer ${s.rootToken}\r\nAuthorization: Bearer ${reader.key}\r\n`],
      ['two identical Authorization headers', `Authorization: Bearer ${s.rootToken}\r\nAuthorization: Bearer ${s.rootToken}\r\n`],
      ['two X-API-Key headers', `X-API-Key: ${s.rootToken}\r\nX-API-Key: ${key.key}\r\n`],
      ['Authorization and a different X-API-Key', `Authorization: Bearer ${s.rootToken}\r\nX-API-Key: ${key.key}\r\n`],
      ['Basic and an X-API-Key', `Authorization: Basic YTpi\r\nX-API-Key: ${key.key}\r\n`],
    ];
    const bad = [];
    for (const [head, body] of routes) {
      for (const [label, creds] of sets) {
        const r = await raw(port, head + creds, body);
        if (r.status !== 400 || r.json?.code !== 'AMBIGUOUS_CREDENTIALS' || r.json?.requestId !== r.headers['x-request-id']) {
          bad.push(`${head.split(' ').slice(0, 2).join(' ')} ${label}: ${r.status} ${r.text.slice(0, 120)}`);
        }
      }
    }
    assert.deepEqual(bad, []);
    // The same key in both headers is one credential.
    const same = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `Bearer ${key.key}`, 'X-API-Key': key.key } });
    assert.equal(same.status, 204);
    const sameAdmin = await api(s.url, 'GET', '/api/v1/services', undefined, { headers: { Authorization: `Bearer ${s.rootToken}`, 'X-API-Key': s.rootToken } });
    assert.equal(sameAdmin.status, 200);
  });

  test('one Bearer rule on all three doors: scheme in any case, one or more spaces', async () => {
    const forms = [['Bearer ', 'one space'], ['Bearer  ', 'two spaces'], ['bearer ', 'lower case'], ['BEARER   ', 'upper case, three spaces']];
    const bad = [];
    for (const [prefix, label] of forms) {
      const adm = await api(s.url, 'GET', '/api/v1/services', undefined, { headers: { Authorization: `${prefix}${s.rootToken}` } });
      if (adm.status !== 200) bad.push(`admin API, ${label}: ${adm.status}`);
      const v = await api(s.url, 'POST', '/api/v1/keys/verify', { key: key.key }, { headers: { Authorization: `${prefix}${reader.key}` } });
      if (v.status !== 200 || v.json?.valid !== true) bad.push(`/keys/verify, ${label}: ${v.status} ${v.text}`);
      const c = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `${prefix}${key.key}` } });
      if (c.status !== 204) bad.push(`/auth/check, ${label}: ${c.status} ${c.headers.get('x-keyward-code')}`);
    }
    for (const [value, label] of [[`Bearer${s.rootToken}`, 'no space'], [`Bearer:${s.rootToken}`, 'colon'], [`Token ${s.rootToken}`, 'other scheme']]) {
      const adm = await api(s.url, 'GET', '/api/v1/services', undefined, { headers: { Authorization: value } });
      if (adm.status !== 401) bad.push(`admin API, ${label}: ${adm.status}`);
      const c = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: value.replace(s.rootToken, key.key) } });
      if (c.status !== 401) bad.push(`/auth/check, ${label}: ${c.status}`);
    }
    assert.deepEqual(bad, []);
  });

  test('UNKNOWN_FIELD echoes at most 64 bytes of the name and never a control character', async () => {
    const cases = [
      ['x'.repeat(5000), 'long'],
      [`a\u001b[31mred\u0007\r\nX-Injected: 1`, 'controls'],
      ['é'.repeat(40), 'multi-byte cut'],
      [`\u0085next\u009bline`, 'C1 controls'],
    ];
    for (const [name, label] of cases) {
      const r = await s.api('POST', '/api/v1/services', `{"name":"ok",${JSON.stringify(name)}:1}`);
      assert.equal(r.status, 400, label);
      assert.equal(r.json.code, 'UNKNOWN_FIELD', label);
      for (const text of [r.json.field, r.json.detail]) {
        assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(text), `${label}: control character in ${JSON.stringify(text)}`);
      }
      assert.ok(Buffer.byteLength(r.json.field) <= 64 + 3, `${label}: field is ${Buffer.byteLength(r.json.field)} bytes`);
      assert.ok(r.text.length < 600, `${label}: the answer is ${r.text.length} bytes`);
      if (Buffer.byteLength(name) > 64) assert.ok(r.json.field.endsWith('…'), `${label}: a cut name ends in …`);
    }
    const short = await s.api('POST', '/api/v1/services', { name: 'ok', nmae: 'typo' });
    assert.equal(short.json.field, 'nmae', 'a short, clean name is echoed as sent');
  });

  test('api/ reaches storage only through domain/: no store/ include, no kw_store_ call, no app->store', () => {
    const dir = join(SRC, 'api');
    const files = readdirSync(dir).filter((f) => /\.[ch]$/.test(f));
    assert.ok(files.length >= 10, `found ${files.length} files in ${dir}`);
    const bad = [];
    for (const f of files) {
      const lines = readFileSync(join(dir, f), 'utf8').split('\n');
      lines.forEach((l, i) => {
        if (/#\s*include\s*[<"]store\//.test(l) || /\bkw_store_\w+\s*\(/.test(l) || /->\s*(wb_)?store\b/.test(l)) bad.push(`src/api/${f}:${i + 1}: ${l.trim()}`);
      });
    }
    assert.deepEqual(bad, [], 'api/ must call domain/ functions instead');
  });
});
