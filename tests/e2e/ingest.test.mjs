// POST /api/v1/ingest (seed 002): seed 002's curl run literally (child_process curl, a real service
// user's token), then what it refuses: 403 without documents:write (and for root), 413 over
// --max-document-bytes with the server still serving afterwards (a declared Content-Length, refused
// before the body, and a chunked body), 415 (bytes that are no accepted type; a body that is not
// multipart), 400 naming the header, part or metadata field at fault, and Idempotency-Key: a retry
// (curl picks a new boundary each run) answers the first answer, a different upload with the same key
// is 409 IDEMPOTENCY_KEY_REUSED. Runs on SQLite and on PostgreSQL (scripts/test).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { assertContract } from './lib/openapi.mjs';
import { api, createService, rawRequest, startServer, tempDir } from './lib/server.mjs';

const exec = promisify(execFile);
const META = '{"source_tag":"vkyc","external_id":"session-123","document_category":"kyc_vkyc","department":"retail"}';
const DOC_FIELDS = ['id', 'serviceId', 'serviceUserId', 'credentialId', 'filename', 'mediaType', 'size', 'sha256',
  'metadata', 'approverDepartment', 'createdAt'];
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// curl -i output -> { status, headers, text }, held to docs/openapi.yaml.
function parseCurl(out) {
  const blocks = out.split('\r\n\r\n');
  let i = 0;
  while (/^HTTP\/1\.1 100 /.test(blocks[i])) i++;
  const head = blocks[i].split('\r\n');
  const status = Number(head[0].split(' ')[1]);
  const headers = new Headers();
  for (const l of head.slice(1)) headers.append(l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim());
  const text = blocks.slice(i + 1).join('\r\n\r\n');
  assertContract({ method: 'POST', path: '/api/v1/ingest', status, headers, text });
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status, headers, text, json };
}

