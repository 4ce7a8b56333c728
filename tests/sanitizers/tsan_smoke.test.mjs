// The ThreadSanitizer smoke (scripts/test-tsan): a TSan-built keyward (KEYWARD_BIN) takes a few hundred
// concurrent verify, auth/check and admin calls on every worker thread and the writer, then stops on
// SIGTERM. Any "WARNING: ThreadSanitizer" in its output fails the test, as does an unclean exit.
// Counts are checked exactly, not timings.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
