// Webhook delivery (domain/webhook_sender.c): a Node receiver verifies every request with the npm
// `standardwebhooks` library. A key.created event arrives signed; a 500 is retried with the same
// webhook-id; Retry-After is honoured; 410 disables the webhook; after a secret rotation both
// signatures are sent and each secret verifies alone; with --webhook-allow-private false a hostname
// resolving to loopback is refused on the address connected (refused_address) and nothing reaches the
// receiver; a pending delivery survives kill -9; two PostgreSQL nodes make each attempt once.
// The retry schedule is shortened with the test-only KEYWARD_TEST_WEBHOOK_SCHEDULE_MS.
// Also on the PostgreSQL list of scripts/test (KEYWARD_TEST_STORE).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { api, createService, freePort, run, sleep, startServer, waitFor } from './lib/server.mjs';
import { startCluster, startPostgres } from './lib/cluster.mjs';

const onPg = /^postgres(ql)?:\/\//.test(process.env.KEYWARD_TEST_STORE || '');
const FAST = { KEYWARD_TEST_WEBHOOK_SCHEDULE_MS: '0,200,400' };
const ALLOW = ['--webhook-allow-private', 'true'];

// An HTTP receiver on a loopback port. respond(req, body, n) -> {status, headers} decides each answer
// (n counts requests per webhook-id from 1); every request is kept in got[].
async function receiver(respond = () => ({ status: 200 }), port = 0) {
  const got = [];
  const perId = new Map();
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = req.headers['webhook-id'];
      const n = (perId.get(id) || 0) + 1;
      perId.set(id, n);
      got.push({ headers: req.headers, body, method: req.method, url: req.url, at: Date.now(), n });
      const r = respond(req, body, n) || { status: 200 };
      res.writeHead(r.status, r.headers || {});
      res.end('ok');
    });
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  const p = srv.address().port;
  return {
    got, port: p, url: `http://127.0.0.1:${p}/hook`,
    close: () => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(resolve); }),
  };
}

// Standard Webhooks verification as a receiver does it; throws when the signature does not match.
function verifyWith(secret, req) {
  return new Webhook(secret).verify(req.body, {
    'webhook-id': req.headers['webhook-id'],
    'webhook-timestamp': req.headers['webhook-timestamp'],
    'webhook-signature': req.headers['webhook-signature'],
  });
}

