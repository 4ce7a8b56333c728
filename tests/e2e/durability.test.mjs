// No acknowledged write is lost on kill -9: stream key creations, SIGKILL mid-stream, restart, check.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { api, createService, run, startServer, verify } from './lib/server.mjs';

const TOTAL = 150;
const IN_FLIGHT = 3;

describe('durability', () => {
  test('every acknowledged key creation survives SIGKILL', async (t) => {
    const s = await startServer({ keepDir: true });
    t.after(async () => {
      await s.kill9();
      rmSync(s.dataDir, { recursive: true, force: true });
      rmSync(s.logFile, { force: true });
    });
    const svc = await createService(s);
    const acked = [];
    let next = 0, failed = 0, killed = false;
    const worker = async () => {
      while (!killed && next < TOTAL) {
        const i = next++;
        try {
          const r = await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', description: `k${i}` });
          if (r.status === 201) acked.push(r.json);
          else failed++;
        } catch { /* the server died under this request: not acknowledged */ }
      }
    };
    const workers = Array.from({ length: IN_FLIGHT }, worker);
    // Kill after ~1 s, or earlier once two thirds are through, so the kill lands mid-stream.
    const started = Date.now();
    while (Date.now() - started < 1000 && acked.length < (TOTAL * 2) / 3) await new Promise((r) => setTimeout(r, 5));
    await s.kill9();
    killed = true;
    await Promise.all(workers);
    assert.equal(failed, 0, 'no creation was refused before the kill');
    assert.ok(acked.length >= 5, `only ${acked.length} writes were acknowledged before the kill`);
    assert.ok(next < TOTAL || acked.length < TOTAL, 'the kill landed before the stream ended');
    assert.equal(s.exited().sig, 'SIGKILL');

    const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true });
    try {
      for (const k of acked) {
        const g = await again.api('GET', `/api/v1/keys/${k.id}`);
        assert.equal(g.status, 200, `acknowledged key ${k.id} lost`);
        assert.equal(g.json.description, k.description);
        assert.equal(g.json.status, 'active');
        const v = await verify(again, k.key);
        assert.equal(v.code, 'VALID', `acknowledged key ${k.id} does not verify`);
        assert.equal(v.keyId, k.id);
      }
      const listed = (await again.api('GET', `/api/v1/services/${svc.id}/keys?limit=200`)).json.items.map((i) => i.id);
      for (const k of acked) assert.ok(listed.includes(k.id));
      // Each acknowledged admin write has its audit event (committed with it).
      const creates = new Set();
      let cursor = null;
      do {
        const r = await again.api('GET', `/api/v1/audit?action=key.create&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        for (const e of r.json.items) creates.add(e.target?.id);
        cursor = r.json.nextCursor;
      } while (cursor);
      for (const k of acked) assert.ok(creates.has(k.id), `no key.create event for acknowledged ${k.id}`);
      // The restarted server takes writes again.
      const r = await api(again.url, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' }, { token: s.rootToken });
      assert.equal(r.status, 201);
    } finally {
      await again.stop();
    }
    const chain = run(['audit', 'verify', '--data-dir', s.dataDir, ...s.storeArgs]);
    assert.equal(chain.status, 0, chain.stdout + chain.stderr);
    assert.match(chain.stdout + chain.stderr, /intact/i);
  });

  test('a clean stop flushes write-behind state; a restart restores every key state', async (t) => {
    const s = await startServer({ keepDir: true, args: ['--flush-interval-ms', '1000'] });
    t.after(async () => {
      await s.kill9();
      rmSync(s.dataDir, { recursive: true, force: true });
      rmSync(s.logFile, { force: true });
    });
    const svc = await createService(s, { name: 'restart', keyPrefix: 'rs' });
    const mk = (body = { scope: 'metadata' }) => s.api('POST', `/api/v1/services/${svc.id}/keys`, body).then((r) => r.json);
    const active = await mk({ scope: 'attributes', permissions: ['documents:read'], description: 'active one', archiveAfterExtractSeconds: 77 });
    const disabled = await mk();
    await s.api('PATCH', `/api/v1/keys/${disabled.id}`, { enabled: false });
    const revoked = await mk();
    await s.api('POST', `/api/v1/keys/${revoked.id}/revoke`);
    const old = await mk();
    const rolled = (await s.api('POST', `/api/v1/keys/${old.id}/roll`, { expireOldAfterSeconds: 0 })).json;
    const graced = await mk();
    const graceNew = (await s.api('POST', `/api/v1/keys/${graced.id}/roll`, { expireOldAfterSeconds: 3600 })).json;
    const before = {};
    for (const k of [active, disabled, revoked, old, rolled, graced, graceNew]) before[k.id] = (await s.api('GET', `/api/v1/keys/${k.id}`)).json;
    // Used, then stopped at once: well inside the 1 s flush interval. The request id names this
    // verification's event: the restarted server audits its own verifications below, and those may
    // land (write-behind) before the audit is read.
    const v = await api(s.url, 'POST', '/api/v1/keys/verify', { key: active.key }, { token: s.rootToken, headers: { 'X-Request-Id': 'durability-last-verify' } });
    assert.equal(v.json.code, 'VALID');
    await s.stop();

    // The longest flush interval after the restart too: its own verifies below stay queued, so the key.verify
    // event counted is the one the first run flushed at shutdown (the default 500 ms lost that race under load).
    const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true,
      args: ['--flush-interval-ms', '1000'] });
    try {
      const expect = [[active, 'VALID'], [disabled, 'DISABLED'], [revoked, 'REVOKED'], [old, 'EXPIRED'], [rolled, 'VALID'], [graced, 'VALID'], [graceNew, 'VALID']];
      for (const [k, code] of expect) {
        assert.equal((await verify(again, k.key)).code, code, `${k.id} after restart`);
        const g = (await again.api('GET', `/api/v1/keys/${k.id}`)).json;
        const { lastUsedAt: _a, lastUsedIp: _b, ...rest } = g;
        const { lastUsedAt: _c, lastUsedIp: _d, ...was } = before[k.id];
        assert.deepEqual(rest, was, `${k.id} is as it was`);
      }
      const a = (await again.api('GET', `/api/v1/keys/${active.id}`)).json;
      assert.notEqual(a.lastUsedAt, null, 'lastUsedAt of a verify just before shutdown was flushed');
      assert.equal(a.lastUsedIp, '127.0.0.1');
      const ev = (await again.api('GET', `/api/v1/audit?action=key.verify&limit=200`)).json.items;
      const mine = ev.filter((e) => e.requestId === 'durability-last-verify');
      assert.equal(mine.length, 1, 'the key.verify audit event was flushed at shutdown (once)');
      assert.equal(mine[0].outcome, 'success');
      assert.match((await createKeyRaw(again, svc.id)).key, /^rs_/, 'the service prefix survived');
    } finally {
      await again.stop();
    }
    const chain = run(['audit', 'verify', '--data-dir', s.dataDir, ...s.storeArgs]);
    assert.equal(chain.status, 0, chain.stdout + chain.stderr);
  });

  test('SIGTERM under verify traffic: every answered verification has its audit event after the stop', async (t) => {
    // Write-behind events of requests answered right up to (and during) the drain must reach the store:
    // on-loop verifications (a key with keys:verify) and off-loop ones (the root token) at once.
    const s = await startServer({ keepDir: true, args: ['--flush-interval-ms', '1000'] });
    t.after(async () => {
      await s.kill9();
      rmSync(s.dataDir, { recursive: true, force: true });
      rmSync(s.logFile, { force: true });
    });
    const svc = await createService(s, { name: 'sigterm-traffic' });
    const target = (await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' })).json;
    const checker = (await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', permissions: ['keys:verify'] })).json;
    const answered = [];
    let n = 0, refused = 0;
    const worker = (token, tag) => async () => {
      for (;;) {
        const rid = `sigterm-${tag}-${n++}`;
        let r;
        try {
          r = await api(s.url, 'POST', '/api/v1/keys/verify', { key: target.key }, { token, headers: { 'X-Request-Id': rid } });
        } catch (e) {
          if (e instanceof TypeError) return; /* fetch failed: the server has stopped listening, not answered */
          throw e;
        }
        if (r.status === 200) {
          assert.equal(r.json.code, 'VALID');
          answered.push(rid);
        } else {
          refused++;
        }
      }
    };
    const workers = [1, 2, 3].map((i) => worker(checker.key, `key${i}`)).concat([1, 2].map((i) => worker(s.rootToken, `root${i}`)));
    const running = workers.map((w) => w());
    while (answered.length < 50) await new Promise((r) => setTimeout(r, 5));
    const ex = await s.stop();
    await Promise.all(running);
    assert.deepEqual(ex, { code: 0, sig: null });
    assert.doesNotMatch(s.logs(), /write-behind data (lost|dropped)/);
    assert.ok(answered.length >= 50, `${answered.length} answered`);

    const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true });
    try {
      const seen = new Set();
      let cursor = null;
      do {
        const r = await again.api('GET', `/api/v1/audit?action=key.verify&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(r.status, 200);
        for (const e of r.json.items) seen.add(e.requestId);
        cursor = r.json.nextCursor;
      } while (cursor);
      const lost = answered.filter((rid) => !seen.has(rid));
      assert.deepEqual(lost, [], `${lost.length} of ${answered.length} answered verifications have no audit event (${refused} refused)`);
    } finally {
      await again.stop();
    }
  });

  test('SIGTERM with client connections open exits 0 after a clean shutdown', async () => {
    const s = await startServer();
    // startServer's readiness probe already left a keep-alive connection in fetch's pool; add
    // an idle raw one and one with half a request.
    const idle = connect(s.port, '127.0.0.1');
    const half = connect(s.port, '127.0.0.1');
    for (const c of [idle, half]) c.on('error', () => {});
    await Promise.all([idle, half].map((c) => new Promise((r) => c.once('connect', r))));
    half.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    assert.equal((await s.api('GET', '/api/v1/services')).status, 200);
    await new Promise((r) => setTimeout(r, 100));
    const ex = await s.stop();
    idle.destroy();
    half.destroy();
    await s.cleanup();
    assert.deepEqual(ex, { code: 0, sig: null }, `keyward did not exit cleanly on SIGTERM:\n${s.logs().slice(-1500)}`);
    assert.match(s.logs(), /shutting down/);
  });
});

async function createKeyRaw(s, serviceId) {
  const r = await s.api('POST', `/api/v1/services/${serviceId}/keys`, { scope: 'metadata' });
  assert.equal(r.status, 201);
  return r.json;
}
