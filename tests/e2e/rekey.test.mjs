// keyward rekey and issue 10's sealed blobs, driven like an operator: a document ingested and a webhook
// whose secret was rotated (a current and a previous secret) before `keyward rekey --new-master-key-file`
// run while the server serves. Afterwards, and after a restart with only the new master key, the document
// downloads byte for byte and deliveries verify (npm standardwebhooks) with each secret shown at create and
// rotate time; with only the OLD master key the document's content is not served (an error or an aborted
// body, never the plaintext) and deliveries fail with secret_unreadable, nothing reaching the receiver.
// A second run finds nothing left. Also on the PostgreSQL list of scripts/test (KEYWARD_TEST_STORE).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { api, createService, run, startServer, tempDir, waitFor } from './lib/server.mjs';

const ALLOW = ['--webhook-allow-private', 'true'];
const FAST = { KEYWARD_TEST_WEBHOOK_SCHEDULE_MS: '0,200,400' };

async function receiver() {
  const got = [];
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    got, url: `http://127.0.0.1:${srv.address().port}/hook`,
    close: () => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(resolve); }),
  };
}

const verifyWith = (secret, req) => new Webhook(secret).verify(req.body, {
  'webhook-id': req.headers['webhook-id'],
  'webhook-timestamp': req.headers['webhook-timestamp'],
  'webhook-signature': req.headers['webhook-signature'],
});

// Raw download (not through api(): an aborted or failed body is what the old-key case expects).
async function download(s, token, id) {
  try {
    const r = await fetch(`${s.url}/api/v1/documents/${id}/content`, { headers: { Authorization: `Bearer ${token}` } });
    let body = Buffer.alloc(0), aborted = false;
    try {
      body = Buffer.from(await r.arrayBuffer());
    } catch {
      aborted = true;
    }
    return { status: r.status, body, aborted };
  } catch {
    return { status: 0, body: Buffer.alloc(0), aborted: true };
  }
}

describe('rekey: documents and webhook secrets', () => {
  test('a document and a rotated webhook survive rekey and a restart with only the new key; the old key opens neither', async () => {
    const rx = await receiver();
    let s = await startServer({ args: ALLOW, env: FAST, keepDir: true, readyTimeoutMs: 60000 });
    const dir = s.dataDir;
    const keyFile = join(dir, 'master.key');
    const oldKey = readFileSync(keyFile);
    const restart = async (env = {}) => {
      await s.stop();
      s = await startServer({ dataDir: dir, rootToken: s.rootToken, keepDir: true, args: ALLOW, env: { ...FAST, ...env },
        readyTimeoutMs: 60000 });
    };
    // a key.created event; resolves with the request the receiver got for it
    const event = async (svcId) => {
      const before = rx.got.length;
      const k = await s.api('POST', `/api/v1/services/${svcId}/keys`, { scope: 'metadata' });
      assert.equal(k.status, 201, k.text);
      assert.ok(await waitFor(() => rx.got.length > before, 20000), 'no delivery arrived');
      const req = rx.got[before];
      assert.equal(JSON.parse(req.body).data.keyId, k.json.id);
      return req;
    };
    try {
      const svc = await createService(s, { name: 'Rekey' });
      const u = await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
        { name: 'scanner', sourceSystem: 'scanner', permissions: ['documents:write', 'documents:read'] });
      assert.equal(u.status, 201, u.text);
      const t = await s.api('POST', `/api/v1/service-users/${u.json.id}/tokens`, { label: 'scanner' });
      assert.equal(t.status, 201, t.text);
      const token = t.json.token;
      // more than one chunk (1 MiB each), so every chunk's authentication depends on the one data key
      const bytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2 * 1024 * 1024 + 12345)]);
      const fd = new FormData();
      fd.append('metadata', JSON.stringify({ source_tag: 'rk', external_id: 'rk-1', document_category: 'scan', department: 'ops' }));
      fd.append('file', new Blob([bytes]), 'scan.pdf');
      const ing = await fetch(`${s.url}/api/v1/ingest`, {
        method: 'POST', body: fd, headers: { Authorization: `Bearer ${token}`, 'X-Approver-Department': 'legal' },
      });
      assert.equal(ing.status, 201, await ing.clone().text());
      const doc = await ing.json();

      const hook = await s.api('POST', `/api/v1/services/${svc.id}/webhooks`, { url: rx.url, events: ['key.created'] });
      assert.equal(hook.status, 201, hook.text);
      const first = hook.json.secret;
      const rot = await s.api('POST', `/api/v1/webhooks/${hook.json.id}/rotate-secret`);
      assert.equal(rot.status, 200, rot.text);
      const second = rot.json.secret;
      assert.notEqual(first, second);
      const signedBoth = (req) => {
        verifyWith(second, req);
        verifyWith(first, req); // the previous secret still signs within 24 h
      };
      signedBoth(await event(svc.id));

      // rekey while serving
      const newFile = join(tempDir('kw-newkey'), 'new.key');
      const r = run(['rekey', '--data-dir', dir, ...s.storeArgs, '--new-master-key-file', newFile]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /, 1 document data key\(s\) and 2 webhook secret\(s\);/);
      assert.match(r.stdout, /; 0 failed/);
      const newKey = readFileSync(newFile);
      assert.deepEqual(readFileSync(keyFile), newKey, 'master.key holds only the new key');
      assert.notDeepEqual(newKey, oldKey);
      let got = await download(s, token, doc.id);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(bytes), 'the document downloads byte for byte while serving');
      signedBoth(await event(svc.id));
      const audit = await s.api('GET', '/api/v1/audit?action=secrets.rekey');
      assert.equal(audit.status, 200, audit.text);
      const details = audit.json.items.map((e) => e.detail);
      assert.ok(details.some((d) => d?.documents === 1), JSON.stringify(details));
      assert.ok(details.some((d) => d?.webhookSecrets === 2), JSON.stringify(details));

      // a second run finds nothing left to do
      const again = run(['rekey', '--data-dir', dir, ...s.storeArgs]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /, 0 document data key\(s\) and 0 webhook secret\(s\);/);

      // only the new master key: everything opens
      await restart();
      got = await download(s, token, doc.id);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(bytes), 'the document downloads byte for byte after a restart with the new key');
      signedBoth(await event(svc.id));
      assert.doesNotMatch(s.logs(), /cannot open/);

      // only the OLD master key: nothing opens, nothing is served in the clear
      await restart({ KEYWARD_MASTER_KEY: oldKey.toString('base64') });
      got = await download(s, token, doc.id);
      assert.ok(got.status !== 200 || got.aborted || got.body.length < bytes.length,
        `the old key must not open the document (status ${got.status}, ${got.body.length} bytes)`);
      assert.equal(got.body.indexOf(bytes.subarray(9, 4096)), -1, 'no plaintext served');
      const before = rx.got.length;
      const k = await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' });
      assert.equal(k.status, 201, k.text);
      const failed = await waitFor(async () => {
        const d = await s.api('GET', `/api/v1/webhooks/${hook.json.id}/deliveries`);
        assert.equal(d.status, 200, d.text);
        const item = d.json.items.find((x) => x.lastError === 'secret_unreadable');
        return item || null;
      }, 20000, 200);
      assert.ok(failed, 'the delivery fails with secret_unreadable under the old key');
      assert.equal(rx.got.length, before, 'nothing reached the receiver unsigned or signed with a wrong key');
      await s.stop();
    } finally {
      await rx.close();
      await s.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