async function mkHook(server, serviceId, url, events = ['key.created']) {
  const r = await server.api('POST', `/api/v1/services/${serviceId}/webhooks`, { url, events });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function mkKey(server, serviceId, base = server.url) {
  const r = await api(base, 'POST', `/api/v1/services/${serviceId}/keys`, { scope: 'metadata' }, { token: server.rootToken });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// A webhook to a loopback port nothing listens on, and a key.created delivery after its first attempt
// (failed with connect, still pending): { hook, d1 }.
async function pendingAfterOneAttempt(server, name, port) {
  const svc = await createService(server, { name });
  const hook = await mkHook(server, svc.id, `http://127.0.0.1:${port}/hook`);
  await mkKey(server, svc.id);
  const d1 = await waitFor(async () => {
    const items = await deliveries(server, hook.id);
    return items[0]?.attempts >= 1 ? items[0] : null;
  }, 20000);
  assert.ok(d1, 'no attempt');
  assert.equal(d1.state, 'pending');
  assert.equal(d1.attemptLog[0].error, 'connect');
  return { hook, d1 };
}

async function deliveries(server, hookId) {
  const r = await server.api('GET', `/api/v1/webhooks/${hookId}/deliveries`);
  assert.equal(r.status, 200, r.text);
  return r.json.items;
}

describe('webhook delivery', () => {
  let server, svc;
  before(async () => {
    server = await startServer({ args: ALLOW, env: FAST, readyTimeoutMs: 60000 });
    svc = await createService(server, { name: 'Hooks' });
  });
  after(async () => { await server?.cleanup(); });

  test('a key.created event arrives signed, once, as the deliveries list says', async () => {
    const rx = await receiver();
    try {
      const hook = await mkHook(server, svc.id, rx.url);
      assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      const key = await mkKey(server, svc.id);
      assert.ok(await waitFor(() => rx.got.length >= 1, 20000), 'no delivery arrived');
      const req = rx.got[0];
      assert.equal(req.method, 'POST');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['user-agent'], 'keyward-webhooks/1');
      assert.match(req.headers['webhook-id'], /^msg_/);
      assert.match(req.headers['webhook-timestamp'], /^\d+$/);
      assert.ok(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
      assert.match(req.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/);
      const payload = verifyWith(hook.secret, req);
      assert.equal(payload.type, 'key.created');
      assert.equal(payload.data.keyId, key.id);
      assert.equal(payload.data.serviceId, svc.id);
      assert.ok(!req.body.includes(key.key), 'the key itself is never in a payload');
      // a wrong secret does not verify
      assert.throws(() => verifyWith(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, req));
      // tampering with the body breaks it
      assert.throws(() => verifyWith(hook.secret, { ...req, body: req.body.replace(key.id, 'key_x') }));
      const items = await waitFor(async () => {
        const d = await deliveries(server, hook.id);
        return d.length === 1 && d[0].state === 'delivered' ? d : null;
      }, 10000);
      assert.ok(items, 'delivery not recorded as delivered');
      assert.equal(items[0].id, req.headers['webhook-id']);
      assert.equal(items[0].attempts, 1);
      assert.equal(items[0].lastStatus, 200);
      assert.equal(items[0].attemptLog.length, 1);
      assert.equal(items[0].attemptLog[0].status, 200);
      await sleep(500);
      assert.equal(rx.got.length, 1, 'delivered more than once');
      await server.api('DELETE', `/api/v1/webhooks/${hook.id}`);
    } finally {
      await rx.close();
    }
  });

  test('a 500 is retried with the same webhook-id until a 200', async () => {
    const rx = await receiver((req, body, n) => ({ status: n === 1 ? 500 : 200 }));
    try {
      const hook = await mkHook(server, svc.id, rx.url);
      await mkKey(server, svc.id);
      assert.ok(await waitFor(() => rx.got.length >= 2, 20000), `got ${rx.got.length} requests`);
      assert.equal(rx.got[0].headers['webhook-id'], rx.got[1].headers['webhook-id']);
      for (const req of rx.got) verifyWith(hook.secret, req);
      assert.equal(rx.got[0].body, rx.got[1].body, 'the same payload every time');
      const d = await waitFor(async () => {
        const items = await deliveries(server, hook.id);
        return items[0]?.state === 'delivered' ? items[0] : null;
      }, 10000);
      assert.ok(d, 'not delivered');
      assert.equal(d.attempts, 2);
      assert.deepEqual(d.attemptLog.map((a) => [a.n, a.status]), [[1, 500], [2, 200]]);
      await server.api('DELETE', `/api/v1/webhooks/${hook.id}`);
    } finally {
      await rx.close();
    }
  });

  test('Retry-After sets the next attempt when it is later than the schedule', async () => {
    const rx = await receiver((req, body, n) => (n === 1 ? { status: 503, headers: { 'Retry-After': '2' } } : { status: 204 }));
    try {
      const hook = await mkHook(server, svc.id, rx.url);
      await mkKey(server, svc.id);
      const first = await waitFor(async () => {
        const items = await deliveries(server, hook.id);
        return items[0]?.attempts === 1 ? items[0] : null;
      }, 20000);
      assert.ok(first, 'first attempt not recorded');
      assert.equal(first.state, 'pending');
      assert.equal(first.lastStatus, 503);
      // the schedule says ~200 ms; Retry-After says 2 s from the answer
      assert.ok(Date.parse(first.nextAttemptAt) - Date.parse(first.attemptLog[0].at) >= 2000, JSON.stringify(first));
      assert.ok(await waitFor(() => rx.got.length >= 2, 20000), 'not retried');
      assert.ok(rx.got[1].at - rx.got[0].at >= 1900, `retried after ${rx.got[1].at - rx.got[0].at} ms`);
      const done = await waitFor(async () => (await deliveries(server, hook.id))[0]?.state === 'delivered', 10000);
      assert.ok(done);
      await server.api('DELETE', `/api/v1/webhooks/${hook.id}`);
    } finally {
      await rx.close();
    }
  });

  test('410 Gone disables the webhook and fails what is pending', async () => {
    const rx = await receiver(() => ({ status: 410 }));
    try {
      const hook = await mkHook(server, svc.id, rx.url);
      await mkKey(server, svc.id);
      const off = await waitFor(async () => {
        const r = await server.api('GET', `/api/v1/webhooks/${hook.id}`);
        return r.json.enabled === false ? r.json : null;
      }, 20000);
      assert.ok(off, 'still enabled');
      assert.equal(off.disabledReason, 'gone');
      const items = await deliveries(server, hook.id);
      assert.equal(items.length, 1);
      assert.equal(items[0].state, 'failed');
      assert.equal(items[0].attempts, 1, '410 is not retried');
      assert.equal(items[0].lastStatus, 410);
      await mkKey(server, svc.id); // a disabled webhook gets nothing new
      await sleep(600);
      assert.equal(rx.got.length, 1);
      const audit = await server.api('GET', `/api/v1/audit?action=webhook.disable`);
      assert.ok(audit.json.items.some((e) => e.target?.id === hook.id || e.targetId === hook.id || JSON.stringify(e).includes(hook.id)),
        'the disable is audited');
      await server.api('DELETE', `/api/v1/webhooks/${hook.id}`);
    } finally {
      await rx.close();
    }
  });

  test('after a rotation both secrets sign, and each verifies alone', async () => {
    const rx = await receiver();
    try {
      const hook = await mkHook(server, svc.id, rx.url);
      const rot = await server.api('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`);
      assert.equal(rot.status, 200, rot.text);
      assert.notEqual(rot.json.secret, hook.secret);
      await mkKey(server, svc.id);
      assert.ok(await waitFor(() => rx.got.length >= 1, 20000));
      const req = rx.got[0];
      const sigs = req.headers['webhook-signature'].split(' ');
      assert.equal(sigs.length, 2, req.headers['webhook-signature']);
      for (const s of sigs) assert.match(s, /^v1,[A-Za-z0-9+/]{43}=$/);
      assert.notEqual(sigs[0], sigs[1]);
      assert.equal(verifyWith(rot.json.secret, req).type, 'key.created');
      assert.equal(verifyWith(hook.secret, req).type, 'key.created');
      // each secret alone matches exactly one of the two
      for (const secret of [rot.json.secret, hook.secret]) {
        const ok = sigs.filter((s) => { try { verifyWith(secret, { ...req, headers: { ...req.headers, 'webhook-signature': s } }); return true; } catch { return false; } });
        assert.equal(ok.length, 1);
      }
      await server.api('DELETE', `/api/v1/webhooks/${hook.id}`);
    } finally {
      await rx.close();
    }
  });

  test('a pending delivery survives kill -9 and is delivered after the restart', async () => {
    const port = await freePort(); // nothing listens yet: attempts fail with connect
    const dir = (await import('./lib/server.mjs')).tempDir('kw-hook9');
    const env = { KEYWARD_TEST_WEBHOOK_SCHEDULE_MS: '0,1500,1500,1500,1500,1500,1500,1500' };
    let s1 = await startServer({ dataDir: dir, args: ALLOW, env, readyTimeoutMs: 60000 });
    let rx = null, s2 = null;
    try {
      const { hook, d1 } = await pendingAfterOneAttempt(s1, 'Nine', port);
      await s1.kill9();
      rx = await receiver(() => ({ status: 200 }), port);
      s2 = await startServer({ dataDir: dir, rootToken: s1.rootToken, args: ALLOW, env, readyTimeoutMs: 60000 });
      assert.ok(await waitFor(() => rx.got.length >= 1, 30000), 'not delivered after the restart');
      assert.equal(rx.got[0].headers['webhook-id'], d1.id);
      verifyWith(hook.secret, rx.got[0]);
      const d2 = await waitFor(async () => {
        const items = await deliveries(s2, hook.id);
        return items[0]?.state === 'delivered' ? items[0] : null;
      }, 10000);
      assert.ok(d2);
      assert.ok(d2.attempts >= 2);
    } finally {
      await rx?.close();
      if (s2) await s2.cleanup(); else await s1.kill9();
      (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
    }
  });
});

// A one-shot command (keyward users create) opens the same store but runs no webhook sender (nor jobs):
// a delivery due while it runs waits for a serving node.
describe('one-shot commands', { skip: onPg ? 'the SQLite data directory case' : false }, () => {
  test('keyward users create beside a due delivery sends nothing; the next serving node does', async () => {
    const port = await freePort();
    const dir = (await import('./lib/server.mjs')).tempDir('kw-hookcli');
    const env = { KEYWARD_TEST_WEBHOOK_SCHEDULE_MS: '0,1000,1000,1000,1000' };
    const s1 = await startServer({ dataDir: dir, args: ALLOW, env, readyTimeoutMs: 60000 });
    let rx = null, s2 = null;
    try {
      const { d1 } = await pendingAfterOneAttempt(s1, 'Cli', port);
      await s1.stop();
      rx = await receiver(() => ({ status: 200 }), port);
      await sleep(1500); // the next attempt is due now
      const r = run(['users', 'create', '--username', 'cliuser', '--data-dir', dir, '--webhook-allow-private', 'true'],
        { env, input: 'a long enough passphrase\n' });
      assert.equal(r.status, 0, r.stderr);
      await sleep(300);
      assert.equal(rx.got.length, 0, 'the one-shot command delivered a webhook');
      s2 = await startServer({ dataDir: dir, rootToken: s1.rootToken, args: ALLOW, env, readyTimeoutMs: 60000 });
      assert.ok(await waitFor(() => rx.got.length >= 1, 20000), 'the serving node did not deliver it');
      assert.equal(rx.got[0].headers['webhook-id'], d1.id);
    } finally {
      await rx?.close();
      if (s2) await s2.cleanup(); else { await s1.stop({ expectClean: false }); }
      (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the SSRF guard (--webhook-allow-private false, the default)', () => {
  let server, svc, rx;
  before(async () => {
    server = await startServer({ env: FAST, readyTimeoutMs: 60000 });
    svc = await createService(server, { name: 'Guarded' });
    rx = await receiver();
  });
  after(async () => { await rx?.close(); await server?.cleanup(); });

  test('literal private addresses are refused at create', async () => {
    for (const url of [`http://127.0.0.1:${rx.port}/hook`, 'http://169.254.169.254/latest/meta-data', 'http://[::1]/x', 'http://10.0.0.1/x']) {
      const r = await server.api('POST', `/api/v1/services/${svc.id}/webhooks`, { url, events: ['key.created'] });
      assert.equal(r.status, 400, `${url}: ${r.text}`);
      assert.equal(r.json.code, 'WEBHOOK_URL_FORBIDDEN');
    }
  });

  test('a name that resolves to loopback is refused on the address connected; nothing reaches it', async () => {
    const hook = await mkHook(server, svc.id, `http://localhost:${rx.port}/hook`);
    await mkKey(server, svc.id);
    const d = await waitFor(async () => {
      const items = await deliveries(server, hook.id);
      return items[0]?.state === 'failed' ? items[0] : null;
    }, 20000);
    assert.ok(d, 'not failed');
    assert.equal(d.attempts, 3); // the shortened schedule: 3 attempts
    for (const a of d.attemptLog) {
      assert.equal(a.error, 'refused_address');
      assert.equal(a.status, undefined);
    }
    assert.equal(d.lastError, 'refused_address');
    assert.equal(rx.got.length, 0, 'a request reached the receiver');
    assert.match(server.logs(), /refused=loopback/);
  });
});

describe('two PostgreSQL nodes', { skip: onPg ? false : 'runs on PostgreSQL only (scripts/test sets KEYWARD_TEST_STORE)' }, () => {
  let pg, cl, rx;
  before(async () => {
    pg = startPostgres();
    // one deployment, one master key: each node must open the webhook secrets the other sealed
    const KEYWARD_MASTER_KEY = (await import('node:crypto')).randomBytes(32).toString('base64');
    cl = await startCluster(pg, { n: 2, db: 'kw_hooks', args: ALLOW, env: { ...FAST, KEYWARD_MASTER_KEY } });
    rx = await receiver((req, body, n) => ({ status: n === 1 ? 500 : 200 })); // every event: 500, then 200
  });
  after(async () => {
    await rx?.close();
    await cl?.stop();
    pg?.remove();
  });

  test('each attempt of each event is made once across the nodes', async () => {
    const [A, B] = cl.nodes;
    const root = (node, method, path, body) => api(node.url, method, path, body, { token: cl.rootToken });
    const svc = (await root(A, 'POST', '/api/v1/services', { name: 'Two nodes' })).json;
    const hook = (await root(A, 'POST', `/api/v1/services/${svc.id}/webhooks`, { url: rx.url, events: ['key.created'] })).json;
    const N = 20;
    const keys = await Promise.all(Array.from({ length: N }, (_, i) =>
      root(i % 2 ? B : A, 'POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' })));
    for (const k of keys) assert.equal(k.status, 201);
    if (!(await waitFor(() => rx.got.length >= 2 * N, 60000))) {
      const items = (await root(B, 'GET', `/api/v1/webhooks/${hook.id}/deliveries?limit=100`)).json.items;
      const bad = items.filter((d) => d.state !== 'delivered');
      assert.fail(`got ${rx.got.length} of ${2 * N}; not delivered: ${JSON.stringify(bad)}\n${A.logs().split('\n').filter((l) => /webhook|lease/.test(l)).slice(-20).join('\n')}\n${B.logs().split('\n').filter((l) => /webhook|lease/.test(l)).slice(-20).join('\n')}`);
    }
    await sleep(1000); // anything sent twice would have arrived by now
    const byId = new Map();
    for (const req of rx.got) {
      verifyWith(hook.secret, req);
      byId.set(req.headers['webhook-id'], (byId.get(req.headers['webhook-id']) || 0) + 1);
    }
    assert.equal(byId.size, N);
    for (const [id, n] of byId) assert.equal(n, 2, `${id} arrived ${n} times`);
    const ids = new Set(keys.map((k) => k.json.id));
    assert.equal(new Set(rx.got.map((r) => JSON.parse(r.body).data.keyId)).size, N);
    for (const r of rx.got) assert.ok(ids.has(JSON.parse(r.body).data.keyId));
    // both nodes sent (each wakes its own sender on its own writes), and between them once per attempt
    const sent = (node) => (node.logs().match(/msg="webhook attempt"/g) || []).length;
    assert.ok(sent(A) > 0 && sent(B) > 0, `attempts: A ${sent(A)}, B ${sent(B)}`);
    assert.equal(sent(A) + sent(B), 2 * N);
    const items = (await root(B, 'GET', `/api/v1/webhooks/${hook.id}/deliveries?limit=100`)).json.items;
    assert.equal(items.length, N);
    for (const d of items) {
      assert.equal(d.state, 'delivered');
      assert.deepEqual(d.attemptLog.map((a) => [a.n, a.status]), [[1, 500], [2, 200]]);
    }
  });
});