describe('ingest', () => {
  let s, svc, dir, writer, readOnly;

  const token = async (perms, name) => {
    const u = await s.api('POST', `/api/v1/services/${svc.id}/service-users`, { name, sourceSystem: name, permissions: perms });
    assert.equal(u.status, 201, u.text);
    const t = await s.api('POST', `/api/v1/service-users/${u.json.id}/tokens`, { label: name });
    assert.equal(t.status, 201, t.text);
    return { su: u.json.id, tokenId: t.json.id, token: t.json.token };
  };
  // A multipart upload through fetch; parts: [[name, value, filename?]].
  const upload = async (tok, parts, headers = { 'X-Approver-Department': 'retail' }) => {
    const fd = new FormData();
    for (const [name, value, filename] of parts) {
      if (filename !== undefined) fd.append(name, new Blob([value]), filename);
      else fd.append(name, value);
    }
    const h = { ...headers };
    if (tok) h.Authorization = `Bearer ${tok}`;
    const r = await fetch(`${s.url}/api/v1/ingest`, { method: 'POST', body: fd, headers: h });
    const text = await r.text();
    assertContract({ method: 'POST', path: '/api/v1/ingest', status: r.status, headers: r.headers, text });
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, json, text };
  };
  const pdf = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n');
  const problem = (r, status, code, field) => {
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.code, code, r.text);
    if (field !== undefined) assert.equal(r.json.field, field, r.text);
  };

  before(async () => {
    s = await startServer();
    svc = await createService(s, { name: 'Document service' });
    writer = await token(['documents:write', 'documents:read'], 'vkyc');
    readOnly = await token(['documents:read'], 'doc_service');
    dir = tempDir('kw-ingest');
    writeFileSync(join(dir, 'document.pdf'), pdf);
  });
  after(async () => {
    await s?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("seed 002's curl, as written (with the base URL and a minted token): 201 with the document", async () => {
    const cmd = `curl -si -X POST '${s.url}/api/v1/ingest' \\
-H 'Authorization: Bearer ${writer.token}' \\
-H 'X-Approver-Department: retail' \\
-F 'file=@./document.pdf' \\
-F 'metadata=${META}'`;
    const { stdout } = await exec('sh', ['-c', cmd], { cwd: dir });
    const r = parseCurl(stdout);
    assert.equal(r.status, 201, r.text);
    for (const f of DOC_FIELDS) assert.ok(f in r.json, `has ${f}`);
    assert.match(r.json.id, /^doc_[0-9A-Za-z]{16}$/);
    assert.equal(r.headers.get('location'), `/api/v1/documents/${r.json.id}`);
    assert.equal(r.headers.get('idempotent-replayed'), null);
    assert.equal(r.json.serviceId, svc.id);
    assert.equal(r.json.serviceUserId, writer.su);
    assert.equal(r.json.credentialId, writer.tokenId);
    assert.equal(r.json.filename, 'document.pdf');
    assert.equal(r.json.mediaType, 'application/pdf');
    assert.equal(r.json.size, pdf.length);
    assert.equal(r.json.sha256, sha256(pdf));
    assert.deepEqual(r.json.metadata, JSON.parse(META));
    assert.equal(r.json.approverDepartment, 'retail');
    const got = await api(s.url, 'GET', `/api/v1/documents/${r.json.id}`, undefined, { token: writer.token });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json, r.json, 'GET answers what the ingest did');
    const content = await fetch(`${s.url}/api/v1/documents/${r.json.id}/content`, { headers: { Authorization: `Bearer ${writer.token}` } });
    assert.equal(content.status, 200);
    assert.deepEqual(Buffer.from(await content.arrayBuffer()), pdf);
    const audit = await s.api('GET', `/api/v1/audit?action=document.ingest&serviceId=${svc.id}`);
    assert.equal(audit.status, 200, audit.text);
    assert.ok(audit.json.items.some((e) => e.actor?.id === writer.su || JSON.stringify(e).includes(writer.su)), audit.text.slice(0, 400));
  });

  test('the media type is sniffed from the bytes (the declared type and the name do not count)', async () => {
    for (const [bytes, type] of [
      [Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1'), 'image/png'],
      [Buffer.from('\xff\xd8\xff\xe0\0\x10JFIF\0', 'latin1'), 'image/jpeg'],
      [Buffer.from('II*\0\x08\0\0\0', 'latin1'), 'image/tiff'],
      [Buffer.from('MM\0*\0\0\0\x08', 'latin1'), 'image/tiff'],
      [Buffer.from('\0\0\0\x18ftypheic\0\0\0\0mif1heic', 'latin1'), 'image/heic'],
    ]) {
      const r = await upload(writer.token, [['metadata', META], ['file', bytes, 'photo.pdf']]);
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.mediaType, type);
      assert.equal(r.json.filename, 'photo.pdf');
    }
  });

  test('403 without documents:write; people and root are not integrators; 401 without a credential', async () => {
    problem(await upload(readOnly.token, [['metadata', META], ['file', pdf, 'a.pdf']]), 403, 'FORBIDDEN');
    problem(await upload(s.rootToken, [['metadata', META], ['file', pdf, 'a.pdf']]), 403, 'FORBIDDEN');
    problem(await upload(null, [['metadata', META], ['file', pdf, 'a.pdf']]), 401, 'UNAUTHENTICATED');
  });

  test('415: bytes of no accepted type, an empty file, a body that is not multipart', async () => {
    problem(await upload(writer.token, [['metadata', META], ['file', Buffer.from('#!/bin/sh\necho hi\n'), 'x.pdf']]),
      415, 'UNSUPPORTED_MEDIA_TYPE', 'file');
    problem(await upload(writer.token, [['metadata', META], ['file', Buffer.alloc(0), 'empty.pdf']]), 415,
      'UNSUPPORTED_MEDIA_TYPE', 'file');
    const r = await api(s.url, 'POST', '/api/v1/ingest', { file: 'x' },
      { token: writer.token, headers: { 'X-Approver-Department': 'retail' } });
    problem(r, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('400 naming what is wrong: header, parts, metadata JSON and fields', async () => {
    const file = ['file', pdf, 'a.pdf'];
    problem(await upload(writer.token, [['metadata', META], file], {}), 400, 'MISSING_HEADER', 'X-Approver-Department');
    problem(await upload(writer.token, [['metadata', META], file], { 'X-Approver-Department': 'r'.repeat(129) }), 400,
      'INVALID_HEADER', 'X-Approver-Department');
    problem(await upload(writer.token, [['metadata', META], file],
      { 'X-Approver-Department': 'retail', 'Idempotency-Key': 'k'.repeat(256) }), 400, 'INVALID_HEADER', 'Idempotency-Key');
    problem(await upload(writer.token, [file]), 400, 'MISSING_PART', 'metadata');
    problem(await upload(writer.token, [['metadata', META]]), 400, 'MISSING_PART', 'file');
    problem(await upload(writer.token, [['metadata', META], ['metadata', META], file]), 400, 'DUPLICATE_PART', 'metadata');
    problem(await upload(writer.token, [['metadata', META], file, ['note', 'hi']]), 400, 'UNKNOWN_PART', 'note');
    problem(await upload(writer.token, [['metadata', '{"source_tag":'], file]), 400, 'BAD_METADATA_JSON', 'metadata');
    problem(await upload(writer.token, [['metadata', '["vkyc"]'], file]), 400, 'BAD_METADATA_JSON', 'metadata');
    const meta = JSON.parse(META);
    const r = await upload(writer.token, [['metadata', JSON.stringify({ ...meta, color: 'blue' })], file]);
    problem(r, 400, 'UNKNOWN_FIELD', 'metadata.color');
    assert.match(r.json.detail, /color/);
    const { department, ...three } = meta;
    void department;
    problem(await upload(writer.token, [['metadata', JSON.stringify(three)], file]), 400, 'MISSING_FIELD', 'metadata.department');
    problem(await upload(writer.token, [['metadata', JSON.stringify({ ...meta, external_id: 42 })], file]), 400,
      'INVALID_FIELD', 'metadata.external_id');
    problem(await upload(writer.token, [['metadata', JSON.stringify({ ...meta, source_tag: 's'.repeat(256) })], file]), 400,
      'INVALID_FIELD', 'metadata.source_tag');
    assert.equal((await upload(writer.token, [['metadata', JSON.stringify({ ...meta, source_tag: 's'.repeat(255) })], file])).status,
      201, '255 bytes fit');
    // broken framing: a body that claims multipart but is not
    const raw = await api(s.url, 'POST', '/api/v1/ingest', 'not multipart at all', {
      token: writer.token, contentType: 'multipart/form-data; boundary=xyz', headers: { 'X-Approver-Department': 'retail' } });
    problem(raw, 400, 'INVALID_MULTIPART');
  });

  test('413 DOCUMENT_TOO_LARGE over --max-document-bytes: declared (before the body) and chunked; still serving', async () => {
    // A declared length over the cap, and no body at all: an answer proves nothing was waited for.
    const out = await rawRequest(s.port, `POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${writer.token}\r\n`
      + `X-Approver-Department: retail\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 52428801\r\n\r\n`, { wait: 3000 });
    assert.match(out, /^HTTP\/1\.1 413 /, out.slice(0, 200));
    const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'DOCUMENT_TOO_LARGE');
    assert.match(body.detail, /52428800 bytes \(max-document-bytes\)/);
    assert.equal((await api(s.url, 'GET', '/healthz')).status, 200);
    // The same body size on another route is BODY_TOO_LARGE: the cap is per route.
    const other = await rawRequest(s.port, `POST /api/v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 52428801\r\n\r\n`);
    assert.match(other, /"code":"BODY_TOO_LARGE"/);
    // Chunked: curl streams a 51 MiB file with Transfer-Encoding: chunked; h2o refuses once past the cap.
    const big = join(dir, 'big.pdf');
    const fd = openSync(big, 'w');
    writeSync(fd, Buffer.from('%PDF-1.7\n'));
    for (let i = 0; i < 51; i++) writeSync(fd, randomBytes(1 << 20));
    closeSync(fd);
    const { stdout } = await exec('curl', ['-si', '-X', 'POST', `${s.url}/api/v1/ingest`, '-H', `Authorization: Bearer ${writer.token}`,
      '-H', 'X-Approver-Department: retail', '-H', 'Transfer-Encoding: chunked', '-F', `file=@${big}`, '-F', `metadata=${META}`],
      { maxBuffer: 1 << 20 }).catch((e) => ({ stdout: e.stdout || '' }));
    const r = parseCurl(stdout);
    problem(r, 413, 'DOCUMENT_TOO_LARGE');
    rmSync(big);
    assert.equal((await api(s.url, 'GET', '/healthz')).status, 200, 'still serving');
    const after = await upload(writer.token, [['metadata', META], ['file', pdf, 'after.pdf']]);
    assert.equal(after.status, 201, after.text);
  });

  test('Idempotency-Key: a retry answers the first answer; the key with another upload is 409', async () => {
    const meta = '{"source_tag":"vkyc","external_id":"idem-1","document_category":"kyc_vkyc","department":"retail"}';
    const run = (file, key = 'upload-7f3a') => exec('curl', ['-si', '-X', 'POST', `${s.url}/api/v1/ingest`,
      '-H', `Authorization: Bearer ${writer.token}`, '-H', 'X-Approver-Department: retail', '-H', `Idempotency-Key: ${key}`,
      '-F', `file=@${file}`, '-F', `metadata=${meta}`], { cwd: dir }).then(({ stdout }) => parseCurl(stdout));
    const first = await run('./document.pdf');
    assert.equal(first.status, 201, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const again = await run('./document.pdf'); // a new curl run: a new multipart boundary
    assert.equal(again.status, 201, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.json, first.json, 'the first answer, the same id');
    writeFileSync(join(dir, 'other.pdf'), Buffer.concat([pdf, Buffer.from('changed')]));
    const reused = await run('./other.pdf');
    assert.equal(reused.status, 409, reused.text);
    assert.equal(reused.json.code, 'IDEMPOTENCY_KEY_REUSED');
    const list = await api(s.url, 'GET', '/api/v1/documents?external_id=idem-1', undefined, { token: writer.token });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.items.map((d) => d.id), [first.json.id], 'one document for the key');
    const fresh = await run('./other.pdf', 'upload-7f3b');
    assert.equal(fresh.status, 201, fresh.text);
    assert.notEqual(fresh.json.id, first.json.id);
  });
});
