// Floods and failures that used to cost disk or lose data (issue 6 items 2, 8, 18):
// refusals are aggregated per (ip, reason) and minute; key.verify events carry the key's service and
// the verification's outcome; a write-behind flush that fails on a full disk is retried, not lost.
// Requests here go over fresh connections (no keep-alive), so a stop never waits on an idle one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TIME_RE, filesUnder, startServer, tempDir, waitFor } from './lib/server.mjs';

const agent = new http.Agent({ keepAlive: false, maxSockets: 16 });
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// A well-formed key nobody issued: prefix, 43 base62, 6 base62 of the CRC32 of the random part.
function unknownKey(prefix = 'kw') {
  let body = '';
  for (const b of randomBytes(64)) if ((b & 63) < 62 && body.length < 43) body += B62[b & 63];
  while (body.length < 43) body += 'a';
  let v = crc32(body), crc = '';
  for (let i = 0; i < 6; i++) { crc = B62[v % 62] + crc; v = Math.floor(v / 62); }
  return `${prefix}_${body}${crc}`;
}

function call(s, method, path, { token, headers = {}, body } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) h['Content-Type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const r = http.request(`${s.url}${path}`, { method, headers: h, agent, timeout: 15000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, json, text });
      });
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    if (payload !== undefined) r.write(payload);
    r.end();
  });
}

const root = (s, method, path, body, headers) => call(s, method, path, { token: s.rootToken, body, headers });

async function setup(s) {
  const svc = (await root(s, 'POST', '/api/v1/services', { name: 'Flooded' })).json;
  const key = (await root(s, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' })).json;
  assert.ok(svc?.id && key?.key);
  return { svc, key };
}

// n calls of make(i), `par` at a time; returns the statuses.
async function flood(n, par, make) {
  const statuses = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      statuses.push((await make(i)).status);
    }
  };
  await Promise.all(Array.from({ length: par }, worker));
  return statuses;
}

