// bench/cluster.mjs - admin-side helpers for bench/run (Node 20, fetch only). The root token comes in
// KW_ROOT (never argv); secrets are written to files the bench deletes. All traffic is to 127.0.0.1.
//   setup URL N KEYS_OUT       one service and N keys on URL; secrets one per line into KEYS_OUT
//                              (mode 0600); prints "SERVICE_ID KEY_ID" (the first key's id)
//   load URL SERVICE RATE SECS admin writes at a fixed RATE per second for SECS seconds (a key creation,
//                              then an update of that key's description, alternately); prints
//                              "writes N ok N failed N rate R"
//   propagation A B KEY_ID SECRET_FILE N
//                              N flips of one key on node A (disable, enable, ...); after each, polls
//                              B's auth/check until its answer flips; prints "propagation N p50 MS p99 MS max MS"
//   machine URL DIR            issue 8: one service with an API key, a service user (an OAuth client) and
//                              an access key of it; writes DIR/apikey.txt (the key), DIR/client.txt
//                              ("CLIENT_ID CLIENT_SECRET") and DIR/accesskey.txt ("ACCESS_KEY_ID SECRET"),
//                              mode 0600; prints "SERVICE_ID SERVICE_USER_ID ACCESS_KEY_ID"
//   jwt URL DIR                one client-credentials access token for DIR/client.txt into DIR/jwt.txt
//   hmac DIR N OUT             N seed-004 exchange bodies for DIR/accesskey.txt, one JSON per line into OUT
//                              (mode 0600): a fresh nonce each, timestamp now, the HMAC-SHA256 signature
//   records URL N DIR          issue 9: one service, an `attributes`-scope API key (no
//                              archiveAfterExtractSeconds: nothing archives mid-run) and N candidates
//                              created through the operator API, each with ~1 KiB of realistic attributes
//                              (status approved for every other one); writes DIR/records-key.txt (the key,
//                              mode 0600) and DIR/refs.txt (the refIds, in creation order); prints
//                              "SERVICE_ID ATTRIBUTE_BYTES" (the mean attributes JSON size)
//   documents URL DIR          issue 10: one service and a service user with documents:write, and a token of
//                              it into DIR/doc-token.txt (mode 0600); prints "SERVICE_ID SERVICE_USER_ID"
//   hooks URL N RECEIVER DIR   issue 10: one service, N candidates, a key with candidates:archive and a
//                              webhook to RECEIVER (http://127.0.0.1:PORT/...) for candidate.archived; then
//                              archives the N in calls of 1000 (one outbox row per candidate, enqueued in
//                              the archive's transaction) and waits (at most 300 s) until the receiver
//                              has N distinct deliveries; prints "hooks N unique U duplicates D missing M
//                              enqueue_ms E total_ms T delivery_ms L" (E: the archive calls; T: from the
//                              first archive call to the last delivery; L: first to last delivery)
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const ROOT = process.env.KW_ROOT || '';
if (!ROOT) throw new Error('KW_ROOT (the root token) must be set');

async function call(base, method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${ROOT}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15000),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function setup(base, n, out) {
  const s = await call(base, 'POST', '/api/v1/services', { name: 'bench' });
  if (s.status !== 201) throw new Error(`service create: ${s.status}`);
  const secrets = [];
  let first = null;
  for (let i = 0; i < n; i += 16) {
    const batch = await Promise.all(Array.from({ length: Math.min(16, n - i) }, () =>
      call(base, 'POST', `/api/v1/services/${s.json.id}/keys`, { scope: 'metadata' })));
    for (const k of batch) {
      if (k.status !== 201) throw new Error(`key create: ${k.status}`);
      first ??= k.json.id;
      secrets.push(k.json.key);
    }
  }
  writeFileSync(out, secrets.join('\n') + '\n', { mode: 0o600 });
  console.log(`${s.json.id} ${first}`);
}

