// Webhooks over HTTP: create (the whsec_ secret shown once, never on GET or in a list), validation (400 codes
// naming the field), the 20-per-service limit, PATCH (disable / re-enable), rotate-secret (a new secret),
// delete (its deliveries gone); the outbox: every event type a change announces is one delivery row per
// subscribed webhook, seen through GET .../deliveries with its type and the target named in the payload's
// data; a service without webhooks (or a webhook not subscribed) gets nothing; a bulk archive is one
// candidate.archived per refId archived; retry answers 202 pending. Who: root, sysadmins and the service's
// admins; operators, viewers and non-members are refused, integrator credentials 403.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TIME_RE, api, createKey, createService, startServer } from './lib/server.mjs';

const PW = 'correct horse battery staple';
const SECRET_RE = /^whsec_[A-Za-z0-9+/]{43}=$/;
const ALL = ['document.ingested', 'candidate.created', 'candidate.status_changed', 'candidate.archived', 'key.created',
  'key.revoked', 'key.rolled', 'key.deleted', 'token.revoked'];
// A URL nothing listens on: the sender's attempts fail, which does not matter to what is checked here.
const URL = 'http://127.0.0.1:9/hook';

async function login(s, username) {
  const r = await api(s.url, 'POST', '/api/v1/session', { username, password: PW });
  assert.equal(r.status, 200, r.text);
  const sid = r.headers.get('set-cookie').match(/kw_session=([^;]+)/)[1];
  return { sid, csrf: r.json.csrfToken };
}
const as = (s, sess, method, path, body) =>
  api(s.url, method, path, body, { headers: { Cookie: `kw_session=${sess.sid}`, 'X-CSRF-Token': sess.csrf } });

