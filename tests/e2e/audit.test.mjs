// The audit trail: who did what to which object, filters, paging, and the hash chain.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TIME_RE, api, createKey, run, startServer, verify, waitFor } from './lib/server.mjs';

const HEX64 = /^[0-9a-f]{64}$/;

function sqlite(db, sql) {
  const r = spawnSync('sqlite3', [db, sql], { encoding: 'utf8' });
  if (r.error) throw new Error(`the sqlite3 CLI is needed for this test (apt-get install sqlite3): ${r.error.message}`);
  return r;
}

// Changes one audit row behind keyward's back, on whichever store the server ran; stdout = rows changed.
function tamper(s, seq) {
  if (s.store === 'sqlite') return sqlite(`${s.dataDir}/keyward.db`, `UPDATE audit SET detail='{"x":1}' WHERE seq=${seq}; SELECT changes();`);
  const sql = `WITH u AS (UPDATE audit SET detail='{"x":1}' WHERE seq=${seq} RETURNING 1) SELECT count(*) FROM u`;
  const psql = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';
  return spawnSync(psql, [s.store, '-qAt', '-c', sql], { encoding: 'utf8' });
}

describe('audit', () => {
  let s, svc, key, gone, verifier, rolled;
  const ev = {}; // request id -> what we did
  const rid = (tag) => ({ headers: { 'X-Request-Id': tag } });
  // Every event, newest first, through pages of `limit`.
  const all = async (query = '', limit = 200) => {
    const items = [];
    let cursor = null, pages = 0;
    do {
      const sep = query ? '&' : '';
      const r = await s.api('GET', `/api/v1/audit?${query}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      items.push(...r.json.items);
      cursor = r.json.nextCursor;
      assert.ok(++pages < 500);
    } while (cursor);
    return items;
  };

  before(async () => {
    s = await startServer();
    let r = await s.api('POST', '/api/v1/services', { name: 'Audited' }, rid('req-svc-create'));
    svc = r.json;
    r = await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' }, rid('req-key-create'));
    key = r.json;
    await s.api('PATCH', `/api/v1/keys/${key.id}`, { description: 'changed' }, rid('req-key-update'));
    await s.api('PATCH', `/api/v1/services/${svc.id}`, { description: 'new words' }, rid('req-svc-update'));
    verifier = await createKey(s, svc.id, { scope: 'metadata', permissions: ['keys:verify'] });
    const toRoll = await createKey(s, svc.id);
    rolled = (await s.api('POST', `/api/v1/keys/${toRoll.id}/roll`, { expireOldAfterSeconds: 0 }, rid('req-key-roll'))).json;
    rolled.from = toRoll.id;
    gone = await createKey(s, svc.id);
    await s.api('DELETE', `/api/v1/keys/${gone.id}`, undefined, rid('req-key-delete'));
    await s.api('POST', `/api/v1/keys/${key.id}/revoke`, undefined, rid('req-key-revoke'));
    await api(s.url, 'GET', '/api/v1/services', undefined, { token: 'not-a-valid-token-at-all-0123456789', ...rid('req-denied-bad') });
    await api(s.url, 'POST', '/api/v1/services', { name: 'sneaky' }, rid('req-denied-none'));
    await api(s.url, 'POST', '/api/v1/keys/verify', { key: rolled.key }, { token: s.rootToken, ...rid('req-verify-root') });
    await api(s.url, 'POST', '/api/v1/keys/verify', { key: rolled.key }, { token: verifier.key, ...rid('req-verify-key') });
    const doomed = (await s.api('POST', '/api/v1/services', { name: 'Doomed' })).json;
    await s.api('DELETE', `/api/v1/services/${doomed.id}`, undefined, rid('req-svc-delete'));
    ev.doomed = doomed.id;
    // Integrator-caused events are write-behind: wait until the verify events are visible.
    const seen = await waitFor(async () => (await all('action=key.verify')).length >= 2, 3000);
    assert.ok(seen, 'key.verify events appear within 3 s');
  });
  after(() => s.cleanup());

  const byReq = async (id) => {
    const items = (await all()).filter((e) => e.requestId === id);
    assert.equal(items.length, 1, `exactly one event for ${id}: ${JSON.stringify(items)}`);
    return items[0];
  };

  test('events have the documented shape', async () => {
    const items = await all();
    assert.ok(items.length >= 14, `${items.length} events`);
    for (const e of items) {
      assert.match(e.id, /^evt_/);
      assert.ok(Number.isInteger(e.seq) && e.seq > 0);
      assert.match(e.time, TIME_RE);
      assert.ok(['root', 'key', 'anonymous', 'system', 'service_user'].includes(e.actor.type), JSON.stringify(e.actor));
      assert.equal(typeof e.action, 'string');
      assert.ok(['success', 'denied', 'failure'].includes(e.outcome));
      assert.match(e.hash, HEX64);
      assert.match(e.prevHash, HEX64);
      assert.ok(e.target === null || (typeof e.target.type === 'string' && typeof e.target.id === 'string'));
      assert.ok(e.detail === null || typeof e.detail === 'object');
      assert.ok('serviceId' in e && 'ip' in e && 'requestId' in e);
    }
  });

  test('admin writes are recorded with actor root, action, target, service, outcome, ip and request id', async () => {
    const expect = [
      ['req-svc-create', 'service.create', { type: 'service', id: svc.id }, svc.id],
      ['req-key-create', 'key.create', { type: 'key', id: key.id }, svc.id],
      ['req-key-update', 'key.update', { type: 'key', id: key.id }, svc.id],
      ['req-svc-update', 'service.update', { type: 'service', id: svc.id }, svc.id],
      ['req-key-delete', 'key.delete', { type: 'key', id: gone.id }, svc.id],
      ['req-key-revoke', 'key.revoke', { type: 'key', id: key.id }, svc.id],
      ['req-svc-delete', 'service.delete', { type: 'service', id: ev.doomed }, ev.doomed],
    ];
    for (const [req, action, target, serviceId] of expect) {
      const e = await byReq(req);
      assert.equal(e.action, action, req);
      assert.deepEqual(e.actor, { type: 'root', id: 'root' }, req);
      assert.deepEqual(e.target, target, req);
      assert.equal(e.serviceId, serviceId, req);
      assert.equal(e.outcome, 'success', req);
      assert.equal(e.ip, '127.0.0.1', req);
      assert.ok(Math.abs(Date.parse(e.time) - Date.now()) < 60000);
    }
    const roll = await byReq('req-key-roll');
    assert.equal(roll.action, 'key.roll');
    assert.equal(roll.target.type, 'key');
    assert.ok([rolled.from, rolled.id].includes(roll.target.id), 'the roll names the old or the new key');
    // Admin events never carry a secret.
    const text = JSON.stringify(await all());
    for (const secret of [key.key, rolled.key, verifier.key, gone.key, s.rootToken]) assert.ok(!text.includes(secret));
  });

  test('verifications through POST /keys/verify are audited with the caller as actor', async () => {
    const root = await byReq('req-verify-root');
    assert.equal(root.action, 'key.verify');
    assert.deepEqual(root.actor, { type: 'root', id: 'root' });
    const k = await byReq('req-verify-key');
    assert.equal(k.action, 'key.verify');
    assert.deepEqual(k.actor, { type: 'key', id: verifier.id });
    assert.equal(k.outcome, 'success');
    assert.equal(k.ip, '127.0.0.1');
  });

  // Refusals (auth.denied) are aggregated per source, reason and minute and written when the minute
  // closes or at shutdown: their shape and counts are checked across a restart in floods.test.mjs.

  test('filters: actor, action (exact and prefix*), target, serviceId, since/until, combined', async () => {
    const everything = await all();
    const rootOnly = await all('actor=root');
    assert.ok(rootOnly.length >= 9);
    assert.ok(rootOnly.every((e) => e.actor.type === 'root'));
    assert.equal(rootOnly.length, everything.filter((e) => e.actor.type === 'root').length);
    const byKey = await all(`actor=${verifier.id}`);
    assert.ok(byKey.length >= 1);
    assert.ok(byKey.every((e) => e.actor.id === verifier.id && e.action === 'key.verify'));

    const creates = await all('action=key.create');
    assert.equal(creates.length, everything.filter((e) => e.action === 'key.create').length);
    assert.ok(creates.length >= 4);
    assert.ok(creates.every((e) => e.action === 'key.create'));
    const keyStar = await all('action=key.*');
    assert.deepEqual(keyStar.map((e) => e.seq), everything.filter((e) => e.action.startsWith('key.')).map((e) => e.seq));
    for (const a of ['key.create', 'key.update', 'key.revoke', 'key.roll', 'key.delete', 'key.verify']) {
      assert.ok(keyStar.some((e) => e.action === a), `key.* includes ${a}`);
    }
    assert.equal((await all('action=key')).length, 0, 'without the star, action is exact');
    const svcStar = await all('action=service.*');
    assert.ok(svcStar.length >= 4 && svcStar.every((e) => e.action.startsWith('service.')));

    const forKey = await all(`target=${key.id}`);
    assert.deepEqual(forKey.map((e) => e.action).filter((a) => a !== 'key.verify').reverse(), ['key.create', 'key.update', 'key.revoke']);
    assert.ok(forKey.every((e) => e.target?.id === key.id));
    const combined = await all(`action=key.update&target=${key.id}`);
    assert.equal(combined.length, 1);
    assert.equal(combined[0].requestId, 'req-key-update');
    const forSvc = await all(`serviceId=${svc.id}&action=service.create`);
    assert.equal(forSvc.length, 1);
    assert.equal(forSvc[0].target.id, svc.id);
    assert.equal((await all(`serviceId=${svc.id}`)).length, everything.filter((e) => e.serviceId === svc.id).length);

    const future = new Date(Date.now() + 3600e3).toISOString();
    const past = new Date(Date.now() - 3600e3).toISOString();
    assert.equal((await all(`since=${encodeURIComponent(future)}`)).length, 0);
    assert.equal((await all(`until=${encodeURIComponent(past)}`)).length, 0);
    assert.equal((await all(`since=${encodeURIComponent(past)}&until=${encodeURIComponent(future)}`)).length, everything.length);
    // A window around the middle event splits the trail at its time.
    const mid = everything[Math.floor(everything.length / 2)];
    const since = await all(`since=${encodeURIComponent(mid.time)}`);
    const until = await all(`until=${encodeURIComponent(mid.time)}`);
    assert.ok(since.every((e) => Date.parse(e.time) >= Date.parse(mid.time)));
    assert.ok(until.every((e) => Date.parse(e.time) <= Date.parse(mid.time)));
    assert.ok(since.some((e) => e.seq === mid.seq) || until.some((e) => e.seq === mid.seq));
    const union = new Set([...since, ...until].map((e) => e.seq));
    assert.equal(union.size, everything.length, 'since and until at one instant together cover the trail');
  });

  test('a deleted key keeps its audit trail', async () => {
    const trail = await all(`target=${gone.id}`);
    assert.deepEqual(trail.map((e) => e.action).reverse(), ['key.create', 'key.delete']);
  });

  test('verifications through /auth/check are not audited one by one', async () => {
    const countVerify = async () => (await all('action=key.verify')).length;
    const n0 = await countVerify();
    for (let i = 0; i < 3; i++) {
      const r = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': rolled.key } });
      assert.equal(r.status, 204);
    }
    await verify(s, rolled.key, verifier.key); // a marker that is audited
    assert.ok(await waitFor(async () => (await countVerify()) >= n0 + 1, 3000), 'the marker verify was audited');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await countVerify(), n0 + 1, 'only the POST /keys/verify call became an event');
    const since = (await all()).filter((e) => e.seq > 0 && e.action !== 'key.verify' && e.actor.type === 'key');
    assert.deepEqual(since, [], 'no other events by keys');
  });

  test('action without a trailing * is exact ("key." matches no action)', async () => {
    const r = await all('action=key.');
    assert.deepEqual(r.map((e) => e.action), []);
  });

  test('pages newest first; each prevHash is the previous (older) event\'s hash', async () => {
    for (let i = 0; i < 4; i++) await verify(s, key.key);
    await waitFor(async () => (await all('action=key.verify')).length >= 6, 3000);
    const big = await all();
    const paged = await all('', 3);
    assert.ok(paged.length >= 18, `${paged.length} events`);
    assert.deepEqual(paged.map((e) => e.seq), big.map((e) => e.seq), 'paging returns the same events as one page');
    assert.deepEqual(paged, big);
    const first = await s.api('GET', '/api/v1/audit?limit=3');
    assert.equal(first.json.items.length, 3);
    assert.equal(typeof first.json.nextCursor, 'string');
    for (let i = 0; i + 1 < paged.length; i++) {
      assert.equal(paged[i].seq, paged[i + 1].seq + 1, 'newest first, no gaps');
      assert.equal(paged[i].prevHash, paged[i + 1].hash, `seq ${paged[i].seq} chains to ${paged[i + 1].seq}`);
      assert.notEqual(paged[i].hash, paged[i + 1].hash);
      // Write-behind events (key.verify) take their seq when flushed, so their times may trail a
      // concurrent admin event's by up to the flush interval (500 ms), never by more.
      const skew = Date.parse(paged[i + 1].time) - Date.parse(paged[i].time);
      assert.ok(skew <= 1500, `seq ${paged[i].seq} is ${skew} ms older than seq ${paged[i + 1].seq}`);
    }
    assert.equal(paged.at(-1).seq, 1);
    assert.equal(new Set(paged.map((e) => e.id)).size, paged.length);
    // Filtered paging too.
    const keyPaged = await all('action=key.*', 2);
    assert.deepEqual(keyPaged.map((e) => e.seq), big.filter((e) => e.action.startsWith('key.')).map((e) => e.seq));
  });

  test('keyward audit verify finds the chain intact, then names a tampered row', async () => {
    await s.stop();
    let r = run(['audit', 'verify', '--data-dir', s.dataDir, ...s.storeArgs]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /intact/i);
    const sql = tamper(s, 2);
    assert.equal(sql.status, 0, sql.stderr);
    assert.equal(sql.stdout.trim(), '1', 'one row tampered');
    r = run(['audit', 'verify', '--data-dir', s.dataDir, ...s.storeArgs]);
    assert.notEqual(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /\bseq\D{0,3}2\b/, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /intact/i);
  });
});