// Fixed rate: write i starts at t0 + i/rate whatever the previous ones are doing (at most 64 in flight).
async function load(base, svc, rate, secs) {
  const total = Math.round(rate * secs), t0 = performance.now();
  let ok = 0, failed = 0, inflight = 0, lastKey = null;
  const pending = [];
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inflight >= 64) { failed++; continue; }
    inflight++;
    const p = (i % 2 === 1 && lastKey
      ? call(base, 'PATCH', `/api/v1/keys/${lastKey}`, { description: `bench update ${i}` })
      : call(base, 'POST', `/api/v1/services/${svc}/keys`, { scope: 'metadata', description: `bench ${i}` }))
      .then((r) => {
        if (r.status === 200 || r.status === 201) ok++;
        else failed++;
        if (r.status === 201) lastKey = r.json.id;
      }, () => { failed++; })
      .finally(() => { inflight--; });
    pending.push(p);
  }
  await Promise.all(pending);
  const took = (performance.now() - t0) / 1000;
  console.log(`writes ${total} ok ${ok} failed ${failed} rate ${(ok / took).toFixed(1)}`);
}

async function checkStatus(base, secret) {
  const r = await fetch(`${base}/api/v1/auth/check`, { headers: { Authorization: `Bearer ${secret}` } });
  await r.arrayBuffer();
  return r.status;
}

async function propagation(a, b, keyId, secretFile, n) {
  const secret = readFileSync(secretFile, 'utf8').split('\n')[0];
  const ms = [];
  let enabled = (await checkStatus(b, secret)) === 204;
  for (let i = 0; i < n; i++) {
    const want = enabled ? 401 : 204;
    const t0 = performance.now();
    const r = await call(a, 'PATCH', `/api/v1/keys/${keyId}`, { enabled: !enabled });
    if (r.status !== 200) throw new Error(`flip on A: ${r.status}`);
    for (;;) {
      if ((await checkStatus(b, secret)) === want) break;
      if (performance.now() - t0 > 10000) throw new Error('node B did not follow within 10 s');
    }
    ms.push(performance.now() - t0);
    enabled = !enabled;
    await new Promise((res) => setTimeout(res, 20 + Math.random() * 30)); // not in phase with any poll
  }
  ms.sort((x, y) => x - y);
  const q = (p) => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)];
  console.log(`propagation ${n} p50 ${q(0.5).toFixed(1)} p99 ${q(0.99).toFixed(1)} max ${ms[ms.length - 1].toFixed(1)}`);
}

function must(r, want, what) {
  if (r.status !== want) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

async function machine(base, dir) {
  const s = must(await call(base, 'POST', '/api/v1/services', { name: 'bench machine' }), 201, 'service create');
  const k = must(await call(base, 'POST', `/api/v1/services/${s.id}/keys`, { scope: 'metadata' }), 201, 'key create');
  const su = must(await call(base, 'POST', `/api/v1/services/${s.id}/service-users`,
    { name: 'bench', sourceSystem: 'bench', permissions: ['documents:read'] }), 201, 'service user create');
  const ak = must(await call(base, 'POST', `/api/v1/services/${s.id}/access-keys`, { serviceUserId: su.id }),
    201, 'access key create');
  writeFileSync(`${dir}/apikey.txt`, `${k.key}\n`, { mode: 0o600 });
  writeFileSync(`${dir}/client.txt`, `${su.clientId} ${su.clientSecret}\n`, { mode: 0o600 });
  writeFileSync(`${dir}/accesskey.txt`, `${ak.accessKeyId} ${ak.secretAccessKey}\n`, { mode: 0o600 });
  console.log(`${s.id} ${su.id} ${ak.accessKeyId}`);
}

function readPair(file) {
  const [a, b] = readFileSync(file, 'utf8').trim().split(' ');
  return [a, b];
}

async function jwt(base, dir) {
  const [id, secret] = readPair(`${dir}/client.txt`);
  const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
  const r = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
    signal: AbortSignal.timeout(15000),
  });
  const body = await r.json();
  if (r.status !== 200 || typeof body.access_token !== 'string') throw new Error(`oauth/token: ${r.status}`);
  writeFileSync(`${dir}/jwt.txt`, `${body.access_token}\n`, { mode: 0o600 });
}

function hmac(dir, n, out) {
  const [id, secret] = readPair(`${dir}/accesskey.txt`);
  const ts = Math.floor(Date.now() / 1000);
  const rnd = randomBytes(18 * n);
  const lines = new Array(n);
  for (let i = 0; i < n; i++) {
    const nonce = rnd.subarray(18 * i, 18 * i + 18).toString('base64url'); // 24 of [A-Za-z0-9_-]
    const signature = createHmac('sha256', secret).update(`${id}.${ts}.${nonce}`).digest('base64');
    lines[i] = JSON.stringify({ accessKeyId: id, timestamp: ts, nonce, signature });
  }
  writeFileSync(out, lines.join('\n') + '\n', { mode: 0o600 });
}