describe('webhooks', () => {
  let s, svc, quiet;
  const mk = (body, svcId = svc.id) => s.api('POST', `/api/v1/services/${svcId}/webhooks`, body);
  const deliveries = async (id) => {
    const r = await s.api('GET', `/api/v1/webhooks/${id}/deliveries?limit=200`);
    assert.equal(r.status, 200, r.text);
    return r.json.items;
  };

  before(async () => {
    s = await startServer({ args: ['--webhook-allow-private', 'true'] });
    svc = await createService(s, { name: 'Hooks' });
    quiet = await createService(s, { name: 'Quiet' });
  });
  after(() => s.cleanup());

  test('create: 201 with the secret once; GET and list never carry it', async () => {
    const r = await mk({ url: 'https://hooks.example.com/kw', events: ['key.created', 'key.revoked'], description: 'ops' });
    assert.equal(r.status, 201, r.text);
    const w = r.json;
    assert.match(w.id, /^wh_[0-9A-Za-z]{16}$/);
    assert.match(w.secret, SECRET_RE);
    assert.equal(Buffer.from(w.secret.slice(6), 'base64').length, 32);
    assert.equal(w.serviceId, svc.id);
    assert.deepEqual(w.events, ['key.created', 'key.revoked']);
    assert.equal(w.description, 'ops');
    assert.equal(w.enabled, true);
    assert.equal(w.disabledReason, undefined);
    assert.match(w.createdAt, TIME_RE);
    assert.equal(r.headers.get('location'), `/api/v1/webhooks/${w.id}`);
    const got = await s.api('GET', `/api/v1/webhooks/${w.id}`);
    assert.equal(got.status, 200);
    const { secret, ...rest } = w;
    assert.deepEqual(got.json, rest);
    assert.ok(!got.text.includes(secret.slice(6)));
    const list = await s.api('GET', `/api/v1/services/${svc.id}/webhooks`);
    assert.equal(list.status, 200);
    assert.ok(list.json.items.some((x) => x.id === w.id));
    assert.ok(!list.text.includes(secret.slice(6)));
    const second = await mk({ url: 'https://hooks.example.com/kw', events: ['key.created'] });
    assert.notEqual(second.json.secret, w.secret);
    assert.equal(second.json.description, '');
    assert.equal((await s.api('DELETE', `/api/v1/webhooks/${w.id}`)).status, 204);
    assert.equal((await s.api('DELETE', `/api/v1/webhooks/${second.json.id}`)).status, 204);
    assert.equal((await s.api('GET', `/api/v1/webhooks/${w.id}`)).status, 404);
  });

  test('validation: 400 naming the field, unknown event named, 404 without the service', async () => {
    const cases = [
      [{ events: ['key.created'] }, 'WEBHOOK_URL_INVALID', 'url'],
      [{ url: 'ftp://x.example/a', events: ['key.created'] }, 'WEBHOOK_URL_INVALID', 'url'],
      [{ url: 'https://user:pw@x.example/a', events: ['key.created'] }, 'WEBHOOK_URL_INVALID', 'url'],
      [{ url: '/relative', events: ['key.created'] }, 'WEBHOOK_URL_INVALID', 'url'],
      [{ url: 'https:///nohost', events: ['key.created'] }, 'WEBHOOK_URL_INVALID', 'url'],
      [{ url: 'https://x.example/a b', events: ['key.created'] }, 'WEBHOOK_URL_INVALID', 'url'],
      [{ url: `https://x.example/${'a'.repeat(2048)}`, events: ['key.created'] }, 'INVALID_FIELD', 'url'],
      [{ url: 'https://x.example:99999/', events: ['key.created'] }, 'WEBHOOK_URL_INVALID', 'url'],
      [{ url: 'https://x.example/' }, 'INVALID_FIELD', 'events'],
      [{ url: 'https://x.example/', events: [] }, 'INVALID_FIELD', 'events'],
      [{ url: 'https://x.example/', events: 'key.created' }, 'INVALID_FIELD', 'events'],
      [{ url: 'https://x.example/', events: ['key.created', 'key.exploded'] }, 'INVALID_FIELD', 'events'],
      [{ url: 'https://x.example/', events: ['key.created'], description: 'a\nb' }, 'INVALID_FIELD', 'description'],
      [{ url: 'https://x.example/', events: ['key.created'], secret: 'mine' }, 'UNKNOWN_FIELD', 'secret'],
    ];
    for (const [body, code, field] of cases) {
      const r = await mk(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.code, code, JSON.stringify(body));
      assert.equal(r.json.field, field, JSON.stringify(body));
    }
    const unknown = await mk({ url: 'https://x.example/', events: ['key.exploded'] });
    assert.match(unknown.json.detail, /key\.exploded/);
    assert.equal((await mk({ url: 'https://x.example/', events: ['key.created'] }, 'svc_0000000000000000')).status, 404);
    assert.equal((await s.api('GET', '/api/v1/services/svc_0000000000000000/webhooks')).status, 404);
    assert.equal((await s.api('GET', '/api/v1/webhooks/wh_0000000000000000')).status, 404);
    assert.equal((await s.api('GET', '/api/v1/webhooks/nothing')).status, 404);
    assert.equal((await s.api('GET', `/api/v1/services/${svc.id}/webhooks`)).json.items.length, 0);
  });

  test('a literal private address is refused at create without --webhook-allow-private', async () => {
    const strict = await startServer({ readyTimeoutMs: 30000 }); // a second server, on a busy machine
    try {
      const sv = await createService(strict, { name: 'Strict' });
      for (const url of ['http://127.0.0.1/h', 'http://10.1.2.3/h', 'http://169.254.169.254/latest', 'http://[::1]:8080/h',
        'http://192.168.0.1/h', 'http://100.64.0.1/h']) {
        const r = await strict.api('POST', `/api/v1/services/${sv.id}/webhooks`, { url, events: ['key.created'] });
        assert.equal(r.status, 400, url);
        assert.equal(r.json.code, 'WEBHOOK_URL_FORBIDDEN', url);
        assert.equal(r.json.field, 'url');
      }
      const ok = await strict.api('POST', `/api/v1/services/${sv.id}/webhooks`, { url: 'https://93.184.215.14/h', events: ['key.created'] });
      assert.equal(ok.status, 201, ok.text);
    } finally {
      await strict.cleanup();
    }
  });

  test('limit: 20 webhooks per service, then 409 WEBHOOK_LIMIT', async () => {
    const lim = await createService(s, { name: 'Limit' });
    for (let i = 0; i < 20; i++)
      assert.equal((await mk({ url: `https://x.example/${i}`, events: ['key.created'] }, lim.id)).status, 201);
    const r = await mk({ url: 'https://x.example/21', events: ['key.created'] }, lim.id);
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'WEBHOOK_LIMIT');
    assert.match(r.json.detail, /20/);
    const page = await s.api('GET', `/api/v1/services/${lim.id}/webhooks?limit=15`);
    assert.equal(page.json.items.length, 15);
    const rest = await s.api('GET', `/api/v1/services/${lim.id}/webhooks?limit=15&cursor=${page.json.nextCursor}`);
    assert.equal(rest.json.items.length, 5);
    assert.equal(rest.json.nextCursor, null);
  });

  test('patch, rotate-secret and delete', async () => {
    const w = (await mk({ url: URL, events: ['key.created'] })).json;
    const off = await s.api('PATCH', `/api/v1/webhooks/${w.id}`, { enabled: false, description: 'paused' });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.json.enabled, false);
    assert.equal(off.json.disabledReason, 'operator');
    assert.equal(off.json.description, 'paused');
    const on = await s.api('PATCH', `/api/v1/webhooks/${w.id}`, { enabled: true, events: ['key.created', 'key.deleted'],
      url: 'https://x.example/new' });
    assert.equal(on.json.enabled, true);
    assert.equal(on.json.disabledReason, undefined);
    assert.deepEqual(on.json.events, ['key.created', 'key.deleted']);
    assert.equal(on.json.url, 'https://x.example/new');
    assert.equal((await s.api('PATCH', `/api/v1/webhooks/${w.id}`, { events: ['nope'] })).json.field, 'events');
    assert.equal((await s.api('PATCH', `/api/v1/webhooks/${w.id}`, { url: 'gopher://x' })).json.code, 'WEBHOOK_URL_INVALID');
    assert.equal((await s.api('PATCH', `/api/v1/webhooks/${w.id}`, { secret: 'x' })).json.code, 'UNKNOWN_FIELD');

    const rot = await s.api('POST', `/api/v1/webhooks/${w.id}/rotate-secret`);
    assert.equal(rot.status, 200, rot.text);
    assert.match(rot.json.secret, SECRET_RE);
    assert.notEqual(rot.json.secret, w.secret);
    assert.equal(rot.json.id, w.id);
    const again = await s.api('POST', `/api/v1/webhooks/${w.id}/rotate-secret`, {});
    assert.notEqual(again.json.secret, rot.json.secret);
    const got = await s.api('GET', `/api/v1/webhooks/${w.id}`);
    for (const sec of [w.secret, rot.json.secret, again.json.secret]) assert.ok(!got.text.includes(sec.slice(6)));
    assert.equal((await s.api('POST', '/api/v1/webhooks/wh_0000000000000000/rotate-secret')).status, 404);

    /* delete: its deliveries go with it */
    await createKey(s, svc.id);
    assert.equal((await deliveries(w.id)).length, 1);
    assert.equal((await s.api('DELETE', `/api/v1/webhooks/${w.id}`)).status, 204);
    assert.equal((await s.api('GET', `/api/v1/webhooks/${w.id}/deliveries`)).status, 404);
    assert.equal((await s.api('DELETE', `/api/v1/webhooks/${w.id}`)).status, 404);
  });

  test('outbox: every event type is a delivery naming its target; nothing for a service without webhooks', async () => {
    const ev = await createService(s, { name: 'Events' });
    const all = (await mk({ url: URL, events: ALL }, ev.id)).json;
    const keysOnly = (await mk({ url: URL, events: ['key.created'] }, ev.id)).json;
    const paused = (await mk({ url: URL, events: ALL }, ev.id)).json;
    await s.api('PATCH', `/api/v1/webhooks/${paused.id}`, { enabled: false });
    const quietHook = (await mk({ url: URL, events: ALL }, quiet.id)).json;

    const k1 = await createKey(s, ev.id);
    const rolled = await s.api('POST', `/api/v1/keys/${k1.id}/roll`, {});
    assert.equal(rolled.status, 201, rolled.text);
    const k2 = await createKey(s, ev.id);
    assert.equal((await s.api('POST', `/api/v1/keys/${k2.id}/revoke`)).status, 200);
    assert.equal((await s.api('DELETE', `/api/v1/keys/${k2.id}`)).status, 204);
    const su = (await s.api('POST', `/api/v1/services/${ev.id}/service-users`, { name: 'Up', sourceSystem: 'upload' })).json;
    const tok = (await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 't' })).json;
    assert.equal((await s.api('POST', `/api/v1/tokens/${tok.id}/revoke`)).status, 200);
    const cand = (await s.api('POST', `/api/v1/services/${ev.id}/candidates`, { refId: 'c-1' })).json;
    assert.equal((await s.api('POST', `/api/v1/services/${ev.id}/candidates/c-1/status`, { status: 'waiting' })).status, 200);
    assert.equal((await s.api('POST', `/api/v1/services/${ev.id}/candidates/c-1/archive`)).status, 200);

    const items = await deliveries(all.id);
    const byType = (t) => items.filter((d) => d.eventType === t);
    for (const d of items) {
      assert.match(d.id, /^msg_[0-9A-Za-z]{16}$/);
      assert.equal(d.payload.type, d.eventType);
      assert.match(d.payload.timestamp, TIME_RE);
      assert.equal(d.payload.data.serviceId, ev.id);
      assert.ok(Array.isArray(d.attemptLog));
      assert.ok(['pending', 'delivered', 'failed'].includes(d.state));
    }
    assert.deepEqual(byType('key.created').map((d) => d.payload.data.keyId).sort(), [k1.id, k2.id].sort());
    assert.equal(byType('key.rolled').length, 1);
    assert.equal(byType('key.rolled')[0].payload.data.keyId, k1.id);
    assert.equal(byType('key.rolled')[0].payload.data.newKeyId, rolled.json.id);
    assert.equal(byType('key.revoked')[0].payload.data.keyId, k2.id);
    assert.equal(byType('key.deleted')[0].payload.data.keyId, k2.id);
    assert.equal(byType('token.revoked')[0].payload.data.tokenId, tok.id);
    assert.deepEqual(byType('candidate.created')[0].payload.data, { serviceId: ev.id, refId: 'c-1', recordId: cand.recordId });
    assert.deepEqual(byType('candidate.status_changed')[0].payload.data,
      { serviceId: ev.id, refId: 'c-1', from: 'incomplete', to: 'waiting', recordId: cand.recordId });
    assert.deepEqual(byType('candidate.archived').map((d) => d.payload.data), [{ serviceId: ev.id, refId: 'c-1', recordId: cand.recordId }]);
    /* the key created by the roll is announced as key.rolled, not as a second key.created */
    assert.equal(items.length, 9, JSON.stringify(items.map((d) => d.eventType)));
    const ko = await deliveries(keysOnly.id);
    assert.deepEqual(ko.map((d) => d.eventType), ['key.created', 'key.created']);
    assert.equal((await deliveries(paused.id)).length, 0);
    assert.equal((await deliveries(quietHook.id)).length, 0, 'a service that wrote nothing got nothing');

    /* a service without webhooks: its writes enqueue nothing anywhere */
    const none = await createService(s, { name: 'None' });
    await createKey(s, none.id);
    assert.equal((await deliveries(all.id)).length, 9);
    assert.equal((await deliveries(keysOnly.id)).length, 2);
    assert.equal((await deliveries(quietHook.id)).length, 0);

    /* retry: 202, pending and due */
    const d0 = items[0];
    const rr = await s.api('POST', `/api/v1/webhooks/${all.id}/deliveries/${d0.id}/retry`);
    assert.equal(rr.status, 202, rr.text);
    assert.equal(rr.json.id, d0.id);
    assert.equal(rr.json.state, 'pending');
    assert.match(rr.json.nextAttemptAt, TIME_RE);
    assert.equal((await s.api('POST', `/api/v1/webhooks/${keysOnly.id}/deliveries/${d0.id}/retry`)).status, 404);
    assert.equal((await s.api('POST', `/api/v1/webhooks/${all.id}/deliveries/msg_0000000000000000/retry`)).status, 404);

    /* paging: newest first */
    const p1 = await s.api('GET', `/api/v1/webhooks/${all.id}/deliveries?limit=4`);
    assert.equal(p1.json.items.length, 4);
    const p2 = await s.api('GET', `/api/v1/webhooks/${all.id}/deliveries?limit=10&cursor=${p1.json.nextCursor}`);
    assert.equal(p2.json.items.length, 5);
    assert.deepEqual([...p1.json.items, ...p2.json.items].map((d) => d.id), items.map((d) => d.id));
  });

  test('bulk archive: one candidate.archived delivery per refId archived', async () => {
    const bulk = await createService(s, { name: 'Bulk' });
    const h = (await mk({ url: URL, events: ['candidate.archived'] }, bulk.id)).json;
    const arch = (await createKey(s, bulk.id, { scope: 'metadata', permissions: ['candidates:archive'] })).key;
    const ids = {};
    for (const ref of ['b-1', 'b-2', 'b-3'])
      ids[ref] = (await s.api('POST', `/api/v1/services/${bulk.id}/candidates`, { refId: ref })).json.recordId;
    const r = await api(s.url, 'POST', '/api/v1/candidates/archive', { refIds: ['b-1', 'b-2', 'b-2', 'ghost', 'b-3'] },
      { headers: { 'X-API-Key': arch } });
    assert.equal(r.status, 200, r.text);
    const got = (await deliveries(h.id)).map((d) => d.payload.data).sort((a, b) => a.refId.localeCompare(b.refId));
    assert.deepEqual(got, ['b-1', 'b-2', 'b-3'].map((ref) => ({ serviceId: bulk.id, refId: ref, recordId: ids[ref] })));
    assert.ok((await deliveries(h.id)).every((d) => d.eventType === 'candidate.archived'));
  });

  test('who: root, sysadmins and service admins; not operators, viewers, outsiders or integrators', async () => {
    for (const [username, role] of [['whsys', 'sysadmin'], ['whadm', 'user'], ['whop', 'user'], ['whview', 'user'], ['whout', 'user']])
      assert.equal((await s.api('POST', '/api/v1/users', { username, password: PW, role })).status, 201);
    for (const [username, role] of [['whadm', 'admin'], ['whop', 'operator'], ['whview', 'viewer']])
      assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/members`, { username, role })).status, 201);
    const sys = await login(s, 'whsys'), adm = await login(s, 'whadm'), op = await login(s, 'whop');
    const view = await login(s, 'whview'), out = await login(s, 'whout');
    const base = `/api/v1/services/${svc.id}/webhooks`;
    const body = { url: URL, events: ['key.created'] };

    const a = await as(s, adm, 'POST', base, body);
    assert.equal(a.status, 201, a.text);
    assert.equal((await as(s, sys, 'POST', base, body)).status, 201);
    const wid = a.json.id;
    assert.equal((await as(s, adm, 'GET', `/api/v1/webhooks/${wid}`)).status, 200);
    assert.equal((await as(s, adm, 'GET', `/api/v1/webhooks/${wid}/deliveries`)).status, 200);
    assert.equal((await as(s, adm, 'POST', `/api/v1/webhooks/${wid}/rotate-secret`)).status, 200);
    for (const who of [op, view]) {
      for (const [m, p, b] of [['POST', base, body], ['GET', base], ['GET', `/api/v1/webhooks/${wid}`],
        ['PATCH', `/api/v1/webhooks/${wid}`, { enabled: false }], ['DELETE', `/api/v1/webhooks/${wid}`],
        ['POST', `/api/v1/webhooks/${wid}/rotate-secret`], ['GET', `/api/v1/webhooks/${wid}/deliveries`]]) {
        const r = await as(s, who, m, p, b);
        assert.equal(r.status, 403, `${m} ${p}`);
        assert.equal(r.json.code, 'FORBIDDEN');
      }
    }
    assert.equal((await as(s, out, 'GET', base)).status, 404);
    assert.equal((await as(s, out, 'GET', `/api/v1/webhooks/${wid}`)).status, 404);

    const key = (await createKey(s, svc.id)).key;
    const su = (await s.api('POST', `/api/v1/services/${svc.id}/service-users`, { name: 'I', sourceSystem: 'integ' })).json;
    const tok = (await s.api('POST', `/api/v1/service-users/${su.id}/tokens`, { label: 'x' })).json.token;
    for (const headers of [{ 'X-API-Key': key }, { Authorization: `Bearer ${tok}` }]) {
      assert.equal((await api(s.url, 'GET', base, undefined, { headers })).status, 403);
      assert.equal((await api(s.url, 'POST', base, body, { headers })).status, 403);
      assert.equal((await api(s.url, 'GET', `/api/v1/webhooks/${wid}`, undefined, { headers })).status, 403);
    }
    assert.equal((await as(s, adm, 'DELETE', `/api/v1/webhooks/${wid}`)).status, 204);
  });
});