async function auditAll(s, query) {
  const items = [];
  let cursor = null;
  do {
    const r = await root(s, 'GET', `/api/v1/audit?${query}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    items.push(...r.json.items);
    cursor = r.json.nextCursor;
  } while (cursor);
  return items;
}

const dirBytes = (dir) => filesUnder(dir).reduce((n, f) => n + statSync(f).size, 0);

async function metric(s, name) {
  const r = await call(s, 'GET', '/metrics');
  const m = r.text.match(new RegExp(`^${name.replace(/[{}"=]/g, '\\$&')} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

describe('floods', () => {
  test('4,000 refused requests become a handful of auth.denied events whose counts add up', async (t) => {
    const N = 2000;
    let s = await startServer({ keepDir: true, args: ['--flush-interval-ms', '100'] });
    const dir = s.dataDir, token = s.rootToken;
    t.after(async () => {
      await s.kill9();
      rmSync(dir, { recursive: true, force: true });
      rmSync(s.logFile, { force: true });
    });
    await setup(s);
    // Sizes are compared after clean stops (WAL checkpointed into the database file).
    assert.equal((await s.stop()).code, 0, 'clean stop');
    const before = dirBytes(dir);
    s = await startServer({ dataDir: dir, rootToken: token, keepDir: true, args: ['--flush-interval-ms', '100'] });
    const none = (i) => call(s, 'GET', '/api/v1/services', { headers: { 'X-Request-Id': i === 0 ? 'flood-none-first' : `flood-none-${i}` } });
    const bad = (i) => call(s, 'GET', '/api/v1/services', { token: unknownKey(), headers: { 'X-Request-Id': i === 0 ? 'flood-bad-first' : `flood-bad-${i}` } });
    const sent = [await none(0), await bad(0)].map((r) => r.status);
    sent.push(...await flood(N - 1, 16, (i) => none(i + 1)));
    sent.push(...await flood(N - 1, 16, (i) => bad(i + 1)));
    assert.equal(sent.length, 2 * N);
    assert.ok(sent.every((c) => c === 401), 'every request was refused');
    assert.equal(await metric(s, 'keyward_writer_dropped_total{kind="audit"}'), 0);
    assert.equal(await metric(s, 'keyward_writer_dropped_total{kind="denials"}'), 0);

    const stopped = await s.stop();
    assert.equal(stopped.code, 0, `clean stop: ${JSON.stringify(stopped)} ${s.logs().slice(-600)}`);
    const grown = dirBytes(dir) - before;
    s = await startServer({ dataDir: dir, rootToken: token, keepDir: true });
    const denied = await auditAll(s, 'action=auth.denied');
    // One event per (ip, reason) per minute: 2 reasons, each split in two if a minute ended mid-flood.
    assert.ok(denied.length >= 2 && denied.length <= 4, `${denied.length} auth.denied events`);
    const sum = {};
    for (const e of denied) {
      assert.equal(e.outcome, 'denied');
      assert.deepEqual(e.actor, { type: 'anonymous', id: 'anonymous' });
      assert.equal(e.ip, '127.0.0.1');
      assert.equal(e.detail.sample.path, '/api/v1/services');
      assert.match(e.detail.sample.time, TIME_RE);
      assert.ok(Date.parse(e.detail.sample.time) <= Date.parse(e.time), 'recorded after its first refusal');
      assert.equal(e.requestId, e.detail.sample.requestId);
      sum[e.detail.code] = (sum[e.detail.code] || 0) + e.detail.count;
    }
    assert.deepEqual(sum, { UNAUTHENTICATED: N, NOT_FOUND: N }, 'the counts add up to the requests sent');
    const first = (code) => denied.filter((e) => e.detail.code === code).sort((a, b) => a.seq - b.seq)[0];
    assert.equal(first('UNAUTHENTICATED').requestId, 'flood-none-first', 'the sample is the first refusal');
    assert.equal(first('NOT_FOUND').requestId, 'flood-bad-first');
    assert.ok(!JSON.stringify(denied).includes('kw_'), 'no presented key is recorded');
    t.diagnostic(`${2 * N} refusals -> ${denied.length} events; data directory grew by ${grown} bytes`);
    // One row per refusal was ~0.5 KB each (2 MB here); now a few rows.
    assert.ok(grown < 128 * 1024, `the data directory grew by ${grown} bytes`);
    await s.stop();
  });

  test('key.verify events carry the verified key\'s service and the verification\'s outcome', async (t) => {
    const s = await startServer({ args: ['--flush-interval-ms', '100'] });
    t.after(() => s.cleanup());
    const { svc, key } = await setup(s);
    const gone = (await root(s, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' })).json;
    assert.equal((await root(s, 'POST', `/api/v1/keys/${gone.id}/revoke`)).status, 200);
    for (const [k, rid] of [[key.key, 'v-valid'], [gone.key, 'v-revoked'], [unknownKey(), 'v-unknown']]) {
      assert.equal((await root(s, 'POST', '/api/v1/keys/verify', { key: k }, { 'X-Request-Id': rid })).status, 200);
    }
    const byRid = async () => Object.fromEntries((await auditAll(s, 'action=key.verify')).map((e) => [e.requestId, e]));
    assert.ok(await waitFor(async () => Object.keys(await byRid()).length >= 3, 3000), 'the verifications were audited');
    const ev = await byRid();
    assert.equal(ev['v-valid'].serviceId, svc.id);
    assert.equal(ev['v-valid'].outcome, 'success');
    assert.equal(ev['v-valid'].detail.code, 'VALID');
    assert.equal(ev['v-revoked'].serviceId, svc.id);
    assert.equal(ev['v-revoked'].outcome, 'denied');
    assert.equal(ev['v-revoked'].detail.code, 'REVOKED');
    assert.equal(ev['v-unknown'].serviceId, null);
    assert.equal(ev['v-unknown'].outcome, 'denied');
    assert.equal(ev['v-unknown'].detail.code, 'NOT_FOUND');
    // So they show in the service's Audit tab.
    const tab = (await auditAll(s, `serviceId=${svc.id}&action=key.verify`)).map((e) => e.requestId).sort();
    assert.deepEqual(tab, ['v-revoked', 'v-valid']);
  });

  // The issue's repro: data directory on a small tmpfs, filled; keys are used; space is freed; a
  // clean stop and a restart must show every key.verify event and the key's lastUsedAt and usage.
  test('a flush that fails on a full disk is retried once space is back: nothing is lost', async (t) => {
    const mnt = tempDir('kw-tmpfs');
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      rmSync(mnt, { recursive: true, force: true });
      t.skip(`cannot mount a tmpfs here (${(m.stderr || m.error?.message || '').trim()})`);
      return;
    }
    const dir = join(mnt, 'data');
    mkdirSync(dir);
    let s = await startServer({ dataDir: dir, args: ['--flush-interval-ms', '100'] });
    const token = s.rootToken;
    t.after(async () => {
      await s.kill9();
      spawnSync('umount', ['-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
      rmSync(s.logFile, { force: true });
    });
    const { svc, key } = await setup(s);
    const filler = join(mnt, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 0xaa);
    try { for (;;) writeSync(fd, chunk); } catch (e) { assert.equal(e.code, 'ENOSPC'); }
    closeSync(fd);

    let used = 0, lastRid = '';
    const useKey = async (n) => {
      for (let i = 0; i < n; i++, used++) {
        lastRid = `use-${used}`;
        const r = await root(s, 'POST', '/api/v1/keys/verify', { key: key.key }, { 'X-Request-Id': lastRid });
        assert.equal(r.json?.code, 'VALID');
      }
    };
    // Keep using the key until a flush fails (the WAL may have had room for the first ones).
    while (used < 3000 && !(await metric(s, 'keyward_writer_flush_failures_total') > 0)) {
      await useKey(25);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(await metric(s, 'keyward_writer_flush_failures_total') > 0, 'a flush failed on the full disk');
    t.diagnostic(`a flush failed after ${used} uses of the key`);
    await useKey(22); // the issue's 22 events, queued behind the failed batch
    assert.ok(await metric(s, 'keyward_writer_queue_depth') > 0, 'the failed batch is kept');
    assert.match(s.logs(), /write-behind flush failed, will retry/);

    unlinkSync(filler);
    assert.ok(await waitFor(async () => (await metric(s, 'keyward_writer_queue_depth')) === 0, 5000), 'the batch was written');
    assert.equal(await metric(s, 'keyward_writer_dropped_total{kind="audit"}'), 0);
    assert.equal(await metric(s, 'keyward_writer_dropped_total{kind="usage"}'), 0);
    const stopped = await s.stop();
    assert.equal(stopped.code, 0, `clean stop: ${JSON.stringify(stopped)} ${s.logs().slice(-600)}`);

    s = await startServer({ dataDir: dir, rootToken: token });
    const ev = await auditAll(s, `action=key.verify&serviceId=${svc.id}`);
    assert.equal(ev.length, used, 'every key.verify event is there');
    assert.equal(new Set(ev.map((e) => e.requestId)).size, used, 'each exactly once');
    assert.equal(ev[0].requestId, lastRid, 'the newest is the last use');
    const k = (await root(s, 'GET', `/api/v1/keys/${key.id}`)).json;
    assert.ok(k.lastUsedAt, 'lastUsedAt survived');
    assert.equal(k.lastUsedIp, '127.0.0.1');
    assert.ok(Date.parse(k.lastUsedAt) >= Date.parse(ev[0].time) - 1000);
    const u = (await root(s, 'GET', `/api/v1/services/${svc.id}/usage?hours=24`)).json;
    assert.equal(u.totals.valid, used, 'usage counts every verification once');
    await s.stop();
  });
});