// ~1 KiB of attributes, different for each i (deterministic: the same run seeds the same records).
const GIVEN = ['Ada', 'Grace', 'Alan', 'Katherine', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Tim', 'Radia'];
const FAMILY = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Berners-Lee', 'Perlman'];
const CITY = [['Lisbon', 'PT', '1100-148'], ['Tallinn', 'EE', '10111'], ['Utrecht', 'NL', '3511 AB'], ['Lyon', 'FR', '69002'],
  ['Kraków', 'PL', '31-042'], ['Porto', 'PT', '4050-123'], ['Gent', 'BE', '9000'], ['Bergen', 'NO', '5003']];
function attributes(i) {
  const g = GIVEN[i % GIVEN.length], f = FAMILY[(i * 7) % FAMILY.length], [city, cc, zip] = CITY[(i * 3) % CITY.length];
  const d = (n, w) => String(n).padStart(w, '0');
  return {
    given_name: g, middle_name: i % 3 === 0 ? 'Marie' : '', family_name: f,
    date_of_birth: `${1950 + (i % 50)}-${d(1 + (i % 12), 2)}-${d(1 + (i % 28), 2)}`,
    place_of_birth: CITY[(i * 5) % CITY.length][0], nationality: cc, gender: i % 2 ? 'F' : 'M',
    email: `${g.toLowerCase()}.${f.toLowerCase()}${i}@example.org`, phone: `+351 21 ${d(i % 1000, 3)} ${d(i % 10000, 4)}`,
    address: { line1: `Rua das Flores ${1 + (i % 200)}, ${1 + (i % 9)}º esq.`, line2: 'Edifício Horizonte', city,
      postal_code: zip, region: '', country: cc },
    document: { type: i % 4 ? 'passport' : 'id_card', number: `P${d((i * 7919) % 100000000, 8)}`, issuing_country: cc,
      issue_date: `${2015 + (i % 8)}-03-14`, expiry_date: `${2025 + (i % 8)}-03-13`, mrz_line1: `P<${cc}${f.toUpperCase()}<<${g.toUpperCase()}`.padEnd(44, '<') },
    tax_id: `${cc}${d((i * 104729) % 1000000000, 9)}`, occupation: 'software engineer', employer: 'Example Analytical Engines Lda',
    source_of_funds: 'salary', expected_monthly_volume_eur: 2500 + (i % 40) * 125, pep: false, sanctions_hit: false,
    risk_score: (i * 37) % 100, verification: { method: i % 2 ? 'video' : 'nfc_chip', reviewer: `reviewer-${d(i % 17, 2)}`,
      checked_at: `2026-11-${d(1 + (i % 28), 2)}T10:${d(i % 60, 2)}:00Z` }, consent: { terms: '2026-01-15', marketing: i % 5 === 0 },
    notes: 'Document and selfie matched by the reviewer; address confirmed against a utility bill dated within three months.',
  };
}

async function records(base, n, dir) {
  const s = must(await call(base, 'POST', '/api/v1/services', { name: 'bench records' }), 201, 'service create');
  const k = must(await call(base, 'POST', `/api/v1/services/${s.id}/keys`,
    { scope: 'attributes', description: 'bench extract' }), 201, 'key create');
  if (k.archiveAfterExtractSeconds != null) throw new Error('the bench key must not archive after extract');
  const refs = [];
  let bytes = 0;
  for (let i = 0; i < n; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, n - i) }, async (_, j) => {
      const ref = `bench-${String(i + j).padStart(6, '0')}`, attrs = attributes(i + j);
      bytes += Buffer.byteLength(JSON.stringify(attrs));
      must(await call(base, 'POST', `/api/v1/services/${s.id}/candidates`,
        { refId: ref, identityId: `bp-${i + j}`, attributes: attrs }), 201, 'candidate create');
      if ((i + j) % 2 === 0) {
        for (const status of ['waiting', 'inreview', 'approved'])
          must(await call(base, 'POST', `/api/v1/services/${s.id}/candidates/${ref}/status`, { status, comment: 'bench' }),
            200, 'status move');
      }
    }));
    for (let j = i; j < Math.min(n, i + 16); j++) refs.push(`bench-${String(j).padStart(6, '0')}`);
  }
  writeFileSync(`${dir}/records-key.txt`, `${k.key}\n`, { mode: 0o600 });
  writeFileSync(`${dir}/refs.txt`, refs.join('\n') + '\n');
  console.log(`${s.id} ${Math.round(bytes / n)}`);
}

