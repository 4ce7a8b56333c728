// The HTTP layer as a strict client reads it: HEAD, /metrics methods and queries, X-Request-Id on
// every response, body caps answered before the body, one keyward per address, and no busy loop at
// the file-descriptor limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { BIN, api, createService, rawRequest, sleep, startServer, tempDir, waitFor } from './lib/server.mjs';

// Sends data on a fresh connection; resolves with everything read until the server closes (or wait ms).
const split = (raw) => {
  const i = raw.indexOf('\r\n\r\n');
  return i < 0 ? { head: raw, body: '' } : { head: raw.slice(0, i), body: raw.slice(i + 4) };
};
// Operations in docs/openapi.yaml whose '400' is missing or is a component without text/plain content
// (read as text: the file's layout is fixed, two-space indents, responses by $ref).
function undocumented400() {
  const lines = readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8').split('\n');
  const comp = {};
  let name = null, inResponses = false;
  for (const l of lines) {
    if (l === '  responses:') { inResponses = true; continue; }
    if (/^  \S/.test(l)) inResponses = false;
    const m = inResponses && l.match(/^    (\w+):$/);
    if (m) { name = m[1]; comp[name] = ''; } else if (inResponses && name) comp[name] += `${l}\n`;
  }
  const bad = [];
  let op = null, path = null, ok = false, inPaths = false;
  const flush = () => { if (op && !ok) bad.push(`${op} ${path}`); op = null; };
  for (const l of lines) {
    if (l === 'paths:') { inPaths = true; continue; }
    if (inPaths && /^\S/.test(l)) { flush(); break; }
    if (!inPaths) continue;
    const p = l.match(/^  (\/\S*):$/);
    if (p) { flush(); path = p[1]; continue; }
    const o = l.match(/^    (get|post|put|patch|delete):$/);
    if (o) { flush(); op = o[1]; ok = false; continue; }
    const r = l.match(/^        '400': \{\$ref: '#\/components\/responses\/(\w+)'\}/);
    if (op && r) ok = /\n {8}text\/plain:/.test(comp[r[1]] || '');
  }
  return bad;
}

const header = (head, name) => (head.match(new RegExp(`^${name}: (.*)$`, 'im')) || [])[1];

