// Several nodes as one deployment (issue 7): three keyward nodes A, B, C on one PostgreSQL database,
// behind an nginx upstream. Changes reach every node within 1 s, concurrent writes on all nodes keep
// one intact audit chain, write-behind merges, sessions hold across nodes, a PostgreSQL outage answers
// 503 and recovers without a restart, a stale node leaves /readyz, and kill -9 loses no acknowledged
// write. The cluster has a PostgreSQL of its own (the outage test stops it); the file runs in the
// PostgreSQL e2e list of scripts/test (KEYWARD_TEST_STORE=postgresql://...) and is skipped otherwise.
import { after, before, describe, test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { api, run, sleep, waitFor } from './lib/server.mjs';
import { startCluster, startPostgres } from './lib/cluster.mjs';

const onPg = /^postgres(ql)?:\/\//.test(process.env.KEYWARD_TEST_STORE || '');
// The nodes name their own store; startServer must not add one per data directory.
delete process.env.KEYWARD_TEST_STORE;

const STALENESS_S = 3;
const PW = 'correct horse battery staple';

// ms from now until fn() is truthy, polling every 10 ms; throws after ms.
async function delayUntil(what, fn, ms = 5000) {
  const t0 = performance.now();
  for (;;) {
    if (await fn()) return Math.round(performance.now() - t0);
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

describe('several nodes on one PostgreSQL', { skip: onPg ? false : 'runs on PostgreSQL only (scripts/test sets KEYWARD_TEST_STORE)' }, () => {
  let pg, cl, A, B, C, svc;
  const root = (node, method, path, body) => api(node.url, method, path, body, { token: cl.rootToken });
  const verifyOn = async (node, key) => (await root(node, 'POST', '/api/v1/keys/verify', { key })).json;
  const createOn = async (base, n = 0) =>
    api(base, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', description: `k${n}` }, { token: cl.rootToken });

  before(async () => {
    pg = startPostgres();
    try {
      // B flushes its write-behind later than C (500 ms against 100 ms), so B's older lastUsedAt
      // lands after C's newer one: the store must keep the latest.
      cl = await startCluster(pg, {
        n: 3,
        args: ['--store-max-staleness-s', String(STALENESS_S)],
        nodeArgs: [[], ['--flush-interval-ms', '500'], ['--flush-interval-ms', '100']],
      });
    } catch (e) {
      pg.remove();
      throw e;
    }
    [A, B, C] = cl.nodes;
    svc = (await root(A, 'POST', '/api/v1/services', { name: 'nodes' })).json;
    assert.ok(svc?.id, 'service created on A');
  });
  after(async () => {
    try {
      if (cl) await cl.stop();
    } finally {
      pg?.remove();
    }
  });

  test('a key made on A verifies on B and C; disable on B and revoke on A are refused everywhere (delays printed; the 1 s target is measured, not asserted)', async (t) => {
    const k1 = (await createOn(A.url)).json;
    for (const [name, node] of [['B', B], ['C', C]]) {
      const ms = await delayUntil(`create on A seen on ${name}`, async () => (await verifyOn(node, k1.key)).valid === true);
      t.diagnostic(`create on A -> valid on ${name}: ${ms} ms`);
    }
    assert.equal((await root(B, 'PATCH', `/api/v1/keys/${k1.id}`, { enabled: false })).status, 200);
    for (const [name, node] of [['A', A], ['C', C]]) {
      const ms = await delayUntil(`disable on B seen on ${name}`, async () => (await verifyOn(node, k1.key)).code === 'DISABLED');
      t.diagnostic(`disable on B -> refused on ${name}: ${ms} ms`);
    }
    const k2 = (await createOn(A.url)).json;
    await delayUntil('k2 on B and C', async () => (await verifyOn(B, k2.key)).valid && (await verifyOn(C, k2.key)).valid);
    assert.equal((await root(A, 'POST', `/api/v1/keys/${k2.id}/revoke`)).status, 200);
    for (const [name, node] of [['B', B], ['C', C]]) {
      const ms = await delayUntil(`revoke on A seen on ${name}`, async () => (await verifyOn(node, k2.key)).code === 'REVOKED');
      t.diagnostic(`revoke on A -> refused on ${name}: ${ms} ms`);
    }
  });

  test('120 concurrent creates over nginx and the three nodes all succeed; every node knows every key; the chain is intact', async (t) => {
    const bases = [cl.nginx.url, A.url, B.url, C.url];
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 120 }, (_, i) => createOn(bases[i % bases.length], i)));
    t.diagnostic(`120 concurrent creates: ${Math.round(performance.now() - t0)} ms`);
    const statuses = {};
    for (const r of rs) statuses[r.status] = (statuses[r.status] || 0) + 1;
    assert.deepEqual(statuses, { 201: 120 }, JSON.stringify(rs.filter((r) => r.status !== 201).map((r) => r.json)));
    assert.equal(new Set(rs.map((r) => r.json.id)).size, 120);
    const last = rs.map((r) => r.json);
    for (const node of [A, B, C]) {
      const ok = await waitFor(async () => {
        for (const k of last) if ((await verifyOn(node, k.key)).valid !== true) return false;
        return true;
      }, 3000);
      assert.ok(ok, `node ${node.port} verifies all 120 keys`);
    }
    const v = run(['audit', 'verify', '--store', cl.store]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout + v.stderr, /intact/i);
  });

  test('write-behind from all nodes merges: uses on B and C show on A (time printed), lastUsedAt the latest, usage added up', async (t) => {
    const s2 = (await root(A, 'POST', '/api/v1/services', { name: 'merge' })).json;
    const k = (await root(A, 'POST', `/api/v1/services/${s2.id}/keys`, { scope: 'metadata' })).json;
    await delayUntil('key on B and C', async () => (await verifyOn(B, k.key)).valid && (await verifyOn(C, k.key)).valid);
    // Those two uses count too: B 1, C 1 so far. Now B again, then C twice, later than every B use.
    assert.equal((await verifyOn(B, k.key)).valid, true);
    await sleep(20);
    const beforeC = Date.now();
    assert.equal((await verifyOn(C, k.key)).valid, true);
    assert.equal((await verifyOn(C, k.key)).valid, true);
    const ms = await delayUntil('uses on B and C seen on A', async () => {
      const got = (await root(A, 'GET', `/api/v1/keys/${k.id}`)).json;
      const u = (await root(A, 'GET', `/api/v1/services/${s2.id}/usage?hours=24`)).json;
      return got.lastUsedAt && Date.parse(got.lastUsedAt) >= beforeC - 1 && u.totals.valid === 5;
    }, 10000);
    t.diagnostic(`uses on B and C -> lastUsedAt and usage on A: ${ms} ms`);
    // B flushes its older use after C's (its interval is longer); GREATEST/max() keeps C's.
    await sleep(600);
    const got = (await root(A, 'GET', `/api/v1/keys/${k.id}`)).json;
    assert.ok(Date.parse(got.lastUsedAt) >= beforeC - 1, `lastUsedAt ${got.lastUsedAt} is C's use, not B's older one`);
    assert.equal((await root(A, 'GET', `/api/v1/services/${s2.id}/usage?hours=24`)).json.totals.valid, 5);
  });

  test('a session made on A works on B with the same cookie', async () => {
    assert.equal((await root(A, 'POST', '/api/v1/users', { username: 'ops', password: PW, role: 'sysadmin' })).status, 201);
    const r = await api(A.url, 'POST', '/api/v1/session', { username: 'ops', password: PW });
    assert.equal(r.status, 200, r.text);
    const sid = r.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1];
    const headers = { Cookie: `kw_session=${sid}`, 'X-CSRF-Token': r.json.csrfToken };
    const me = await api(B.url, 'GET', '/api/v1/session', undefined, { headers });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.user.username, 'ops');
    const made = await api(B.url, 'POST', '/api/v1/services', { name: 'by session on B' }, { headers });
    assert.equal(made.status, 201, made.text);
    assert.equal((await api(C.url, 'DELETE', '/api/v1/session', undefined, { headers })).status, 204);
    assert.equal((await api(A.url, 'GET', '/api/v1/session', undefined, { headers })).status, 401, 'logout on C ends it on A');
  });

  test('PostgreSQL stopped under the nodes: writes 503 with Retry-After, cached keys verify, /readyz 503 after the staleness; back within seconds without a restart', async (t) => {
    // The root token is confirmed against the store (a rotation elsewhere), so without the store it
    // answers 503 too; a verifier key is in every node's cache and needs nothing else.
    const verifier = (await root(A, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', permissions: ['keys:verify'] })).json;
    const k = (await createOn(A.url)).json;
    const cachedVerify = async (node, key) => (await api(node.url, 'POST', '/api/v1/keys/verify', { key }, { token: verifier.key })).json;
    await delayUntil('keys on B and C', async () => (await cachedVerify(B, k.key)).valid && (await cachedVerify(C, k.key)).valid);
    for (const node of [A, B, C]) assert.equal((await api(node.url, 'GET', '/readyz')).status, 200);
    const login = await api(A.url, 'POST', '/api/v1/session', { username: 'ops', password: PW });
    assert.equal(login.status, 200, login.text);
    const cookie = { Cookie: `kw_session=${login.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1]}` };

    const stopping = performance.now();
    pg.stop();
    const down = performance.now();
    t.diagnostic(`scripts/pg stop took ${Math.round(down - stopping)} ms`);
    try {
      for (const [name, node] of [['A', A], ['B', B], ['C', C], ['nginx', cl.nginx]]) {
        const t0 = performance.now();
        const r = await createOn(node.url);
        const ms = Math.round(performance.now() - t0);
        t.diagnostic(`write on ${name} with PostgreSQL down: ${r.status} ${r.json?.code} in ${ms} ms`);
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.code, 'STORE_UNAVAILABLE');
        assert.match(r.headers.get('retry-after') || '', /^\d+$/);
        assert.ok(ms < 8000, `answered in ${ms} ms, not hung`);
      }
      for (const node of [A, B, C]) assert.equal((await cachedVerify(node, k.key)).valid, true, 'a cached key verifies without the store');
      // Credentials the store confirms are not called wrong (401) while it is away: 503 as well.
      for (const r of [await root(B, 'GET', '/api/v1/services'), await api(B.url, 'GET', '/api/v1/session', undefined, { headers: cookie })]) {
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.code, 'STORE_UNAVAILABLE');
        assert.equal(r.headers.get('retry-after'), '1');
      }
      // Past store-max-staleness-s without reading changes, every node leaves /readyz (and still verifies).
      for (const [name, node] of [['A', A], ['B', B], ['C', C]]) {
        let last;
        await delayUntil(`${name} not ready`, async () => (last = await api(node.url, 'GET', '/readyz')).status === 503,
          STALENESS_S * 1000 + 4000);
        assert.equal(last.json.code, 'NOT_READY');
        assert.match(last.json.detail, new RegExp(`No change read from the store .*store-max-staleness-s is ${STALENESS_S}\\b`));
        assert.equal((await cachedVerify(node, k.key)).valid, true, 'a stale node keeps verifying from its cache');
      }
      t.diagnostic(`every node not ready ${Math.round(performance.now() - down)} ms after PostgreSQL stopped (staleness ${STALENESS_S} s)`);
    } finally {
      pg.start();
    }

    for (const [name, node] of [['A', A], ['B', B], ['C', C]]) {
      const ms = await delayUntil(`write on ${name} after the restart`, async () => (await createOn(node.url)).status === 201, 10000);
      t.diagnostic(`PostgreSQL back -> write on ${name} works after ${ms} ms more`);
      await delayUntil(`${name} ready`, async () => (await api(node.url, 'GET', '/readyz')).status === 200, 5000);
    }
    const k2 = (await createOn(B.url)).json;
    for (const [name, node] of [['A', A], ['C', C]]) {
      const ms = await delayUntil(`create on B seen on ${name} after the outage`, async () => (await verifyOn(node, k2.key)).valid === true);
      t.diagnostic(`after the outage: create on B -> valid on ${name}: ${ms} ms`);
    }
    assert.equal((await root(C, 'POST', `/api/v1/keys/${k.id}/revoke`)).status, 200);
    for (const [name, node] of [['A', A], ['B', B]]) {
      const ms = await delayUntil(`revoke on C seen on ${name} after the outage`, async () => (await verifyOn(node, k.key)).code === 'REVOKED');
      t.diagnostic(`after the outage: revoke on C -> refused on ${name}: ${ms} ms`);
    }
  });

  test('a PostgreSQL that stops answering (SIGSTOP) gives 503 within the call deadline, not a hang; then it recovers', async (t) => {
    // The server's processes are frozen: TCP still acknowledges, so only keyward's own deadline
    // (statement timeout + 1 s, default 6 s) can end a call. After it, writes fail fast for a moment.
    const pm = Number(readFileSync(`${pg.dir}/postmaster.pid`, 'utf8').split('\n')[0]);
    const children = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
      try { return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pm; } catch { return false; }
    }).map(Number);
    const pids = [pm, ...children];
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      const t0 = performance.now();
      const r = await createOn(A.url, 9001);
      const ms = Math.round(performance.now() - t0);
      t.diagnostic(`write to a frozen PostgreSQL answered ${r.status} after ${ms} ms`);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.code, 'STORE_UNAVAILABLE');
      assert.ok(r.headers.get('retry-after'));
      assert.ok(ms < 9000, `answered after ${ms} ms`);
      const t1 = performance.now();
      assert.equal((await createOn(A.url, 9002)).status, 503);
      t.diagnostic(`the next write answered after ${Math.round(performance.now() - t1)} ms`);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    const ms = await delayUntil('a write works again after SIGCONT', async () => (await createOn(A.url, 9003)).status === 201, 15000);
    t.diagnostic(`writes work again ${ms} ms after SIGCONT`);
  });

  test('kill -9 of a node in the middle of a burst of creates loses no acknowledged write', async (t) => {
    const acked = [], other = [];
    let stop = false, refused = 0;
    const worker = async (w) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await createOn(C.url, `burst-${w}-${i}`);
          (r.status === 201 ? acked : other).push(r.status === 201 ? r.json : `${r.status} ${r.text}`);
        } catch {
          refused++; // the connection died with the node: not acknowledged
          await sleep(5);
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    try {
      assert.ok(await waitFor(() => acked.length >= 30, 10000), `the burst is under way: ${other.slice(0, 3)}`);
      await C.kill9();
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    t.diagnostic(`C killed after ${acked.length} acknowledged creates; ${refused} requests died with it`);
    assert.deepEqual(other, [], 'no answer but 201 before the kill');
    for (const k of acked) {
      const r = await root(A, 'GET', `/api/v1/keys/${k.id}`);
      assert.equal(r.status, 200, `acknowledged key ${k.id} is in the store`);
    }
    await delayUntil('every acknowledged key valid on B', async () => {
      for (const k of acked) if ((await verifyOn(B, k.key)).valid !== true) return false;
      return true;
    }, 3000);
    const v = run(['audit', 'verify', '--store', cl.store]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout + v.stderr, /intact/i);
  });
});
