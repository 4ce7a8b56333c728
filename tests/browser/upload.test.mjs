// The console's Upload panel, Documents view and Webhooks tab (issue 10) in Debian's Chromium: what a person
// does, checked through the API and by running what the console hands out (the cURL command, with curl).
// Screenshots at 1280 and 390 px go to tests/browser/artifacts/ (git-ignored).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createService, startServer, tempDir } from '../e2e/lib/server.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const PW = 'console admin passphrase';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WIDTHS = [[1280, 860], [390, 844]];
// A small but real PDF: the server sniffs the media type from these bytes.
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n'
  + 'trailer<</Root 1 0 R>>\n%%EOF\n');

describe('console: upload panel, documents, webhooks', () => {
  let s, browser, svc, work, recv;
  let pageErrors = [];
  // A webhook receiver on loopback: the first request of each webhook-id answers 500, the next ones 204.
  const seen = new Map();
  const contexts = new Set();
  // Whether the routes this tab drives exist on this build (they are built in parallel: h-ingest, h-docs, h-hooks).
  const has = {};

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    work = tempDir('kw-upload');
    s = await startServer({ args: ['--webhook-allow-private', 'true'] }).catch(() => startServer());
    for (const [username, role] of [['admin', 'sysadmin'], ['vic', 'user'], ['olga', 'user'], ['adam', 'user']]) {
      const r = await s.api('POST', '/api/v1/users', { username, password: PW, role });
      assert.equal(r.status, 201, r.text);
    }
    svc = await createService(s, { name: 'Document service', description: 'Ingest and search', keyPrefix: 'docs' });
    for (const [username, role] of [['vic', 'viewer'], ['olga', 'operator'], ['adam', 'admin']]) {
      assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/members`, { username, role })).status, 201);
    }
    const probe = async (method, path) => (await fetch(`${s.url}${path}`, { method, headers: { Authorization: `Bearer ${s.rootToken}` } })).status;
    has.ingest = (await probe('POST', '/api/v1/ingest')) !== 404;
    has.documents = (await probe('GET', `/api/v1/documents?serviceId=${svc.id}`)) === 200;
    has.webhooks = (await probe('GET', `/api/v1/services/${svc.id}/webhooks`)) === 200;
    recv = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const id = req.headers['webhook-id'];
        const n = (seen.get(id) || 0) + 1;
        seen.set(id, n);
        res.writeHead(n === 1 ? 500 : 204);
        res.end();
      });
    });
    await new Promise((resolve) => recv.listen(0, '127.0.0.1', resolve));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  after(async () => {
    recv?.closeAllConnections?.();
    if (recv) await new Promise((resolve) => recv.close(resolve));
    await browser?.close();
    await s?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const c of contexts) await c.close();
    contexts.clear();
    const errors = pageErrors;
    pageErrors = [];
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  });

  async function loggedIn(username, { width = 1280, height = 860 } = {}) {
    const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
    contexts.add(context);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    const page = await context.newPage();
    page.setDefaultTimeout(5000);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
    page.on('request', (r) => {
      const { pathname } = new URL(r.url());
      if (!['GET', 'HEAD'].includes(r.method()) && pathname.startsWith('/api/') && !(r.method() === 'POST' && pathname === '/api/v1/session')
        && !r.headers()['x-csrf-token']) pageErrors.push(`${r.method()} ${pathname} sent without X-CSRF-Token`);
    });
    await page.goto(`${s.url}/console/`);
    await page.fill('#username', username);
    await page.fill('#password', PW);
    await page.click('#login-submit');
    await page.waitForSelector('#userbtn:visible');
    await page.waitForSelector('.service-card');
    return page;
  }
  const tab = async (page, name, sub = '') => {
    await page.goto(`${s.url}/console/#/services/${svc.id}/${name}${sub ? `/${sub}` : ''}`);
    await page.waitForSelector(`.tabs a[data-tab="${name}"][aria-current=page]`);
    await page.waitForFunction(() => document.querySelector('.tab-body') && !document.querySelector('.tab-body .loading'));
  };
  const shot = (page, name, fullPage = false) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage });
  const noSideScroll = async (page, what) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    const vw = page.viewportSize().width;
    assert.ok(width <= vw, `${what}: the page is ${width}px wide at ${vw}px`);
  };
  const clipboard = (page) => page.evaluate(() => navigator.clipboard.readText());
  const newUser = async (name, sourceSystem, permissions = []) => {
    const r = await s.api('POST', `/api/v1/services/${svc.id}/service-users`, { name, sourceSystem, permissions });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  // seed 002's command, as the panel must write it for this server and token.
  const expected = (token, { file = './document.pdf', approver = 'retail', meta = {} } = {}) => {
    const m = { source_tag: 'vkyc', external_id: 'session-123', document_category: 'kyc_vkyc', department: 'retail', ...meta };
    return `curl -X POST '${s.url}/api/v1/ingest' \\\n`
      + `  -H 'Authorization: Bearer ${token}' \\\n`
      + `  -H 'X-Approver-Department: ${approver}' \\\n`
      + `  -F 'file=@${file}' \\\n`
      + `  -F 'metadata=${JSON.stringify(m).replace(/'/g, "'\\''")}'`;
  };
  // Runs a copied command the way a person would paste it into a shell, in a directory holding ./document.pdf.
  const runCurl = (command, dir) => execFileSync('sh', ['-c', `${command} --silent --show-error --write-out '\\n%{http_code}'`],
    { cwd: dir, encoding: 'utf8', timeout: 20000 });

  for (const [width, height] of WIDTHS) {
    test(`at ${width} px: the Upload panel mints a token, fills seed 002's cURL with it and copies it; the command ingests`, async (t) => {
      const u = await newUser(`Video KYC ${width}`, `vkyc_${width}`, ['documents:write', 'documents:read']);
      await newUser(`Reader ${width}`, `reader_${width}`);
      const page = await loggedIn('admin', { width, height });
      await tab(page, 'upload');
      await page.selectOption('#up-user', u.id);
      // Before a token is minted, the example carries the placeholder.
      assert.equal(await page.textContent('#up-curl'), expected('<access_token>'));
      await shot(page, `upload-${width}`, true);
      await page.fill('#up-label', `upload ${width}`);
      await page.click('#up-mint');
      const token = await (await page.waitForSelector('#up-token')).inputValue();
      assert.match(token, /^kwt_[0-9A-Za-z]{49}$/);
      assert.match(await page.textContent('#up-token-warning'), /displayed only now.*will not be shown again/s);
      const text = await page.textContent('#up-curl');
      assert.equal(text, expected(token));
      // Its parts, one by one: the real origin, seed 002's headers and fields.
      const lines = text.split(' \\\n  ');
      assert.equal(lines[0], `curl -X POST '${new URL(page.url()).origin}/api/v1/ingest'`);
      assert.equal(lines[1], `-H 'Authorization: Bearer ${token}'`);
      assert.match(lines[2], /^-H 'X-Approver-Department: retail'$/);
      assert.match(lines[3], /^-F 'file=@\.\/document\.pdf'$/);
      const meta = JSON.parse(lines[4].match(/^-F 'metadata=(.*)'$/)[1]);
      assert.deepEqual(Object.keys(meta), ['source_tag', 'external_id', 'document_category', 'department']);
      await noSideScroll(page, 'upload panel with token');
      await shot(page, `upload-token-${width}`, true);

      await page.click('#up-copy-token');
      await page.waitForSelector('#up-copy-token:has-text("Copied")');
      assert.equal(await clipboard(page), token);
      await page.click('#up-copy-curl');
      await page.waitForSelector('#up-copy-curl:has-text("Copied")');
      const copied = await clipboard(page);
      assert.equal(copied, text);
      const listed = (await s.api('GET', `/api/v1/service-users/${u.id}/tokens`)).json.items;
      assert.deepEqual(listed.map((t) => t.label), [`upload ${width}`]);

      // Edited values follow into the command, quoted for the shell.
      await page.click('#up-fields summary');
      await page.fill('#up-external-id', `it's-${width}`);
      await page.fill('#up-approver', 'risk');
      assert.equal(await page.textContent('#up-curl'), expected(token, { approver: 'risk', meta: { external_id: `it's-${width}` } }));
      await page.fill('#up-external-id', `session-${width}`);
      await page.fill('#up-approver', 'retail');
      await page.click('#up-copy-curl');
      await page.waitForSelector('#up-copy-curl:has-text("Copied")');
      const command = await clipboard(page);
      assert.equal(command, expected(token, { meta: { external_id: `session-${width}` } }));

      // Leaving the tab and coming back: the token is gone.
      await tab(page, 'tokens');
      await tab(page, 'upload');
      assert.ok(!(await page.content()).includes(token), 'the token is shown only once');

      if (!has.ingest) return t.diagnostic('POST /api/v1/ingest is not on this build: the copied command was not run');
      // The copied command, run by a shell with curl, ingests the file.
      const dir = join(work, `run-${width}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'document.pdf'), PDF);
      const out = runCurl(command, dir);
      const status = out.trim().split('\n').pop();
      assert.equal(status, '201', out);
      const doc = JSON.parse(out.slice(0, out.lastIndexOf('\n')));
      assert.match(doc.id, /^doc_/);
      assert.equal(doc.serviceUserId, u.id);
      assert.equal(doc.mediaType, 'application/pdf');
      assert.equal(doc.approverDepartment, 'retail');
      assert.equal(doc.metadata.external_id, `session-${width}`);
      if (!has.documents) return t.diagnostic('GET /api/v1/documents is not on this build: the Documents list was not checked');
      await tab(page, 'documents');
      await page.fill('#doc-external-id', `session-${width}`);
      await page.click('#doc-search');
      await page.waitForSelector(`#documents-table tr[data-doc-id="${doc.id}"]`);
      assert.match(await page.textContent(`#documents-table tr[data-doc-id="${doc.id}"]`), /document\.pdf/);
    });
  }

  test('a member who is not a System Administrator sees the command with a placeholder and no mint control', async () => {
    const u = await newUser('Scanner', 'scanner', ['documents:write']);
    const page = await loggedIn('olga');
    await tab(page, 'upload');
    await page.selectOption('#up-user', u.id);
    assert.equal(await page.$('#up-mint'), null);
    assert.equal(await page.textContent('#up-curl'), expected('<access_token>'));
    await shot(page, 'upload-operator');
  });

  // ---------- documents ----------
  async function ingest(token, { filename = 'document.pdf', meta = {}, approver = 'retail', body = PDF } = {}) {
    const form = new FormData();
    form.append('file', new Blob([body]), filename);
    form.append('metadata', JSON.stringify({ source_tag: 'vkyc', external_id: 'session-1', document_category: 'kyc_vkyc', department: 'retail', ...meta }));
    const r = await fetch(`${s.url}/api/v1/ingest`, { method: 'POST', body: form, headers: { Authorization: `Bearer ${token}`, 'X-Approver-Department': approver } });
    const text = await r.text();
    assert.equal(r.status, 201, text);
    return JSON.parse(text);
  }
  const tokenFor = async (u) => (await s.api('POST', `/api/v1/service-users/${u.id}/tokens`, { label: 'docs test' })).json.token;

  for (const [width, height] of WIDTHS) {
    test(`at ${width} px: documents: search by the filters, page, details, download; delete with confirmation`, async (t) => {
      if (!has.ingest || !has.documents) return t.skip('the ingest and documents routes are not on this build yet');
      const u = await newUser(`Pusher ${width}`, `push_${width}`, ['documents:write', 'documents:read']);
      const token = await tokenFor(u);
      const docs = [];
      for (let i = 0; i < 28; i++) {
        docs.push(await ingest(token, { filename: `scan-${width}-${i}.pdf`,
          meta: { external_id: `case-${width}-${i}`, document_category: i % 2 ? 'kyc_vkyc' : 'kyc_poa', department: i < 3 ? `branch${width}` : 'retail' } }));
      }
      const page = await loggedIn('olga', { width, height });
      await tab(page, 'documents');
      await page.waitForSelector('#documents-table tbody tr[data-doc-id]');
      await page.fill('#doc-department', `branch${width}`);
      await page.click('#doc-search');
      await page.waitForFunction((n) => document.querySelectorAll('#documents-table tr[data-doc-id]').length === n, 3);
      await page.fill('#doc-department', '');
      await page.fill('#doc-external-id', `case-${width}-7`);
      await page.click('#doc-search');
      await page.waitForFunction(() => document.querySelectorAll('#documents-table tr[data-doc-id]').length === 1);
      assert.match(await page.textContent('#documents-table tbody'), new RegExp(`scan-${width}-7\\.pdf`));
      await noSideScroll(page, 'documents search');
      await shot(page, `documents-search-${width}`, true);

      // Paging: the service user's 28 documents in pages of 25.
      await page.click('#doc-reset');
      await page.selectOption('#doc-su', u.id);
      await page.click('#doc-search');
      await page.waitForSelector('#doc-more:visible');
      assert.equal(await page.$$eval('#documents-table tr[data-doc-id]', (r) => r.length), 25);
      await page.click('#doc-more');
      await page.waitForSelector('#doc-more', { state: 'hidden' });
      assert.equal(await page.$$eval('#documents-table tr[data-doc-id]', (r) => r.length), 28);

      // Details, download, delete.
      const d = docs[5];
      await page.click(`tr[data-doc-id="${d.id}"] .rowlink`);
      await page.waitForSelector('#doc-dialog');
      assert.equal((await page.textContent('#doc-sha256')).trim(), d.sha256);
      assert.match(await page.textContent('#doc-metadata'), new RegExp(`external_id.*case-${width}-5`, 's'));
      await noSideScroll(page, 'document dialog');
      await shot(page, `document-dialog-${width}`);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#doc-download')]);
      const saved = join(work, `dl-${width}.pdf`);
      await download.saveAs(saved);
      assert.deepEqual(execFileSync('cat', [saved]), PDF);
      await page.click('#doc-delete');
      await page.click('#confirm-cancel');
      assert.equal((await s.api('GET', `/api/v1/documents/${d.id}`)).status, 200, 'cancel leaves it');
      await page.click('#doc-delete');
      await page.click('#confirm-action');
      await page.waitForSelector(`tr[data-doc-id="${d.id}"]`, { state: 'detached' });
      assert.equal((await s.api('GET', `/api/v1/documents/${d.id}`)).status, 404);
    });
  }

  test('a viewer lists documents and reads details, but has no download or delete', async (t) => {
    if (!has.ingest || !has.documents) return t.skip('the ingest and documents routes are not on this build yet');
    const u = await newUser('Viewer feed', 'viewer_feed', ['documents:write']);
    const d = await ingest(await tokenFor(u), { filename: 'seen.pdf', meta: { external_id: 'seen-by-viewer' } });
    const page = await loggedIn('vic', { width: 390, height: 844 });
    await tab(page, 'documents');
    await page.fill('#doc-external-id', 'seen-by-viewer'); // the list is oldest first: other tests' documents come before it
    await page.click('#doc-search');
    await page.click(`tr[data-doc-id="${d.id}"] .rowlink`);
    await page.waitForSelector('#doc-viewer-note');
    assert.equal(await page.$('#doc-download'), null);
    assert.equal(await page.$('#doc-delete'), null);
    await shot(page, 'document-viewer-390');
  });

  // ---------- webhooks ----------
  for (const [width, height] of WIDTHS) {
    test(`at ${width} px: webhooks: create (secret once), edit, disable, enable, rotate, a failed attempt, Retry delivers`, async (t) => {
      if (!has.webhooks) return t.skip('the webhooks routes are not on this build yet');
      const page = await loggedIn('adam', { width, height });
      await tab(page, 'webhooks');
      await page.click('#create-webhook');
      await page.fill('#wh-url', 'not a url');
      await page.click('#webhook-submit');
      await page.waitForSelector('#webhook-dialog [data-field=url] .field-error');
      const url = `http://127.0.0.1:${recv.address().port}/hook-${width}`;
      await page.fill('#wh-url', url);
      await page.fill('#wh-desc', `receiver ${width}`);
      await page.uncheck('#webhook-dialog input[value="key.deleted"]');
      await noSideScroll(page, 'webhook dialog');
      await shot(page, `webhook-create-${width}`);
      await page.click('#webhook-submit');
      const secret = await (await page.waitForSelector('#wh-secret')).inputValue();
      assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      await shot(page, `webhook-secret-${width}`);
      await page.click('#copy-wh-secret');
      await page.waitForSelector('#copy-wh-secret:has-text("Copied")');
      assert.equal(await clipboard(page), secret);
      await page.click('#wh-secret-done');
      const hooks = (await s.api('GET', `/api/v1/services/${svc.id}/webhooks`)).json.items;
      const w = hooks.find((x) => x.url === url);
      assert.ok(w, JSON.stringify(hooks));
      assert.equal(w.secret, undefined);
      assert.ok(!w.events.includes('key.deleted') && w.events.includes('document.ingested'), JSON.stringify(w.events));
      const row = `tr[data-webhook-id="${w.id}"]`;
      await page.waitForSelector(`${row} .badge.wh-enabled`);
      assert.ok(!(await page.content()).includes(secret));
      await noSideScroll(page, 'webhooks list');
      await shot(page, `webhooks-${width}`, true);

      // Edit on its page: the description and the events (key.created only from now on).
      await page.click(`${row} .rowlink`);
      await page.waitForSelector('#wh-title');
      await page.click('#wh-edit');
      await page.waitForSelector('#webhook-dialog');
      assert.equal(await page.inputValue('#wh-url'), url);
      await page.fill('#wh-desc', `edited ${width}`);
      for (const box of await page.$$('#webhook-dialog input[name=events]')) {
        if ((await box.getAttribute('value')) === 'key.created') await box.check(); else await box.uncheck();
      }
      await noSideScroll(page, 'webhook edit dialog');
      await page.click('#webhook-submit');
      await page.waitForSelector('#toast:has-text("saved")');
      await page.waitForSelector(`text=edited ${width}`);
      const edited = (await s.api('GET', `/api/v1/webhooks/${w.id}`)).json;
      assert.equal(edited.description, `edited ${width}`);
      assert.deepEqual(edited.events, ['key.created']);
      assert.equal(edited.url, url);

      // Disable, enable; rotate the secret.
      await page.click('#wh-toggle');
      await page.click('#confirm-action');
      await page.waitForSelector('#wh-info-title ~ dl .badge.wh-disabled');
      assert.equal((await s.api('GET', `/api/v1/webhooks/${w.id}`)).json.enabled, false);
      await page.click('#wh-toggle');
      await page.waitForSelector('#wh-info-title ~ dl .badge.wh-enabled');
      assert.equal((await s.api('GET', `/api/v1/webhooks/${w.id}`)).json.enabled, true);
      await page.click('#wh-rotate');
      await page.click('#confirm-action');
      const rotated = await (await page.waitForSelector('#wh-secret')).inputValue();
      assert.match(rotated, /^whsec_/);
      assert.notEqual(rotated, secret);
      await page.click('#copy-wh-secret');
      await page.click('#wh-secret-done');

      // An event makes a delivery; the receiver answers its first attempt 500 (the next automatic one is
      // 5 s away), the console shows that attempt, and Retry delivers it (204).
      assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata' })).status, 201);
      let d;
      for (let i = 0; i < 100 && !d?.attempts; i++) {
        d = (await s.api('GET', `/api/v1/webhooks/${w.id}/deliveries`)).json.items[0];
        if (!d?.attempts) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(d?.attempts >= 1, `an attempt was made: ${JSON.stringify(d)}`);
      assert.equal(d.eventType, 'key.created');
      await page.click('#dl-refresh');
      const dl = `tr[data-delivery-id="${d.id}"]`;
      await page.waitForSelector(dl);
      assert.match(await page.textContent(dl), /key\.created/);
      await page.click(`${dl} .rowlink`);
      await page.waitForSelector(`#dl-${d.id} li[data-attempt="1"]`);
      assert.match(await page.textContent(`#dl-${d.id} li[data-attempt="1"]`), /500/);
      await noSideScroll(page, 'webhook page');
      await shot(page, `webhook-deliveries-${width}`, true);
      await page.click(`${dl} button[data-action=retry]`);
      await page.waitForSelector('#toast:has-text("queued")');
      let again;
      for (let i = 0; i < 100 && again?.state !== 'delivered'; i++) {
        again = (await s.api('GET', `/api/v1/webhooks/${w.id}/deliveries`)).json.items.find((x) => x.id === d.id);
        if (again.state !== 'delivered') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(again.state, 'delivered', JSON.stringify(again));
      await page.click('#dl-refresh');
      await page.waitForSelector(`tr[data-delivery-id="${d.id}"][data-state="delivered"]`);
      // Delete, with a confirmation.
      await page.click('#wh-delete');
      await page.click('#confirm-action');
      await page.waitForSelector('#webhooks-table, .empty');
      assert.equal((await s.api('GET', `/api/v1/webhooks/${w.id}`)).status, 404);
    });
  }

  test('webhooks are for admins: an operator sees no Webhooks tab', async () => {
    const page = await loggedIn('olga');
    await page.goto(`${s.url}/console/#/services/${svc.id}/documents`);
    await page.waitForSelector('.tabs a[data-tab="documents"]');
    assert.equal(await page.$('.tabs a[data-tab="webhooks"]'), null);
    const admin = await loggedIn('adam');
    await admin.goto(`${s.url}/console/#/services/${svc.id}/documents`);
    await admin.waitForSelector('.tabs a[data-tab="webhooks"]');
  });

  test('every form control of the new tabs has a label; at 390 px nothing scrolls sideways', async () => {
    const unlabelled = (page) => page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && !el.hidden && el.getClientRects().length)
      .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
      .map((el) => el.outerHTML.slice(0, 120)));
    await newUser('Labels', 'labels', ['documents:write']);
    for (const [width, height] of WIDTHS) {
      const page = await loggedIn('admin', { width, height });
      for (const name of ['upload', 'documents', ...(has.webhooks ? ['webhooks'] : [])]) {
        await tab(page, name);
        if (name === 'upload') await page.click('#up-fields summary');
        assert.deepEqual(await unlabelled(page), [], name);
        await noSideScroll(page, name);
        await shot(page, `${name}-tab-${width}`, true);
      }
    }
  });

  test('the command quotes what the shell would otherwise split or expand', async () => {
    const page = await loggedIn('admin');
    await tab(page, 'upload');
    await page.click('#up-fields summary');
    await page.fill('#up-file', './my scans/$HOME `x`.pdf');
    await page.fill('#up-source-tag', 'a;type=text/html');
    const text = await page.textContent('#up-curl');
    assert.match(text, /-F 'file=@\.\/my scans\/\$HOME `x`\.pdf'/);
    assert.match(text, /--form-string 'metadata=\{"source_tag":"a;type=text\/html",/);
    // The shell hands curl exactly these words.
    const words = execFileSync('sh', ['-c', `set -- ${text.replace(/^curl /, '').replace(/\\\n/g, '')}; for w; do printf '%s\\n' "$w"; done`],
      { encoding: 'utf8' }).trimEnd().split('\n');
    assert.equal(words[8], 'file=@./my scans/$HOME `x`.pdf');
    assert.equal(words[9], '--form-string');
    assert.equal(JSON.parse(words[10].slice('metadata='.length)).source_tag, 'a;type=text/html');
  });
});
