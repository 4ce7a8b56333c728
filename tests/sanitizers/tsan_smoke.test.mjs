// The ThreadSanitizer smoke (scripts/test-tsan): a TSan-built keyward (KEYWARD_BIN) takes a few hundred
// concurrent verify, auth/check and admin calls on every worker thread and the writer, then stops on
// SIGTERM. Any "WARNING: ThreadSanitizer" in its output fails the test, as does an unclean exit.
// Counts are checked exactly, not timings.
// The second smoke drives the threads added with documents and webhooks: the webhook sender (libcurl multi)
// delivering to a local receiver while the admin path writes the outbox, streamed responses (document
// content, exports) read in parallel on the pool, ingest bodies handed to the pool, and the jobs runner
// archiving candidates after an extract.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { api, createKey, createService, startServer, waitFor } from '../e2e/lib/server.mjs';

const ROUNDS = 3;
const PER_ROUND = 40; // of each kind: verify, auth/check, admin read, admin write

function tsanReports(out) {
  return out.split('\n').filter((l) => l.includes('WARNING: ThreadSanitizer') || l.includes('ERROR: ThreadSanitizer'));
}

describe('ThreadSanitizer smoke', () => {
  let s, svc, keys;
  before(async () => {
    s = await startServer({ args: ['--threads', '2'], readyTimeoutMs: 30000 });
    svc = await createService(s, { name: 'tsan' });
    keys = [];
    for (let i = 0; i < 4; i++) keys.push(await createKey(s, svc.id, { scope: 'metadata', description: `k${i}` }));
  });
  after(async () => {
    if (s && !s.exited()) await s.kill9();
  });

  test('concurrent verify, auth/check and admin calls, then a clean stop, with no TSan report', async () => {
    let verified = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const calls = [];
      for (let i = 0; i < PER_ROUND; i++) {
        const k = keys[i % keys.length];
        calls.push(api(s.url, 'POST', '/api/v1/keys/verify', { key: k.key }, { token: s.rootToken })
          .then((r) => { assert.equal(r.status, 200, r.text); assert.equal(r.json.valid, true); verified++; }));
        calls.push(api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': k.key } })
          .then((r) => { assert.equal(r.status, 204, r.text); verified++; }));
        calls.push(s.api('GET', `/api/v1/services/${svc.id}/keys`).then((r) => assert.equal(r.status, 200, r.text)));
        calls.push(s.api('PATCH', `/api/v1/keys/${k.id}`, { description: `r${round} i${i}` }).then((r) => assert.equal(r.status, 200, r.text)));
      }
      // Keys come and go while the others are verified: the cache is written from the admin path.
      calls.push(createKey(s, svc.id, { scope: 'metadata' }).then((k) => s.api('POST', `/api/v1/keys/${k.id}/revoke`))
        .then((r) => assert.equal(r.status, 200, r.text)));
      await Promise.all(calls);
    }
    assert.equal(verified, ROUNDS * PER_ROUND * 2);
    // The writer thread records usage; every verification above is counted once it has flushed.
    const total = async () => {
      const u = await s.api('GET', `/api/v1/services/${svc.id}/usage?hours=2`);
      return u.json.totals.valid;
    };
    assert.equal(await waitFor(async () => (await total()) === verified, 10000, 200), true, `usage counted ${await total()} of ${verified}`);

    // fetch's keep-alive connections are still open: SIGTERM drains them (issue 6 item 1).
    const exit = await s.stop();
    assert.deepEqual(tsanReports(s.logs()), [], s.logs().slice(-6000));
    assert.deepEqual(exit, { code: 0, sig: null }, `keyward did not exit cleanly:\n${s.logs().slice(-3000)}`);
  });
});