describe('HTTP contract', () => {
  let s, svc;
  before(async () => {
    s = await startServer();
    svc = await createService(s);
  });
  after(() => s.cleanup());

  test('HEAD answers as GET without a body, Content-Length kept', async () => {
    const auth = `Authorization: Bearer ${s.rootToken}\r\n`;
    const bad = [];
    for (const [path, hdr] of [['/healthz', ''], ['/readyz', ''], ['/metrics?x=1', ''], ['/console/', ''],
      ['/api/v1/services', auth], [`/api/v1/services/${svc.id}`, auth], ['/api/v1/services/svc_nope', auth], ['/api/v1/services', '']]) {
      const get = split(await rawRequest(s.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${hdr}Connection: close\r\n\r\n`));
      const head = split(await rawRequest(s.port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\n${hdr}Connection: close\r\n\r\n`));
      const gs = get.head.split('\r\n')[0], hs = head.head.split('\r\n')[0];
      if (gs !== hs) bad.push(`${path}: GET "${gs}", HEAD "${hs}"`);
      if (head.body !== '') bad.push(`${path}: HEAD sent a body of ${head.body.length} bytes`);
      if (!/metrics/.test(path) && header(head.head, 'content-length') !== String(Buffer.byteLength(get.body)))
        bad.push(`${path}: HEAD Content-Length ${header(head.head, 'content-length')}, GET body ${Buffer.byteLength(get.body)}`);
      if (header(head.head, 'content-type') !== header(get.head, 'content-type')) bad.push(`${path}: content types differ`);
      if (!header(head.head, 'x-request-id')) bad.push(`${path}: HEAD without X-Request-Id`);
    }
    assert.deepEqual(bad, []);
  });

  test('/metrics: POST is 405 Allow: GET, a query is ignored', async () => {
    const p = await api(s.url, 'POST', '/metrics', '');
    assert.equal(p.status, 405);
    assert.match(p.headers.get('allow'), /\bGET\b/);
    assert.match(p.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(p.json.code, 'METHOD_NOT_ALLOWED');
    const q = await api(s.url, 'GET', '/metrics?x');
    assert.equal(q.status, 200);
    assert.match(q.text, /^keyward_http_requests_total\{/m);
    // A GET route's 405 lists HEAD too, since HEAD is answered.
    const d = await api(s.url, 'DELETE', '/healthz');
    assert.equal(d.status, 405);
    assert.match(d.headers.get('allow'), /GET/);
    assert.match(d.headers.get('allow'), /HEAD/);
  });

  test('every response carries X-Request-Id: redirects, console files, errors, h2o-raised errors', async () => {
    const bad = [];
    for (const [label, req] of [
      ['GET /', `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      ['GET /console', `GET /console HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      ['HEAD /console', `HEAD /console HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      ['GET /console/', `GET /console/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      ['GET /console/style.css', `GET /console/style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      ['GET /nope', `GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      // over h2o's cap, the largest of max-body-bytes, picture-max-bytes and max-document-bytes (50 MiB):
      // refused before the body
      ['declared body over the cap', `POST /api/v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000\r\nConnection: close\r\n\r\n`],
      ['broken Content-Length', `POST /api/v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\nConnection: close\r\n\r\n`],
    ]) {
      const { head } = split(await rawRequest(s.port, req));
      if (!/^HTTP\/1\.1 \d{3} /.test(head)) bad.push(`${label}: no answer (${JSON.stringify(head.slice(0, 60))})`);
      else if (!/^[A-Za-z0-9._-]{1,64}$/.test(header(head, 'x-request-id') || '')) bad.push(`${label}: ${head.split('\r\n')[0]} without X-Request-Id`);
    }
    assert.deepEqual(bad, []);
    const r = split(await rawRequest(s.port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: my-id.1\r\nConnection: close\r\n\r\n'));
    assert.match(r.head, /^HTTP\/1\.1 302 /);
    assert.equal(header(r.head, 'location'), '/console/');
    assert.equal(header(r.head, 'x-request-id'), 'my-id.1', "a client's id is echoed on redirects too");
  });

  test('server-made request ids are distinct and increase per worker', async () => {
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push((await api(s.url, 'GET', '/healthz')).headers.get('x-request-id'));
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9]+-\d+-[0-9a-f]+$/);
    const byWorker = {};
    for (const id of ids) {
      const [, w, n] = id.split('-');
      (byWorker[w] ||= []).push(parseInt(n, 16));
    }
    for (const seq of Object.values(byWorker)) for (let i = 1; i < seq.length; i++) assert.ok(seq[i] > seq[i - 1]);
  });

  test('a client still sending a refused body always gets its 413 (lingering close, no RST)', async () => {
    // keyward answers 413 before reading the body and h2o closes at once; closing a socket with unread
    // input sends RST, which can destroy the answer before the client reads it. 25 tries, 4 MiB each.
    const body = Buffer.alloc(4 << 20, 0x61);
    let lost = 0;
    for (let i = 0; i < 25; i++) {
      const out = await rawRequest(s.port, Buffer.concat([Buffer.from(`POST /api/v1/services HTTP/1.1\r\nHost: x\r\n`
        + `Authorization: Bearer ${s.rootToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
      if (!/^HTTP\/1\.1 413 /.test(out)) lost++;
    }
    assert.equal(lost, 0, `${lost} of 25 refused uploads lost their 413`);
  });

  test('a declared body over the cap is refused before it is sent (413 problem, no 100 Continue)', async () => {
    for (const extra of ['', 'Expect: 100-continue\r\n']) {
      // No body follows: an answer proves keyward did not wait for it.
      const out = await rawRequest(s.port, `POST /api/v1/services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.rootToken}\r\n`
        + `Content-Type: application/json\r\nContent-Length: 1000000000\r\n${extra}\r\n`, { wait: 2000 });
      const { head, body } = split(out);
      assert.match(head, /^HTTP\/1\.1 413 /, `${extra || 'plain'}: ${out.slice(0, 120)}`);
      assert.match(header(head, 'content-type'), /^application\/problem\+json/);
      const p = JSON.parse(body);
      assert.equal(p.code, 'BODY_TOO_LARGE');
      assert.match(p.detail, /65536/);
      assert.equal(p.requestId, header(head, 'x-request-id'));
      assert.equal(header(head, 'content-length'), String(Buffer.byteLength(body)));
    }
    // Exactly at the cap is read and routed (a JSON error about the content, not a size error).
    const exact = `{"name":"${'n'.repeat(65536 - 11)}"}`;
    assert.equal(exact.length, 65536);
    const r = await s.api('POST', '/api/v1/services', exact);
    assert.notEqual(r.status, 413, r.text.slice(0, 200));
  });

  test('framing errors keyward sees are problems; what h2o answers alone is its documented plain-text 400', async () => {
    const broken = split(await rawRequest(s.port, 'POST /api/v1/services HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'));
    assert.match(broken.head, /^HTTP\/1\.1 400 /);
    assert.match(header(broken.head, 'content-type'), /^application\/problem\+json/);
    assert.equal(JSON.parse(broken.body).code, 'MALFORMED_REQUEST');
    // 101 headers or a control character in one: h2o's parser refuses them itself, in plain text.
    const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join('');
    for (const req of [`GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n`, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n']) {
      const { head, body } = split(await rawRequest(s.port, req));
      assert.match(head, /^HTTP\/1\.1 400 /);
      assert.match(header(head, 'content-type'), /^text\/plain/);
      assert.equal(body, 'Bad Request');
    }
    assert.deepEqual(undocumented400(), [], 'operations whose 400 does not document h2o\'s text/plain answer');
    assert.equal((await api(s.url, 'GET', '/healthz')).status, 200);
  });
});

describe('one keyward per address', () => {
  test('a second keyward serve on a live address refuses to start and says why', async () => {
    const s = await startServer();
    const other = tempDir('kw-second');
    try {
      const env = { ...process.env, KEYWARD_ROOT_TOKEN: 'x'.repeat(40) };
      const r = spawnSync(BIN, ['serve', '--listen', `127.0.0.1:${s.port}`, '--data-dir', other], { env, encoding: 'utf8', timeout: 8000 });
      assert.equal(r.signal, null, 'it exited by itself instead of serving until killed');
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /already in use/);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${s.port}`));
      assert.equal((await api(s.url, 'GET', '/healthz')).status, 200, 'the first one still serves');
    } finally {
      rmSync(other, { recursive: true, force: true });
      await s.cleanup();
    }
  });

  test('a stopped keyward frees its address for the next one at once', async () => {
    const s = await startServer({ keepDir: true });
    await s.api('GET', '/api/v1/services');
    await s.stop();
    const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, args: [] });
    try {
      assert.equal((await again.api('GET', '/api/v1/services')).status, 200);
    } finally {
      await again.cleanup();
      rmSync(s.dataDir, { recursive: true, force: true });
      rmSync(s.logFile, { force: true });
    }
  });
});

describe('at the file-descriptor limit', () => {
  const cpuTicks = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15)
  };

  test('accepting pauses instead of spinning, is logged once, counted, and resumes', async () => {
    const s = await startServer({ args: ['--threads', '2'] });
    const socks = [];
    try {
      const lim = spawnSync('prlimit', ['--pid', String(s.pid), '--nofile=64:64'], { encoding: 'utf8' });
      assert.equal(lim.status, 0, lim.stderr);
      for (let i = 0; i < 120; i++) {
        const c = connect(s.port, '127.0.0.1');
        c.on('error', () => {});
        socks.push(c);
      }
      await Promise.all(socks.map((c) => new Promise((r) => { c.once('connect', r); c.once('error', r); setTimeout(r, 2000); })));
      assert.ok(await waitFor(() => /cannot accept, pausing the listener/.test(s.logs()), 3000), 'keyward hit the limit');
      const t0 = cpuTicks(s.pid);
      await sleep(1000);
      const used = cpuTicks(s.pid) - t0; // clock ticks (1/100 s): a spinning loop burns ~100 per core
      assert.ok(used < 30, `keyward used ${used} ticks of CPU in 1 s while out of descriptors`);
      const pauses = s.logs().match(/cannot accept, pausing the listener/g).length;
      assert.ok(pauses <= 2, `logged ${pauses} times for one episode (two workers)`);
    } finally {
      for (const c of socks) c.destroy();
    }
    try {
      assert.ok(await waitFor(async () => {
        try { return (await api(s.url, 'GET', '/healthz')).status === 200; } catch { return false; }
      }, 5000), 'serves again once descriptors are free');
      const m = (await api(s.url, 'GET', '/metrics')).text;
      const n = Number((m.match(/^keyward_accept_backoff_total (\d+)$/m) || [])[1]);
      assert.ok(n >= 1, `keyward_accept_backoff_total = ${n}`);
      assert.ok(await waitFor(() => /accepting again/.test(s.logs()), 3000));
    } finally {
      await s.cleanup();
    }
  });
});
