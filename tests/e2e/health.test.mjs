// Operations endpoints: health, readiness, Prometheus metrics, request ids.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, createKey, createService, sleep, startServer, verify } from './lib/server.mjs';

// The value of one sample line (exact label set), 0 when the series is absent.
function sample(text, name, labels = '') {
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = text.match(new RegExp(`^${esc(name)}${labels ? esc(labels) : ''} ([0-9.eE+-]+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

describe('operations', () => {
  let s;
  before(async () => { s = await startServer(); });
  after(() => s.cleanup());

  test('healthz and readyz answer JSON without credentials', async () => {
    const h = await api(s.url, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.match(h.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(h.json, { status: 'ok' });
    const r = await api(s.url, 'GET', '/readyz');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(r.json, { status: 'ready' });
  });

  test('every response carries an X-Request-Id, fresh each time', async () => {
    const svc = await createService(s, { name: 'ids' });
    const responses = [
      await api(s.url, 'GET', '/healthz'),
      await api(s.url, 'GET', '/readyz'),
      await s.api('GET', '/api/v1/services'),
      await s.api('POST', '/api/v1/services', { name: 'ids 2' }),
      await s.api('GET', '/api/v1/nope'),
      await s.api('PUT', `/api/v1/services/${svc.id}`),
      await api(s.url, 'GET', '/api/v1/services'),
      await api(s.url, 'GET', '/api/v1/auth/check'),
      await s.api('POST', '/api/v1/services', '{', {}),
    ];
    const m = await fetch(`${s.url}/metrics`);
    await m.text();
    const ids = [...responses.map((r) => r.headers.get('x-request-id')), m.headers.get('x-request-id')];
    for (const [i, id] of ids.entries()) assert.ok(id && id.length > 0 && id.length <= 64, `response ${i} has no usable X-Request-Id: ${id}`);
    assert.equal(new Set(ids).size, ids.length, 'request ids are unique');
    // A problem body names the same request id as the header.
    for (const r of responses.filter((x) => x.status >= 400)) assert.equal(r.json.requestId, r.headers.get('x-request-id'));
  });

  test('a sane client X-Request-Id (<= 64 safe chars) is echoed, others are replaced', async () => {
    const echo = async (id) => (await api(s.url, 'GET', '/healthz', undefined, { headers: { 'X-Request-Id': id } })).headers.get('x-request-id');
    assert.equal(await echo('trace-abc.123'), 'trace-abc.123');
    assert.equal(await echo('r'.repeat(64)), 'r'.repeat(64));
    const long = await echo('r'.repeat(65));
    assert.ok(long && long !== 'r'.repeat(65));
    const spaced = await echo('bad id with spaces');
    assert.ok(spaced && spaced !== 'bad id with spaces');
    const quoted = await echo('x"y<z>');
    assert.ok(quoted && quoted !== 'x"y<z>');
    const e = await api(s.url, 'GET', '/api/v1/nope', undefined, { headers: { 'X-Request-Id': 'trace-404' } });
    assert.equal(e.headers.get('x-request-id'), 'trace-404');
    assert.equal(e.json.requestId, 'trace-404');
    const w = await s.api('POST', '/api/v1/services', { name: 'traced' }, { headers: { 'X-Request-Id': 'trace-201' } });
    assert.equal(w.status, 201);
    assert.equal(w.headers.get('x-request-id'), 'trace-201');
  });

  test('metrics: Prometheus text with every documented family', async () => {
    const r = await fetch(`${s.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; ?version=0\.0\.4/);
    const text = await r.text();
    assert.match(text, /^# TYPE keyward_http_requests_total counter$/m);
    assert.match(text, /^# TYPE keyward_verifications_total counter$/m);
    assert.match(text, /^# TYPE keyward_http_request_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE keyward_keys_cached gauge$/m);
    assert.match(text, /^keyward_http_requests_total\{route="[^"]+",status="\d{3}"\} \d+$/m);
    assert.match(text, /^keyward_http_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
    assert.match(text, /^keyward_http_request_duration_seconds_sum [0-9.eE+-]+$/m);
    assert.match(text, /^keyward_http_request_duration_seconds_count \d+$/m);
    assert.match(text, /^keyward_keys_cached \d+$/m);
    // Histogram sanity: cumulative buckets never decrease, +Inf equals _count.
    const buckets = [...text.matchAll(/^keyward_http_request_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)]
      .map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
    assert.ok(buckets.length >= 2);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(buckets[i][0] > buckets[i - 1][0], 'buckets are in increasing le order');
      assert.ok(buckets[i][1] >= buckets[i - 1][1], 'bucket counts are cumulative');
    }
    assert.equal(buckets.at(-1)[0], Infinity);
    assert.equal(buckets.at(-1)[1], sample(text, 'keyward_http_request_duration_seconds_count'));
  });

  test('metrics: counters move with verifications of every outcome, requests and the key cache', async () => {
    const svc = await createService(s, { name: 'metrics' });
    const mk = () => createKey(s, svc.id);
    const [valid, disabled, revoked, rolled, deleted] = [await mk(), await mk(), await mk(), await mk(), await mk()];
    await s.api('PATCH', `/api/v1/keys/${disabled.id}`, { enabled: false });
    await s.api('POST', `/api/v1/keys/${revoked.id}/revoke`);
    assert.equal((await s.api('POST', `/api/v1/keys/${rolled.id}/roll`, { expireOldAfterSeconds: 0 })).status, 201);
    const get = async () => (await fetch(`${s.url}/metrics`)).text();
    // keyward records a request's metrics just after its response is sent, so a scrape right
    // after a response may run a moment ahead of it (another worker thread): poll briefly.
    const getUntil = async (pred) => {
      let text;
      for (let i = 0; i < 20; i++) {
        text = await get();
        if (pred(text)) break;
        await sleep(25);
      }
      return text;
    };
    let t0 = await get();
    assert.equal((await s.api('DELETE', `/api/v1/keys/${deleted.id}`)).status, 204);
    let t1 = await get();
    assert.equal(sample(t1, 'keyward_keys_cached'), sample(t0, 'keyward_keys_cached') - 1, 'a deleted key leaves the cache');
    await mk();
    t0 = await get();
    assert.equal(sample(t0, 'keyward_keys_cached'), sample(t1, 'keyward_keys_cached') + 1, 'a new key enters the cache');

    const outcomes = {
      VALID: valid.key, NOT_FOUND: deleted.key, MALFORMED: 'garbage', DISABLED: disabled.key, REVOKED: revoked.key, EXPIRED: rolled.key,
    };
    for (const [code, key] of Object.entries(outcomes)) assert.equal((await verify(s, key)).code, code);
    const base = t0;
    t1 = await getUntil((x) => Object.keys(outcomes).every((c) => sample(x, 'keyward_verifications_total', `{outcome="${c}"}`)
      >= sample(base, 'keyward_verifications_total', `{outcome="${c}"}`) + 1));
    for (const code of Object.keys(outcomes)) {
      const lbl = `{outcome="${code}"}`;
      assert.equal(sample(t1, 'keyward_verifications_total', lbl), sample(t0, 'keyward_verifications_total', lbl) + 1, `outcome ${code}`);
    }
    const route = (r, st) => `{route="${r}",status="${st}"}`;
    assert.equal(sample(t1, 'keyward_http_requests_total', route('/api/v1/keys/verify', '200')),
      sample(t0, 'keyward_http_requests_total', route('/api/v1/keys/verify', '200')) + 6);

    // /auth/check verifications count too (both endpoints are verifications).
    const c = await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': valid.key } });
    assert.equal(c.status, 204);
    const t2 = await getUntil((x) => sample(x, 'keyward_http_requests_total', route('/api/v1/auth/check', '204'))
      > sample(t1, 'keyward_http_requests_total', route('/api/v1/auth/check', '204')));
    assert.equal(sample(t2, 'keyward_verifications_total', '{outcome="VALID"}'), sample(t1, 'keyward_verifications_total', '{outcome="VALID"}') + 1);
    assert.equal(sample(t2, 'keyward_http_requests_total', route('/api/v1/auth/check', '204')),
      sample(t1, 'keyward_http_requests_total', route('/api/v1/auth/check', '204')) + 1);
    assert.ok(sample(t2, 'keyward_http_request_duration_seconds_count') > sample(t1, 'keyward_http_request_duration_seconds_count'));
    // Routes are templates, never raw ids (bounded label cardinality).
    assert.doesNotMatch(t2, /route="[^"]*(svc_|key_)[0-9A-Za-z]/);
    assert.match(t2, /keyward_http_requests_total\{route="\/api\/v1\/services\/\{serviceId\}\/keys",status="201"\} \d+/);
  });
});
