// The console's Candidates tab in Debian's Chromium (issue 9): the list with its status filter and paging,
// a record's page with attributes and pictures (operators and admins; viewers see metadata only), the status
// moves the life cycle allows, Archive with a confirmation, the scheduled archive date after an integrator's
// extract and the attributes gone once it has passed. Checked through the API as well as on screen.
// Screenshots at 1280 and 390 px go to tests/browser/artifacts/ (git-ignored).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { api, createKey, createService, startServer } from '../e2e/lib/server.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const PW = 'console operator passphrase';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WIDTHS = [[1280, 860], [390, 844]];
// A 2x2 PNG (red, green, blue, white): the selfie the thumbnails show.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFElEQVR4nGP4z8DAAMIM/////w8AH+4F+7C4l8kAAAAASUVORK5CYII=', 'base64');

describe('console: candidates', () => {
  let s, browser, svc;
  let pageErrors = [];
  const contexts = new Set();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    s = await startServer();
    for (const [username, role] of [['admin', 'sysadmin'], ['olga', 'user'], ['vic', 'user']]) {
      const r = await s.api('POST', '/api/v1/users', { username, password: PW, role });
      assert.equal(r.status, 201, r.text);
    }
    svc = await createService(s, { name: 'KYC Connect', description: 'Onboarding', keyPrefix: 'kyc' });
    for (const [username, role] of [['olga', 'operator'], ['vic', 'viewer']]) {
      assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/members`, { username, role })).status, 201);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  after(async () => {
    await browser?.close();
    await s?.cleanup();
  });
  afterEach(async () => {
    for (const c of contexts) await c.close();
    contexts.clear();
    const errors = pageErrors;
    pageErrors = [];
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  });

  async function loggedIn(username, { width = 1280, height = 860 } = {}) {
    const context = await browser.newContext({ viewport: { width, height } });
    contexts.add(context);
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
  const settled = (page) => page.waitForFunction(() => document.querySelector('.tab-body') && !document.querySelector('.tab-body .loading'));
  const list = async (page) => {
    await page.goto(`${s.url}/console/#/services/${svc.id}/candidates`);
    await page.waitForSelector('.tabs a[data-tab="candidates"][aria-current=page]');
    await settled(page);
    await page.waitForSelector('#cand-summary:not(:empty), #candidates-table .empty');
  };
  const open = async (page, refId) => {
    await page.goto(`${s.url}/console/#/services/${svc.id}/candidates/${encodeURIComponent(refId)}`);
    await page.waitForSelector('#cand-title');
  };
  const shot = (page, name, fullPage = false) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage });
  const noSideScroll = async (page, what) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    const vw = page.viewportSize().width;
    assert.ok(width <= vw, `${what}: the page is ${width}px wide at ${vw}px`);
  };
  const record = async (refId) => {
    const r = await s.api('GET', `/api/v1/services/${svc.id}/candidates/${encodeURIComponent(refId)}`);
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  // A candidate as onboarding leaves it, moved along the life cycle to `to` by the root token.
  async function candidate(refId, { attributes, to = 'inreview', selfie = false } = {}) {
    const r = await s.api('POST', `/api/v1/services/${svc.id}/candidates`, {
      refId, identityId: `bp_${refId}`, attributes: attributes || { given_name: 'Ada', family_name: `Lovelace ${refId}`, document_number: `X-${refId}` },
      certificates: [{ type: 'email', verified: true }],
    });
    assert.equal(r.status, 201, r.text);
    if (selfie) {
      const p = await s.api('PUT', `/api/v1/services/${svc.id}/candidates/${encodeURIComponent(refId)}/pictures/selfie`, PNG, { contentType: 'image/png' });
      assert.equal(p.status, 204, p.text);
    }
    const path = { incomplete: [], waiting: ['waiting'], inreview: ['waiting', 'inreview'], approved: ['waiting', 'inreview', 'approved'] }[to];
    for (const status of path) {
      const m = await s.api('POST', `/api/v1/services/${svc.id}/candidates/${encodeURIComponent(refId)}/status`, { status });
      assert.equal(m.status, 200, m.text);
    }
    return r.json;
  }

  const scheduledAt = new Map(); // width -> willArchiveAtDate in ms
  for (const [width, height] of WIDTHS) {
    test(`at ${width} px: an operator approves a record; an integrator extracts it; the console shows the scheduled archive`, async () => {
      const refId = `user-${width}`;
      await candidate(refId, { selfie: true, attributes: { given_name: 'Ada', family_name: `Lovelace${width}`, document_number: `DOC${width}X` } });
      const page = await loggedIn('olga', { width, height });
      await list(page);
      const row = `#candidates-table tr[data-ref-id="${refId}"]`;
      await page.waitForSelector(`${row} .badge.cand-inreview`);
      await noSideScroll(page, 'candidates list');
      await shot(page, `candidates-${width}`, true);

      await page.click(`${row} .rowlink`);
      await page.waitForSelector('#cand-title');
      assert.equal(await page.textContent('#cand-attributes [data-attr=family_name] dd'), `Lovelace${width}`);
      assert.equal(await page.textContent('#cand-archive'), 'Not scheduled');
      assert.match(await page.textContent('#cand-pictures li[data-picture=selfie]'), /Selfie.*image\/png/s);
      // Only the moves the life cycle allows from "in review".
      const moves = await page.$$eval('#cand-move button[data-move]', (bs) => bs.map((b) => b.dataset.move).sort());
      assert.deepEqual(moves, ['approved', 'blocked', 'rejected']);
      await page.fill('#cand-comment', `documents match ${width}`);
      await noSideScroll(page, 'candidate page');
      await shot(page, `candidate-inreview-${width}`, true);
      await page.click('#cand-move button[data-move=approved]');
      await page.waitForSelector('.cand-badges .badge.cand-approved');
      const approved = await record(refId);
      assert.equal(approved.status, 'approved');
      assert.ok(approved.approvedDate, 'approvedDate set');
      const last = approved.history.at(-1);
      assert.deepEqual([last.from, last.to, last.comment, last.actor.id], ['inreview', 'approved', `documents match ${width}`, 'olga']);
      const top = await page.textContent('#cand-history li:first-child');
      assert.match(top, new RegExp(`Approved.*by olga.*documents match ${width}`, 's'));
      assert.deepEqual(await page.$$eval('#cand-move button[data-move]', (bs) => bs.map((b) => b.dataset.move)), ['inreview']);
      assert.notEqual(await page.textContent('#cand-approved'), '—');

      // The integrator extracts it with an attributes key that archives a few seconds after the extract.
      const key = await createKey(s, svc.id, { description: `extract ${width}`, scope: 'attributes', archiveAfterExtractSeconds: 4 });
      const got = await api(s.url, 'GET', `/api/v1/candidates/${encodeURIComponent(refId)}`, undefined, { token: key.key });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.json.attributes.family_name, `Lovelace${width}`);
      assert.ok(got.json.willArchiveAtDate, got.text);
      const due = new Date(got.json.willArchiveAtDate).getTime();

      await page.reload();
      await page.waitForSelector('#cand-title');
      const scheduled = await page.textContent('#cand-archive');
      assert.notEqual(scheduled.trim(), 'Not scheduled');
      assert.match(scheduled, /\d/, 'a date is shown');
      assert.ok(await page.isVisible('#cand-attributes'), 'attributes still there until the date');
      await shot(page, `candidate-scheduled-${width}`, true);
      await list(page);
      assert.notEqual((await page.textContent(`${row} .c-archive`, { strict: false })).trim(), '—');
      scheduledAt.set(width, due);
    });

    // The record the test above scheduled: once its date has passed, the console reads it again by itself.
    test(`at ${width} px: once the scheduled archive has passed, the attributes are gone from the console`,
      async () => {
      const refId = `user-${width}`;
      const due = scheduledAt.get(width);
      assert.ok(due, 'the test before scheduled it');
      const page = await loggedIn('olga', { width, height });
      await open(page, refId);
      await page.waitForSelector('#cand-archived-note', { timeout: Math.max(0, due - Date.now()) + 15000 });
      assert.ok(Date.now() >= due, 'not archived before its time');
      assert.equal(await page.$('#cand-attributes'), null);
      assert.equal(await page.$('#cand-pictures'), null);
      const text = await page.textContent('#app');
      assert.ok(!text.includes(`Lovelace${width}`) && !text.includes(`DOC${width}X`), 'no attribute value on the page');
      assert.match(await page.textContent('#cand-archive'), /Archived/);
      assert.equal(await page.$('#cand-archive-btn'), null, 'nothing left to archive');
      assert.match(await page.textContent('#cand-certificates'), /email/, 'certificates survive archiving');
      const archived = await record(refId);
      assert.equal(archived.isArchived, true);
      assert.equal(archived.attributes, undefined);
      await noSideScroll(page, 'archived candidate');
      await shot(page, `candidate-archived-${width}`, true);
    });
  }

  test('the list filters by status and pages with Load more', async () => {
    for (let i = 0; i < 27; i++) await candidate(`page-${String(i).padStart(2, '0')}`, { to: i % 3 === 0 ? 'waiting' : 'incomplete' });
    const page = await loggedIn('olga');
    await list(page);
    const rows = () => page.$$eval('#candidates-table tbody tr[data-ref-id]', (trs) => trs.map((t) => t.dataset.refId));
    const first = await rows();
    assert.equal(first.length, 25);
    assert.ok(await page.isVisible('#cand-more'));
    await page.click('#cand-more');
    await page.waitForFunction(() => document.querySelectorAll('#candidates-table tbody tr[data-ref-id]').length > 25);
    const all = await rows();
    assert.equal(new Set(all).size, all.length, 'no row twice');
    const total = (await s.api('GET', `/api/v1/services/${svc.id}/candidates?limit=200`)).json.items.length;
    if (all.length < total) {
      while (await page.isVisible('#cand-more')) {
        const n = (await rows()).length;
        await page.click('#cand-more');
        await page.waitForFunction((k) => document.querySelectorAll('#candidates-table tbody tr[data-ref-id]').length > k, n);
      }
    }
    assert.equal((await rows()).length, total);
    assert.ok(await page.isHidden('#cand-more'), 'no Load more at the end');

    await page.selectOption('#cand-status', 'waiting');
    await page.waitForFunction(() => [...document.querySelectorAll('#candidates-table tbody tr[data-ref-id]')]
      .every((tr) => tr.querySelector('.badge[data-status=waiting]')));
    const waiting = (await rows()).filter((r) => r.startsWith('page-'));
    assert.deepEqual(waiting.sort(), Array.from({ length: 9 }, (_, i) => `page-${String(i * 3).padStart(2, '0')}`));
    await page.selectOption('#cand-status', 'blocked');
    await page.waitForSelector('#candidates-table .empty');
    assert.match(await page.textContent('#candidates-table'), /No blocked candidates/);
    // Back from a record returns to the same filter.
    await page.selectOption('#cand-status', 'waiting');
    await page.waitForSelector('#candidates-table tr[data-ref-id="page-00"]');
    await page.click('#candidates-table tr[data-ref-id="page-00"] .rowlink');
    await page.waitForSelector('#cand-title');
    assert.deepEqual(await page.$$eval('#cand-move button[data-move]', (bs) => bs.map((b) => b.dataset.move)), ['inreview']);
    await page.click('#cand-back');
    await page.waitForSelector('#candidates-table tr[data-ref-id="page-00"]');
    assert.equal(await page.inputValue('#cand-status'), 'waiting');
  });

  test('an operator sees the selfie as a thumbnail', async () => {
    await candidate('thumb', { selfie: true });
    const page = await loggedIn('olga');
    await open(page, 'thumb');
    const img = await page.waitForSelector('#cand-pictures li[data-picture=selfie] img');
    await page.waitForFunction((el) => el.complete, img);
    assert.ok(await img.evaluate((el) => el.naturalWidth === 2), 'the selfie thumbnail shows the picture');
  });

  test('Archive asks first; Cancel leaves the record, confirming deletes its attributes', async () => {
    await candidate('archive-me', { attributes: { given_name: 'Grace', family_name: 'Hopperton' } });
    const page = await loggedIn('olga');
    await open(page, 'archive-me');
    await page.click('#cand-archive-btn');
    await page.waitForSelector('#confirm-dialog');
    assert.match(await page.textContent('#confirm-dialog'), /cannot be recovered/);
    await shot(page, 'candidate-archive-confirm');
    await page.click('#confirm-cancel');
    assert.equal((await record('archive-me')).isArchived, false, 'cancel leaves it alone');
    await page.click('#cand-archive-btn');
    await page.click('#confirm-action');
    await page.waitForSelector('#cand-archived-note');
    assert.ok(!(await page.textContent('#app')).includes('Hopperton'));
    const r = await record('archive-me');
    assert.equal(r.isArchived, true);
    assert.equal(r.attributes, undefined);
  });

  test('blocking asks first and is final: no status change is offered afterwards', async () => {
    await candidate('block-me');
    const page = await loggedIn('olga', { width: 390, height: 844 });
    await open(page, 'block-me');
    await page.click('#cand-move button[data-move=blocked]');
    await page.click('#confirm-cancel');
    assert.equal((await record('block-me')).status, 'inreview');
    await page.fill('#cand-comment', 'forged document');
    await page.click('#cand-move button[data-move=blocked]');
    await page.click('#confirm-action');
    await page.waitForSelector('.cand-badges .badge.cand-blocked');
    assert.equal(await page.$('#cand-move button[data-move]'), null);
    assert.match(await page.textContent('#cand-move'), /final/);
    const r = await record('block-me');
    assert.equal(r.status, 'blocked');
    assert.equal(r.history.at(-1).comment, 'forged document');
    // The API refuses a move the console no longer offers, with the stable code.
    const refused = await s.api('POST', `/api/v1/services/${svc.id}/candidates/block-me/status`, { status: 'waiting' });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.code, 'INVALID_STATUS_TRANSITION');
    await shot(page, 'candidate-blocked-390', true);
  });

  test('a viewer sees status, dates and history but no attributes, pictures or actions', async () => {
    await candidate('viewed', { selfie: true, attributes: { given_name: 'Vera', family_name: 'Secretname' } });
    for (const [width, height] of WIDTHS) {
      const page = await loggedIn('vic', { width, height });
      await list(page);
      await page.waitForSelector('#candidates-table tbody tr[data-ref-id] .badge');
      await open(page, 'viewed');
      await page.waitForSelector('.cand-badges .badge.cand-inreview');
      await page.waitForSelector('#cand-metadata-only');
      assert.equal(await page.$('#cand-attributes'), null);
      assert.equal(await page.$('#cand-pictures'), null);
      assert.equal(await page.$('#cand-move'), null);
      assert.equal(await page.$('#cand-archive-btn'), null);
      assert.ok(!(await page.textContent('#app')).includes('Secretname'));
      assert.match(await page.textContent('#cand-history'), /In review/);
      await noSideScroll(page, 'viewer candidate page');
      await shot(page, `candidate-viewer-${width}`, true);
    }
  });

  test('every form control on the tab has a label; at 390 px nothing scrolls sideways', async () => {
    await candidate('labels');
    const unlabelled = (page) => page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && !el.hidden && el.getClientRects().length)
      .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
      .map((el) => el.outerHTML.slice(0, 120)));
    for (const [width, height] of WIDTHS) {
      const page = await loggedIn('admin', { width, height });
      await list(page);
      assert.deepEqual(await unlabelled(page), [], 'list');
      await noSideScroll(page, 'list');
      await open(page, 'labels');
      assert.deepEqual(await unlabelled(page), [], 'candidate page');
      await noSideScroll(page, 'candidate page');
    }
  });
});