describe('ThreadSanitizer smoke: sender, streams, ingest, jobs', () => {
  let s, svc, recv, got = 0;
  before(async () => {
    recv = createServer((req, res) => {
      req.resume();
      req.on('end', () => { got++; res.writeHead(204); res.end(); });
    });
    await new Promise((resolve) => recv.listen(0, '127.0.0.1', resolve));
    s = await startServer({ args: ['--threads', '2', '--webhook-allow-private', 'true'], readyTimeoutMs: 30000 });
    svc = await createService(s, { name: 'tsan2' });
  });
  after(async () => {
    if (s && !s.exited()) await s.kill9();
    recv?.closeAllConnections?.();
    await new Promise((resolve) => recv.close(resolve));
  });

  test('webhooks delivered, documents streamed in parallel, exports, auto-archive, clean stop, no TSan report', async () => {
    const hook = await s.api('POST', `/api/v1/services/${svc.id}/webhooks`,
      { url: `http://127.0.0.1:${recv.address().port}/hook`, events: ['key.created', 'document.ingested', 'candidate.archived'] });
    assert.equal(hook.status, 201, hook.text);
    const su = await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
      { name: 'tsan', sourceSystem: 'tsan', permissions: ['documents:write', 'documents:read'] });
    assert.equal(su.status, 201, su.text);
    const tok = (await s.api('POST', `/api/v1/service-users/${su.json.id}/tokens`, { label: 'tsan' })).json.token;
    const bearer = { Authorization: `Bearer ${tok}` };

    // key.created events enter the outbox while the sender delivers the earlier ones
    const made = [];
    for (let i = 0; i < 10; i++) made.push(createKey(s, svc.id, { scope: 'metadata', description: `h${i}` }));
    await Promise.all(made);

    // four documents ingested at once (bodies to the pool), then each read back twice at once (streams)
    const docs = await Promise.all([0, 1, 2, 3].map(async (i) => {
      // the first past the 4 MiB mmap threshold: its pages are given back by the loop and the pool
      const bytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(i === 0 ? 6 << 20 : 300000 + i * 1000)]);
      const fd = new FormData();
      fd.append('metadata', JSON.stringify({ source_tag: 'tsan', external_id: `e${i}`, document_category: 'id', department: 'ops' }));
      fd.append('file', new Blob([bytes]), `d${i}.pdf`);
      const r = await fetch(`${s.url}/api/v1/ingest`, { method: 'POST', body: fd, headers: { ...bearer, 'X-Approver-Department': 'ops' } });
      const text = await r.text();
      assert.equal(r.status, 201, text);
      return { id: JSON.parse(text).id, bytes };
    }));
    await Promise.all(docs.flatMap((d) => [0, 1].map(async () => {
      const r = await fetch(`${s.url}/api/v1/documents/${d.id}/content`, { headers: bearer });
      assert.equal(r.status, 200);
      assert.equal(Buffer.compare(Buffer.from(await r.arrayBuffer()), d.bytes), 0);
    })));

    // candidates extracted by a key that archives 1 s after an extract: the jobs runner archives them
    const key = await createKey(s, svc.id, { scope: 'attributes', archiveAfterExtractSeconds: 1 });
    for (let i = 0; i < 3; i++) {
      const c = await s.api('POST', `/api/v1/services/${svc.id}/candidates`, { refId: `t${i}`, attributes: { name: `n${i}` } });
      assert.equal(c.status, 201, c.text);
    }
    await Promise.all([0, 1, 2].map(async (i) => {
      const r = await api(s.url, 'GET', `/api/v1/candidates/t${i}`, undefined, { headers: { 'X-API-Key': key.key } });
      assert.equal(r.status, 200, r.text);
    }));

    // two exports streamed at once while the archive job and the sender run
    await Promise.all(['csv', 'jsonl'].map(async (f) => {
      const r = await fetch(`${s.url}/api/v1/audit/export?format=${f}`, { headers: { Authorization: `Bearer ${s.rootToken}` } });
      assert.equal(r.status, 200);
      assert.ok((await r.text()).length > 0);
    }));
    const archived = async () => {
      const r = await s.api('GET', `/api/v1/services/${svc.id}/candidates?limit=10`);
      return r.json.items.filter((c) => c.isArchived).length;
    };
    assert.equal(await waitFor(async () => (await archived()) === 3, 20000, 200), true, 'auto-archive did not run');
    // 11 key.created (10 + the attributes key), 4 document.ingested, 3 candidate.archived
    assert.equal(await waitFor(async () => got >= 18, 20000, 100), true, `receiver got ${got} of 18`);

    const exit = await s.stop();
    assert.deepEqual(tsanReports(s.logs()), [], s.logs().slice(-6000));
    assert.deepEqual(exit, { code: 0, sig: null }, `keyward did not exit cleanly:\n${s.logs().slice(-3000)}`);
  });
});
