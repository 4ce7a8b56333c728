// Operations endpoints: health, readiness, Prometheus metrics, request ids.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, createKey, createService, startServer, verify } from './lib/server.mjs';

describe('operations', () => {
  let s;
  before(async () => { s = await startServer(); });
  after(() => s.cleanup());

  test('healthz and readyz', async () => {
    const h = await api(s.url, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: 'ok' });
    assert.deepEqual((await api(s.url, 'GET', '/readyz')).json, { status: 'ready' });
  });

  test('request ids are issued, and a sane client id is echoed', async () => {
    const a = await api(s.url, 'GET', '/healthz');
    const b = await api(s.url, 'GET', '/healthz');
    assert.ok(a.headers.get('x-request-id'));
    assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
    const c = await api(s.url, 'GET', '/healthz', undefined, { headers: { 'X-Request-Id': 'trace-abc.123' } });
    assert.equal(c.headers.get('x-request-id'), 'trace-abc.123');
    const long64 = 'r'.repeat(64);
    assert.equal((await api(s.url, 'GET', '/healthz', undefined, { headers: { 'X-Request-Id': long64 } })).headers.get('x-request-id'), long64);
    const long65 = 'r'.repeat(65);
    assert.notEqual((await api(s.url, 'GET', '/healthz', undefined, { headers: { 'X-Request-Id': long65 } })).headers.get('x-request-id'), long65);
    const d = await api(s.url, 'GET', '/healthz', undefined, { headers: { 'X-Request-Id': 'bad id with spaces' } });
    assert.notEqual(d.headers.get('x-request-id'), 'bad id with spaces');
    const e = await api(s.url, 'GET', '/nope', undefined, { headers: { 'X-Request-Id': 'trace-404' } });
    assert.equal(e.json.requestId, 'trace-404');
  });

  test('metrics count requests, verifications and latency', async () => {
    const svc = await createService(s);
    const k = await createKey(s, svc.id);
    const text0 = await (await fetch(`${s.url}/metrics`)).text();
    const count = (text, re) => Number((text.match(re) || [0, 0])[1]);
    const valid0 = count(text0, /keyward_verifications_total\{outcome="VALID"\} (\d+)/);
    await verify(s, k.key);
    await verify(s, 'garbage');
    await api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { 'X-API-Key': k.key } });
    const r = await fetch(`${s.url}/metrics`);
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    const text = await r.text();
    assert.equal(count(text, /keyward_verifications_total\{outcome="VALID"\} (\d+)/), valid0 + 2);
    assert.ok(count(text, /keyward_verifications_total\{outcome="MALFORMED"\} (\d+)/) >= 1);
    assert.match(text, /keyward_http_requests_total\{route="\/api\/v1\/auth\/check",status="204"\} \d+/);
    assert.match(text, /keyward_http_requests_total\{route="\/api\/v1\/services\/\{serviceId\}\/keys",status="201"\} 1/);
    assert.match(text, /keyward_http_request_duration_seconds_bucket\{le="\+Inf"\} \d+/);
    assert.match(text, /keyward_http_request_duration_seconds_count \d+/);
    assert.match(text, /keyward_keys_cached 1/);
  });
});
