// The audit trail: who did what to which object, filters, paging, and the hash chain.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { api, createKey, createService, run, sleep, startServer, verify } from './lib/server.mjs';

describe('audit', () => {
  let s, svc, key;
  before(async () => {
    s = await startServer();
    svc = await createService(s, { name: 'Audited' });
    key = await createKey(s, svc.id, { scope: 'metadata', permissions: ['keys:verify'] });
    await s.api('PATCH', `/api/v1/keys/${key.id}`, { description: 'changed' }, { headers: { 'X-Request-Id': 'req-patch-1' } });
    await s.api('POST', `/api/v1/keys/${key.id}/revoke`);
    await api(s.url, 'GET', '/api/v1/services', undefined, { token: 'not-a-valid-token-at-all-0123456789' });
    await sleep(1100); // write-behind events (flush every 500 ms)
  });
  after(() => s.cleanup());

  test('admin writes are recorded with actor, action, target, outcome and request id', async () => {
    const r = await s.api('GET', `/api/v1/audit?target=${key.id}`);
    assert.equal(r.status, 200);
    const actions = r.json.items.map((e) => e.action);
    assert.deepEqual(actions.filter((a) => ['key.create', 'key.update', 'key.revoke'].includes(a)).reverse(),
      ['key.create', 'key.update', 'key.revoke']);
    const upd = r.json.items.find((e) => e.action === 'key.update');
    assert.deepEqual(upd.actor, { type: 'root', id: 'root' });
    assert.deepEqual(upd.target, { type: 'key', id: key.id });
    assert.equal(upd.serviceId, svc.id);
    assert.equal(upd.outcome, 'success');
    assert.equal(upd.requestId, 'req-patch-1');
    assert.equal(upd.ip, '127.0.0.1');
    assert.deepEqual(upd.detail, { changed: ['description'] });
  });

  test('denied calls are recorded', async () => {
    const r = await s.api('GET', '/api/v1/audit?action=auth.denied');
    assert.ok(r.json.items.length >= 1);
    assert.equal(r.json.items[0].outcome, 'denied');
    assert.equal(r.json.items[0].actor.type, 'anonymous');
  });

  test('filters: actor, action prefix, time window', async () => {
    const byPrefix = (await s.api('GET', '/api/v1/audit?action=key.*&limit=200')).json.items;
    assert.ok(byPrefix.length >= 3);
    assert.ok(byPrefix.every((e) => e.action.startsWith('key.')));
    const svcOnly = (await s.api('GET', `/api/v1/audit?action=service.create&serviceId=${svc.id}`)).json.items;
    assert.equal(svcOnly.length, 1);
    const future = new Date(Date.now() + 3600e3).toISOString();
    assert.equal((await s.api('GET', `/api/v1/audit?since=${future}`)).json.items.length, 0);
    const past = new Date(Date.now() - 3600e3).toISOString();
    assert.equal((await s.api('GET', `/api/v1/audit?until=${past}`)).json.items.length, 0);
    const anon = (await s.api('GET', '/api/v1/audit?actor=anonymous')).json.items;
    assert.ok(anon.length >= 1 && anon.every((e) => e.actor.id === 'anonymous'));
  });

  test('pages newest first and each prevHash is the previous event\'s hash', async () => {
    for (let i = 0; i < 4; i++) await verify(s, key.key);
    await sleep(1100);
    const all = [];
    let cursor = null;
    do {
      const r = await s.api('GET', `/api/v1/audit?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      all.push(...r.json.items);
      cursor = r.json.nextCursor;
    } while (cursor);
    assert.ok(all.length >= 10);
    for (let i = 0; i + 1 < all.length; i++) {
      assert.equal(all[i].seq, all[i + 1].seq + 1);
      assert.equal(all[i].prevHash, all[i + 1].hash);
      assert.match(all[i].hash, /^[0-9a-f]{64}$/);
    }
    assert.equal(all.at(-1).seq, 1);
    assert.equal(all.at(-1).prevHash, '0'.repeat(64));
  });

  test('keyward audit verify finds the chain intact, then finds a tampered row', async () => {
    await s.stop();
    let r = run(['audit', 'verify', '--data-dir', s.dataDir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /intact/);
    const sql = spawnSync('sqlite3', [`${s.dataDir}/keyward.db`, `UPDATE audit SET detail='{"x":1}' WHERE seq=2;`], { encoding: 'utf8' });
    assert.equal(sql.status, 0, sql.stderr);
    r = run(['audit', 'verify', '--data-dir', s.dataDir]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /BROKEN at seq 2/);
  });
});
