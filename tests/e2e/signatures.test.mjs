// RFC 9421 HTTP Message Signatures with an access key (hmac-sha256, keyid = accessKeyId), signed by the
// npm http-message-signatures library as an integrator would, sent to POST /api/v1/keys/verify (an
// integrator route with a body, so content-digest is covered): accepted, then tampered method, path and
// body, stale created, a replay, uncovered components, unknown and disabled keys, and malformed headers,
// each a 401 with its own code and never a 5xx.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { httpbis } from 'http-message-signatures';
import { api, createKey, createService, startServer } from './lib/server.mjs';

const PATH = '/api/v1/keys/verify';

function digest(body) {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

// Signs {method, url, headers} with the access key; returns the headers to send.
async function sign(ak, { method = 'POST', url, headers = {}, fields, paramValues, params, alg = 'hmac-sha256' }) {
  const key = {
    id: ak.accessKeyId,
    alg,
    sign: async (data) => createHmac('sha256', Buffer.from(ak.secretAccessKey, 'utf8')).update(data).digest(),
  };
  // A nonce makes two identical requests signed in the same second two signatures (else the second is a
  // replay of the first, and keyward refuses it).
  const signed = await httpbis.signMessage(
    {
      key,
      fields: fields ?? ['@method', '@authority', '@path', 'content-type', 'content-digest'],
      params: params ?? ['keyid', 'alg', 'created', 'expires', 'nonce'],
      paramValues: { nonce: randomBytes(12).toString('base64url'), ...(paramValues ?? {}) },
    },
    { method, url, headers },
  );
  return signed.headers;
}

describe('RFC 9421 signed requests', () => {
  let s, svc, su, ak, target, base;
  // A signed POST /keys/verify of {key: target.key}; opts override what is signed or sent.
  async function signedVerify(opts = {}) {
    const body = opts.body ?? JSON.stringify({ key: target.key });
    const signedBody = opts.signedBody ?? body;
    const headers = await sign(opts.ak ?? ak, {
      method: opts.signMethod ?? 'POST',
      url: base + (opts.signPath ?? PATH),
      headers: { 'content-type': 'application/json', 'content-digest': digest(signedBody), ...(opts.extra ?? {}) },
      fields: opts.fields,
      paramValues: opts.paramValues,
      params: opts.params,
      alg: opts.alg,
    });
    const send = { ...headers, ...(opts.send ?? {}) };
    for (const name of opts.drop ?? []) for (const k of Object.keys(send)) if (k.toLowerCase() === name) delete send[k];
    const r = await api(s.url, 'POST', PATH, body, { headers: send });
    return { r, headers, body };
  }

  before(async () => {
    s = await startServer();
    base = s.url;
    svc = await createService(s);
    target = await createKey(s, svc.id);
    const u = await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
      { name: 'VKYC', sourceSystem: 'vkyc', permissions: ['keys:verify'] });
    assert.equal(u.status, 201, u.text);
    su = u.json;
    const k = await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: su.id });
    assert.equal(k.status, 201, k.text);
    ak = k.json;
    assert.match(ak.accessKeyId, /^KWAK[A-Z2-7]{16}$/);
  });
  after(() => s.cleanup());

  test('a request signed by http-message-signatures is accepted, as the service user', async () => {
    const { r, headers } = await signedVerify();
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.valid, true);
    assert.equal(r.json.keyId, target.id);
    assert.match(headers['Signature-Input'] || headers['signature-input'], /keyid="KWAK/);
    // a fresh signature for the same request is another request: accepted too
    const again = await signedVerify();
    assert.equal(again.r.status, 200, again.r.text);
  });

  test('a replayed signature is refused', async () => {
    const { r, headers, body } = await signedVerify();
    assert.equal(r.status, 200, r.text);
    const replay = await api(s.url, 'POST', PATH, body, { headers });
    assert.equal(replay.status, 401, replay.text);
    assert.equal(replay.json.code, 'SIGNATURE_REPLAYED');
  });

  test('tampered method, path and body are refused', async () => {
    const m = await signedVerify({ signMethod: 'PUT' });
    assert.equal(m.r.status, 401);
    assert.equal(m.r.json.code, 'SIGNATURE_MISMATCH');
    const p = await signedVerify({ signPath: '/api/v1/keys/verifx' });
    assert.equal(p.r.status, 401);
    assert.equal(p.r.json.code, 'SIGNATURE_MISMATCH');
    // the body changed after signing, its signed Content-Digest kept: the digest check catches it
    const b = await signedVerify({ signedBody: JSON.stringify({ key: 'kw_other' }) });
    assert.equal(b.r.status, 401);
    assert.equal(b.r.json.code, 'CONTENT_DIGEST_MISMATCH');
    // a Content-Digest header changed after signing: the HMAC catches it
    const d = await signedVerify({ send: { 'content-digest': digest('{}') } });
    assert.equal(d.r.status, 401);
    assert.equal(d.r.json.code, 'SIGNATURE_MISMATCH');
    // a wrong secret
    // (the last character changed to another one: a secret ending in 'x' made this case pass 1 run in ~64)
    const sak = ak.secretAccessKey;
    const w = await signedVerify({ ak: { ...ak, secretAccessKey: sak.slice(0, -1) + (sak.at(-1) === 'x' ? 'y' : 'x') } });
    assert.equal(w.r.status, 401);
    assert.equal(w.r.json.code, 'SIGNATURE_MISMATCH');
  });

  test('created outside 300 s, or expires past, is refused', async () => {
    const old = await signedVerify({ paramValues: { created: new Date(Date.now() - 400e3), expires: new Date(Date.now() + 60e3) } });
    assert.equal(old.r.status, 401);
    assert.equal(old.r.json.code, 'SIGNATURE_STALE');
    const future = await signedVerify({ paramValues: { created: new Date(Date.now() + 400e3) } });
    assert.equal(future.r.json.code, 'SIGNATURE_STALE');
    const none = await signedVerify({ paramValues: { created: null } });
    assert.equal(none.r.json.code, 'SIGNATURE_STALE');
    const expired = await signedVerify({ paramValues: { created: new Date(Date.now() - 20e3), expires: new Date(Date.now() - 10e3) } });
    assert.equal(expired.r.json.code, 'SIGNATURE_EXPIRED');
  });

  test('coverage: @method, @authority, @path and content-digest with a body', async () => {
    for (const fields of [['@authority', '@path', 'content-digest'], ['@method', '@path', 'content-digest'],
      ['@method', '@authority', 'content-digest'], ['@method', '@authority', '@path']]) {
      const { r } = await signedVerify({ fields });
      assert.equal(r.status, 401, fields.join());
      assert.equal(r.json.code, 'SIGNATURE_COVERAGE', fields.join());
    }
    // @target-uri and @query are extra components keyward rebuilds too
    const more = await signedVerify({ fields: ['@method', '@authority', '@path', '@query', '@target-uri', '@scheme', 'content-digest'] });
    assert.equal(more.r.status, 200, more.r.text);
    const missing = await signedVerify({ fields: ['@method', '@authority', '@path', 'content-digest', 'x-not-sent'],
      extra: { 'x-not-sent': 'v' }, drop: ['x-not-sent'] });
    assert.equal(missing.r.status, 401);
    assert.equal(missing.r.json.code, 'SIGNATURE_COMPONENT_MISSING');
  });

  test('unknown, disabled and deleted access keys', async () => {
    const unknown = await signedVerify({ ak: { ...ak, accessKeyId: 'KWAKAAAAAAAAAAAAAAAA' } });
    assert.equal(unknown.r.status, 401);
    assert.equal(unknown.r.json.code, 'ACCESS_KEY_NOT_FOUND');
    const k2 = (await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: su.id })).json;
    assert.equal((await signedVerify({ ak: k2 })).r.status, 200);
    assert.equal((await s.api('PATCH', `/api/v1/access-keys/${k2.accessKeyId}`, { enabled: false })).status, 200);
    const off = await signedVerify({ ak: k2 });
    assert.equal(off.r.status, 401);
    assert.equal(off.r.json.code, 'ACCESS_KEY_DISABLED');
    assert.equal((await s.api('DELETE', `/api/v1/access-keys/${k2.accessKeyId}`)).status, 204);
    const gone = await signedVerify({ ak: k2 });
    assert.equal(gone.r.json.code, 'ACCESS_KEY_NOT_FOUND');
  });

  test('malformed signature headers: 401 with a code, never a 5xx', async () => {
    const body = JSON.stringify({ key: target.key });
    const cases = [
      [{ Signature: 'sig=:AAAA:' }, 'SIGNATURE_MALFORMED'],
      [{ 'Signature-Input': 'sig=("@method");keyid="x"' }, 'SIGNATURE_MALFORMED'],
      [{ 'Signature-Input': 'sig=("@method"', Signature: 'sig=:AAAA:' }, 'SIGNATURE_MALFORMED'],
      [{ 'Signature-Input': 'sig=("@method");created=1', Signature: 'sig=AAAA' }, 'SIGNATURE_MALFORMED'],
      [{ 'Signature-Input': 'sig=("@method" "@method")', Signature: 'sig=:AAAA:' }, 'SIGNATURE_MALFORMED'],
      [{ 'Signature-Input': 'a=("@method")', Signature: 'b=:AAAA:' }, 'SIGNATURE_MALFORMED'],
      [{ 'Signature-Input': 'sig=("@status")', Signature: 'sig=:AAAA:' }, 'SIGNATURE_UNSUPPORTED'],
      [{ 'Signature-Input': `sig=("@method");keyid="${'K'.repeat(300)}"`, Signature: 'sig=:AAAA:' }, 'SIGNATURE_MALFORMED'],
      [{ 'Signature-Input': `sig=("@method" "@authority" "@path");created=${Math.floor(Date.now() / 1000)};keyid="nope"`, Signature: 'sig=:AAAA:' }, 'ACCESS_KEY_NOT_FOUND'],
      [{ 'Signature-Input': 'x'.repeat(5000), Signature: 'sig=:AAAA:' }, 'SIGNATURE_MALFORMED'],
    ];
    for (const [headers, code] of cases) {
      const r = await api(s.url, 'POST', PATH, body, { headers });
      assert.equal(r.status, 401, `${JSON.stringify(headers).slice(0, 120)}: ${r.text}`);
      assert.equal(r.json.code, code, JSON.stringify(headers).slice(0, 120));
      assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    }
    const alg = await signedVerify({ alg: 'ed25519' });
    assert.equal(alg.r.status, 401);
    assert.equal(alg.r.json.code, 'SIGNATURE_UNSUPPORTED');
    // a signature and a bearer at once: which one is meant cannot be known
    const { headers } = await signedVerify();
    const both = await api(s.url, 'POST', PATH, body, { headers: { ...headers, Authorization: `Bearer ${s.rootToken}` } });
    assert.equal(both.status, 400);
    assert.equal(both.json.code, 'AMBIGUOUS_CREDENTIALS');
  });

  test('a disabled service user stops its signed requests at once', async () => {
    const u = (await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
      { name: 'Scanner', sourceSystem: 'branch_scan', permissions: ['keys:verify'] })).json;
    const k = (await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: u.id })).json;
    assert.equal((await signedVerify({ ak: k })).r.status, 200);
    assert.equal((await s.api('PATCH', `/api/v1/service-users/${u.id}`, { enabled: false })).status, 200);
    const off = await signedVerify({ ak: k });
    assert.equal(off.r.status, 401);
    assert.equal(off.r.json.code, 'ACCESS_KEY_DISABLED');
  });
});