async function documents(base, dir) {
  const s = must(await call(base, 'POST', '/api/v1/services', { name: 'bench documents' }), 201, 'service create');
  const u = must(await call(base, 'POST', `/api/v1/services/${s.id}/service-users`,
    { name: 'vkyc', sourceSystem: 'vkyc', permissions: ['documents:write', 'documents:read'] }), 201, 'service user create');
  const t = must(await call(base, 'POST', `/api/v1/service-users/${u.id}/tokens`, { label: 'bench' }), 201, 'token create');
  writeFileSync(`${dir}/doc-token.txt`, `${t.token}\n`, { mode: 0o600 });
  console.log(`${s.id} ${u.id}`);
}

async function stats(receiver) {
  const r = await fetch(`${receiver}/stats`, { signal: AbortSignal.timeout(5000) });
  return r.json();
}

async function hooks(base, n, receiver, dir) {
  const s = must(await call(base, 'POST', '/api/v1/services', { name: 'bench webhooks' }), 201, 'service create');
  const k = must(await call(base, 'POST', `/api/v1/services/${s.id}/keys`,
    { scope: 'metadata', permissions: ['candidates:archive'], description: 'bench archive' }), 201, 'key create');
  const refs = Array.from({ length: n }, (_, i) => `hook-${String(i).padStart(6, '0')}`);
  for (let i = 0; i < n; i += 16)
    await Promise.all(refs.slice(i, i + 16).map(async (ref, j) => must(await call(base, 'POST',
      `/api/v1/services/${s.id}/candidates`, { refId: ref, attributes: attributes(i + j) }), 201, 'candidate create')));
  must(await call(base, 'POST', `/api/v1/services/${s.id}/webhooks`,
    { url: `${receiver}/hook`, events: ['candidate.archived'], description: 'bench receiver' }), 201, 'webhook create');
  const before = await stats(receiver);
  if (before.count !== 0) throw new Error(`the receiver already has ${before.count} deliveries`);
  const t0 = Date.now();
  for (let i = 0; i < n; i += 1000) {
    const r = await fetch(`${base}/api/v1/candidates/archive`, {
      method: 'POST', headers: { 'X-API-Key': k.key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ refIds: refs.slice(i, i + 1000) }), signal: AbortSignal.timeout(60000),
    });
    const body = await r.json();
    if (r.status !== 200 || !body.results.every((x) => x.result === 'archived'))
      throw new Error(`bulk archive: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  const t1 = Date.now();
  let st = await stats(receiver);
  while (st.unique < n && Date.now() - t0 < 300000) {
    await new Promise((res) => setTimeout(res, 50));
    st = await stats(receiver);
  }
  if (st.unique < n) throw new Error(`only ${st.unique} of ${n} deliveries arrived within 300 s`);
  await new Promise((res) => setTimeout(res, 1000)); // late duplicates, if any, would show now
  st = await stats(receiver);
  writeFileSync(`${dir}/hooks-service.txt`, `${s.id}\n`);
  console.log(`hooks ${n} unique ${st.unique} duplicates ${st.duplicates} missing ${st.missingHeaders} ` +
    `enqueue_ms ${t1 - t0} total_ms ${st.lastMs - t0} delivery_ms ${st.lastMs - st.firstMs}`);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'setup') await setup(args[0], Number(args[1]), args[2]);
else if (cmd === 'load') await load(args[0], args[1], Number(args[2]), Number(args[3]));
else if (cmd === 'propagation') await propagation(args[0], args[1], args[2], args[3], Number(args[4]));
else if (cmd === 'machine') await machine(args[0], args[1]);
else if (cmd === 'jwt') await jwt(args[0], args[1]);
else if (cmd === 'hmac') hmac(args[0], Number(args[1]), args[2]);
else if (cmd === 'records') await records(args[0], Number(args[1]), args[2]);
else if (cmd === 'documents') await documents(args[0], args[1]);
else if (cmd === 'hooks') await hooks(args[0], Number(args[1]), args[2], args[3]);
else throw new Error(`unknown command ${cmd}`);
