// The console in Debian's Chromium, driven by playwright-core: what a person does, checked through the API.
// Screenshots of every main screen go to tests/browser/artifacts/ (git-ignored).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { api, createKey, createService, sleep, startServer, verify } from '../e2e/lib/server.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const PW = 'console admin passphrase';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('console', () => {
  let s, browser, svc, hidden;
  let pageErrors = [];
  const contexts = new Set();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    s = await startServer();
    for (const [username, role] of [['admin', 'sysadmin'], ['vic', 'user'], ['olivia', 'user'], ['locky', 'user'], ['pat', 'user'], ['adam', 'user']]) {
      const r = await s.api('POST', '/api/v1/users', { username, password: PW, role });
      assert.equal(r.status, 201, r.text);
    }
    svc = await createService(s, { name: 'Acme onboarding', description: 'KYC for Acme customers', keyPrefix: 'acme' });
    await s.api('POST', `/api/v1/services/${svc.id}/members`, { username: 'vic', role: 'viewer' });
    await s.api('POST', `/api/v1/services/${svc.id}/members`, { username: 'pat', role: 'operator' });
    await s.api('POST', `/api/v1/services/${svc.id}/members`, { username: 'adam', role: 'admin' });
    hidden = await createService(s, { name: 'Hidden service' });
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

  async function newPage({ width = 1280, height = 860, clipboard = true } = {}) {
    const context = await browser.newContext({ viewport: { width, height } });
    contexts.add(context);
    if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    const page = await context.newPage();
    page.setDefaultTimeout(5000);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    // HTTP errors the tests provoke are logged by Chromium as "Failed to load resource"; anything else
    // (a CSP refusal, a script error) is a bug.
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
    // Every unsafe API call the console makes with its session carries the CSRF token (login itself needs none).
    page.on('request', (r) => {
      const { pathname } = new URL(r.url());
      if (!['GET', 'HEAD'].includes(r.method()) && pathname.startsWith('/api/') && !(r.method() === 'POST' && pathname === '/api/v1/session')
        && !r.headers()['x-csrf-token']) pageErrors.push(`${r.method()} ${pathname} sent without X-CSRF-Token`);
    });
    return page;
  }
  async function signIn(page, username, password = PW, hash = '') {
    await page.goto(`${s.url}/console/${hash}`);
    await page.fill('#username', username);
    await page.fill('#password', password);
    await page.click('#login-submit');
    await page.waitForSelector('#userbtn:visible');
  }
  async function loggedIn(username, opts) {
    const page = await newPage(opts);
    await signIn(page, username);
    await page.waitForSelector('main h1');
    return page;
  }
  const shot = (page, name, fullPage = false) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage });
  const getKey = async (id) => (await s.api('GET', `/api/v1/keys/${id}`)).json;
  const members = async () => (await s.api('GET', `/api/v1/services/${svc.id}/members`)).json.items;

  test('sign in; a wrong password is explained in words next to the form', async () => {
    const page = await newPage();
    await page.goto(`${s.url}/console/`);
    await page.waitForSelector('#login-submit');
    await shot(page, 'login');
    await page.fill('#username', 'admin');
    await page.fill('#password', 'not the password at all');
    await page.click('#login-submit');
    const err = await page.waitForSelector('form .form-error');
    assert.match(await err.textContent(), /username or password is wrong/);
    assert.equal(await page.$eval('.form-error', (e) => e.closest('form')?.getAttribute('aria-labelledby')), 'login-title');
    await shot(page, 'login-error');

    await page.fill('#password', PW);
    await page.click('#login-submit');
    await page.waitForSelector('.service-card');
    assert.match(await page.textContent('.service-card'), /Acme onboarding/);
    assert.match(await page.getAttribute('#userbtn', 'aria-label'), /admin, System Administrator/);
    await shot(page, 'services');
  });

  test('repeated failures lock the account, and the form says when to retry', async () => {
    const page = await newPage();
    await page.goto(`${s.url}/console/`);
    let text = '';
    for (let i = 0; i < 8 && !/Too many/.test(text); i++) {
      await page.fill('#username', 'locky');
      await page.fill('#password', `wrong guess number ${i}`);
      await page.click('#login-submit');
      await page.waitForSelector('.form-error');
      text = await page.textContent('.form-error');
    }
    assert.match(text, /Too many failed sign-in attempts/);
    assert.match(text, /try again in 1[45] minutes \(at \d\d:\d\d/);
    await shot(page, 'login-locked');
  });

  test('a sysadmin creates and edits a service; a bad prefix is explained under its field', async () => {
    const page = await loggedIn('admin');
    await page.click('#create-service');
    await page.fill('#svc-name', 'Globex payouts');
    await page.fill('#svc-prefix', 'Bad Prefix');
    await page.click('#service-submit');
    const err = await page.waitForSelector('[data-field=keyPrefix] .field-error');
    assert.match(await err.textContent(), /keyPrefix|lowercase/);
    assert.equal(await page.getAttribute('#svc-prefix', 'aria-invalid'), 'true');
    await shot(page, 'service-dialog');
    await page.fill('#svc-prefix', 'globex');
    await page.click('#service-submit');
    await page.waitForSelector('h1:has-text("Globex payouts")');
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    assert.equal((await s.api('GET', `/api/v1/services/${id}`)).json.keyPrefix, 'globex');

    await page.click('#edit-service');
    await page.fill('#svc-desc', 'Payout identity checks');
    await page.click('#service-submit');
    await page.waitForSelector('.pagehead-text:has-text("Payout identity checks")');
    assert.equal((await s.api('GET', `/api/v1/services/${id}`)).json.description, 'Payout identity checks');

    // Delete it again (no keys, so no force needed), with the confirmation step.
    await page.click('#edit-service');
    await page.click('#delete-service');
    await page.click('#confirm-action');
    await page.waitForSelector('.service-card');
    assert.equal((await s.api('GET', `/api/v1/services/${id}`)).status, 404);
  });

  test('create a key, read it once, copy it; it verifies; edit, disable, enable, roll, revoke, delete', async () => {
    const page = await loggedIn('admin');
    await page.click('.service-card:has-text("Acme onboarding")');
    await page.waitForSelector('text=No API keys yet');
    await page.click('#create-key');
    const dialog = await page.textContent('#create-key-dialog');
    for (const text of ['Return only metadata', 'Only return status and ID of the candidates.',
      'Return metadata and identity attributes except pictures', 'Return metadata and identity attributes including pictures',
      'Archive the candidate after extract']) assert.ok(dialog.includes(text), `dialog mentions "${text}"`);
    // The three scope titles are written alike (issue 6 item 22: one said "Metadata", one said "users").
    assert.ok(!dialog.includes('Return Metadata') && !/\busers\b/.test(dialog), dialog);
    await page.fill('#key-desc', 'CRM export');
    await page.check('input[name=scope][value=attributes]');
    await page.check('input[name=archive]');
    await page.fill('input[name=archiveAmount]', '2');
    await page.selectOption('select[name=archiveUnit]', '3600');
    await shot(page, 'create-key');
    await page.click('#create-key-submit');

    const secret = await (await page.waitForSelector('#secret-value')).inputValue();
    assert.match(secret, /^acme_[0-9A-Za-z]{49}$/);
    assert.match(await page.textContent('#secret-dialog'), /displayed only upon creation.*will not be shown again/s);
    await shot(page, 'secret-once');
    await page.click('#copy-secret');
    await page.waitForSelector('#copy-secret:has-text("Copied")');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await page.click('#secret-done');
    await page.waitForSelector('#secret-dialog', { state: 'detached' });

    // The key works through the API, with the settings chosen in the dialog, and is never shown again.
    const v = await verify(s, secret);
    assert.equal(v.code, 'VALID');
    assert.equal(v.scope, 'attributes');
    const key = await getKey(v.keyId);
    assert.equal(key.archiveAfterExtractSeconds, 7200);
    assert.equal(key.description, 'CRM export');
    const row = `tr[data-key-id="${v.keyId}"]`;
    await page.waitForSelector(`${row} .badge.active`);
    assert.ok(!(await page.content()).includes(secret));
    await shot(page, 'keys');

    // Edit and disable: verification answers DISABLED.
    await page.click(`${row} td:nth-child(2)`);
    await page.fill('#edit-desc', 'CRM export (paused)');
    await page.uncheck('#edit-enabled');
    await shot(page, 'edit-key');
    await page.click('#update-key');
    await page.waitForSelector(`${row} .badge.disabled`);
    assert.equal((await verify(s, secret)).code, 'DISABLED');
    assert.equal((await getKey(v.keyId)).description, 'CRM export (paused)');
    assert.equal((await getKey(v.keyId)).archiveAfterExtractSeconds, 7200, 'untouched fields stay');

    // Enable again.
    await page.click(`${row} .rowlink`);
    await page.check('#edit-enabled');
    await page.click('#update-key');
    await page.waitForSelector(`${row} .badge.active`);
    assert.equal((await verify(s, secret)).code, 'VALID');

    // Roll with a one-hour grace period: the new secret is shown once; both work until the old one expires.
    await page.click(`${row} .rowlink`);
    await page.fill('#roll-grace', '1');
    await page.selectOption('#roll-grace-unit', '3600');
    await page.click('#roll-key');
    assert.match(await page.textContent('#confirm-dialog'), /keeps working for 1 hour/);
    await page.click('#confirm-action');
    const rolled = await (await page.waitForSelector('#secret-dialog #secret-value')).inputValue();
    assert.notEqual(rolled, secret);
    await shot(page, 'roll-secret');
    await page.click('#secret-done');
    const nv = await verify(s, rolled);
    assert.equal(nv.code, 'VALID');
    assert.equal((await getKey(nv.keyId)).rolledFrom, v.keyId);
    assert.equal((await verify(s, secret)).code, 'VALID', 'old key works during the grace period');
    const old = await getKey(v.keyId);
    const graceMs = Date.parse(old.expiresAt) - Date.now();
    assert.ok(graceMs > 3500e3 && graceMs <= 3600e3, `old key expires in about an hour (${graceMs} ms)`);

    // Revoke the old one from its row, with the confirmation step.
    await page.click(`${row} button:has-text("Revoke")`);
    await page.click('#confirm-dialog button:has-text("Cancel")');
    assert.equal((await verify(s, secret)).code, 'VALID', 'cancel leaves it alone');
    await page.click(`${row} button:has-text("Revoke")`);
    await page.click('#confirm-action');
    await page.waitForSelector(`${row} .badge.revoked`);
    assert.equal((await verify(s, secret)).code, 'REVOKED');

    // Delete the new one from its dialog.
    const newRow = `tr[data-key-id="${nv.keyId}"]`;
    await page.click(`${newRow} .rowlink`);
    await page.click('#delete-key');
    await page.click('#confirm-action');
    await page.waitForSelector(newRow, { state: 'detached' });
    assert.equal((await verify(s, rolled)).code, 'NOT_FOUND');
  });

  test('without the clipboard API, Copy selects the key so Ctrl+C works; an early Escape does not lose it', async () => {
    const page = await newPage({ clipboard: false });
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined }));
    await signIn(page, 'admin', PW, `#/services/${svc.id}/keys`);
    await page.click('#create-key');
    await page.fill('#key-desc', 'Fallback copy');
    await page.click('#create-key-submit');
    await page.waitForSelector('#secret-value');
    await page.keyboard.press('Escape');
    assert.ok(await page.isVisible('#secret-dialog'), 'Escape before copying keeps the secret on screen');
    assert.match(await page.textContent('#copy-status'), /Copy the key before you close/);
    await page.click('#copy-secret');
    const sel = await page.evaluate(() => {
      const i = document.getElementById('secret-value');
      return { start: i.selectionStart, end: i.selectionEnd, len: i.value.length, focused: document.activeElement === i };
    });
    assert.deepEqual(sel, { start: 0, end: sel.len, len: sel.len, focused: true });
    assert.match(await page.textContent('#copy-status'), /selected/);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#secret-dialog', { state: 'detached' });
  });

  test('members: add with a role, change the role, remove; an unknown username is explained', async () => {
    const page = await loggedIn('admin');
    await page.goto(`${s.url}/console/#/services/${svc.id}/members`);
    await page.waitForSelector('#add-member');
    await page.fill('#m-user', 'nobody-here');
    await page.click('#add-member-submit');
    const err = await page.waitForSelector('#add-member [data-field=username] .field-error');
    assert.match(await err.textContent(), /no keyward account named/);

    await page.fill('#m-user', 'olivia');
    await page.selectOption('#m-role', 'operator');
    await page.click('#add-member-submit');
    await page.waitForSelector('tr[data-member=olivia]');
    assert.equal((await members()).find((m) => m.username === 'olivia')?.role, 'operator');

    await page.selectOption('#role-olivia', 'admin');
    await page.waitForSelector('#toast:has-text("olivia is now admin")');
    assert.equal((await members()).find((m) => m.username === 'olivia')?.role, 'admin');
    await shot(page, 'members', true);

    await page.click('tr[data-member=olivia] button:has-text("Remove")');
    await page.click('#confirm-action');
    await page.waitForSelector('tr[data-member=olivia]', { state: 'detached' });
    assert.equal((await members()).some((m) => m.username === 'olivia'), false);
  });

  test('audit: events of the service, filtered by action and actor, paged with Load more', async () => {
    const k = await createKey(s, svc.id, { scope: 'metadata', description: 'audit filler' });
    for (let i = 0; i < 28; i++) await s.api('PATCH', `/api/v1/keys/${k.id}`, { description: `audit filler ${i}` });
    const page = await loggedIn('admin');
    await page.goto(`${s.url}/console/#/services/${svc.id}/audit`);
    await page.waitForSelector('#audit-table tr[data-action]');
    assert.equal(await page.locator('#audit-table tr[data-action]').count(), 25);
    await page.click('#audit-more');
    await page.waitForFunction(() => document.querySelectorAll('#audit-table tr[data-action]').length > 25);
    const total = (await s.api('GET', `/api/v1/audit?serviceId=${svc.id}&limit=200`)).json.items.length;
    while (await page.isVisible('#audit-more')) {
      await page.click('#audit-more');
      await sleep(100);
    }
    assert.equal(await page.locator('#audit-table tr[data-action]').count(), total);
    assert.match(await page.textContent('#audit-summary'), /end of the trail/);

    await page.fill('#f-action', 'key.create');
    await page.click('#audit-filter');
    await page.waitForFunction(() => [...document.querySelectorAll('#audit-table tr[data-action]')].every((r) => r.dataset.action === 'key.create'));
    assert.ok(await page.locator('#audit-table tr[data-action]').count() >= 2);

    await page.fill('#f-action', 'key.*');
    await page.fill('#f-actor', 'admin');
    await page.click('#audit-filter');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#audit-table tr[data-action]')];
      return rows.length > 0 && rows.every((r) => r.cells[1].textContent.startsWith('admin'));
    });
    await page.click('#audit-table tr[data-action] .rowlink');
    await page.waitForSelector('#audit-table tr.event-detail:not([hidden])');
    await shot(page, 'audit', true);
  });

  test('usage: verifications per key per hour as an SVG chart, with a legend and totals', async () => {
    const a = await createKey(s, svc.id, { scope: 'metadata', description: 'Nightly sync' });
    const b = await createKey(s, svc.id, { scope: 'attributes', description: 'Mobile app' });
    for (let i = 0; i < 5; i++) await verify(s, a.key);
    for (let i = 0; i < 2; i++) await verify(s, b.key);
    await s.api('PATCH', `/api/v1/keys/${b.id}`, { enabled: false });
    for (let i = 0; i < 3; i++) await verify(s, b.key);
    await sleep(1100); // usage counters are written behind, within 1 s
    const u = (await s.api('GET', `/api/v1/services/${svc.id}/usage?hours=24`)).json;
    assert.ok(u.totals.valid >= 7 && u.totals.denied >= 3, JSON.stringify(u.totals));

    const page = await loggedIn('admin');
    await page.goto(`${s.url}/console/#/services/${svc.id}/usage`);
    await page.waitForSelector('#usage-chart rect.bar-valid');
    assert.equal(Number((await page.textContent('#total-valid')).replace(/\D/g, '')), u.totals.valid);
    assert.equal(Number((await page.textContent('#total-denied')).replace(/\D/g, '')), u.totals.denied);
    assert.ok(await page.$('#usage-chart rect.bar-denied'));
    assert.match(await page.textContent('.legend'), /Valid.*Denied/s);
    await shot(page, 'usage', true);

    await page.selectOption('#usage-key', b.id);
    await page.waitForFunction(() => /Mobile app/.test(document.getElementById('usage-chart').getAttribute('aria-label')));
    assert.equal(await page.textContent('#total-valid'), '2');
    assert.equal(await page.textContent('#total-denied'), '3');
    await page.selectOption('#usage-range', '168');
    await page.waitForFunction(() => document.querySelectorAll('#usage-chart .bucket').length === 168);
  });

  test('usage: every key of the service is in the key filter and the table, used or not; no "no keys" when there are keys', async () => {
    const quiet = await createService(s, { name: 'Quiet service', keyPrefix: 'quiet' });
    const k1 = await createKey(s, quiet.id, { scope: 'metadata', description: 'Never used' });
    const k2 = await createKey(s, quiet.id, { scope: 'metadata', description: 'Used once' });
    const page = await loggedIn('admin');
    await page.goto(`${s.url}/console/#/services/${quiet.id}/usage`);
    await page.waitForSelector('#usage-chart');
    await page.waitForSelector('#usage-keys');
    const text = await page.textContent('main');
    assert.ok(!/no keys yet/i.test(text), 'a service with keys does not say it has none');
    assert.match(text, /No verifications of any key in the last 24 hours\./);
    const options = async () => page.$$eval('#usage-key option', (os) => os.map((o) => o.value).filter(Boolean).sort());
    assert.deepEqual(await options(), [k1.id, k2.id].sort());
    assert.deepEqual(await page.$$eval('#usage-keys tbody tr', (rs) => rs.map((r) => r.dataset.keyId).sort()), [k1.id, k2.id].sort());
    await page.setViewportSize({ width: 1280, height: 860 });
    await shot(page, 'usage-no-verifications', true);

    // One key used: the unused one stays selectable, and shows zero.
    await verify(s, k2.key);
    await sleep(1100); // usage counters are written behind, within 1 s
    await page.reload();
    await page.waitForSelector('#usage-chart rect.bar-valid');
    assert.deepEqual(await options(), [k1.id, k2.id].sort());
    await page.selectOption('#usage-key', k1.id);
    await page.waitForFunction(() => /Never used/.test(document.getElementById('usage-chart').getAttribute('aria-label')));
    assert.equal(await page.textContent('#total-valid'), '0');
    assert.equal(await page.$('#usage-chart rect.bar-valid'), null);
    assert.match(await page.textContent('main'), /No verifications for quiet_\S+ · Never used in the last 24 hours\./);

    // A service without keys does say so.
    const empty = await createService(s, { name: 'Empty service' });
    await page.goto(`${s.url}/console/#/services/${empty.id}/usage`);
    await page.waitForSelector('text=This service has no keys yet.');
  });

  test('a viewer sees no create or edit buttons, and the API refuses them anyway', async () => {
    const page = await loggedIn('vic');
    await page.click('.service-card:has-text("Acme onboarding")');
    await page.waitForSelector('#keys-table');
    for (const sel of ['#create-key', '#edit-service', '#create-service', 'button:has-text("Revoke")']) {
      assert.equal(await page.$(sel), null, `${sel} hidden from a viewer`);
    }
    assert.equal(await page.isVisible('[data-nav=people]'), false);
    await page.click('#keys-table tbody tr .rowlink');
    await page.waitForSelector('#edit-key-dialog');
    assert.equal(await page.$('#update-key'), null);
    assert.equal(await page.$('#revoke-key'), null);
    assert.ok(await page.isDisabled('#edit-desc'));
    await page.keyboard.press('Escape');
    await page.goto(`${s.url}/console/#/services/${svc.id}/members`);
    await page.waitForSelector('#members-table');
    assert.equal(await page.$('#add-member'), null);
    await shot(page, 'viewer', true);

    const status = await page.evaluate(async (id) => {
      const { csrfToken } = await (await fetch('/api/v1/session', { credentials: 'same-origin' })).json();
      const r = await fetch(`/api/v1/services/${id}/keys`, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken }, body: JSON.stringify({ scope: 'metadata' }),
      });
      return r.status;
    }, svc.id);
    assert.equal(status, 403);
  });

  test('a service admin manages members but not keys, and sees only their services', async () => {
    const page = await loggedIn('adam');
    await page.waitForSelector('.service-card'); // the heading shows before the list has loaded
    assert.deepEqual(await page.$$eval('.service-name', (els) => els.map((e) => e.textContent)), ['Acme onboarding']);
    assert.match(await page.textContent('.service-card'), /Admin/);
    await page.click('.service-card');
    await page.waitForSelector('#keys-table');
    assert.equal(await page.$('#create-key'), null);
    assert.equal(await page.$('#edit-service'), null);
    await page.click('.tabs a[data-tab=members]');
    await page.fill('#m-user', 'locky');
    await page.click('#add-member-submit');
    await page.waitForSelector('tr[data-member=locky]');
    assert.equal((await members()).find((m) => m.username === 'locky')?.role, 'viewer');

    await page.goto(`${s.url}/console/#/services/${hidden.id}/keys`);
    const panel = await page.waitForSelector('.panel-error');
    assert.match(await panel.textContent(), /not a member/);
    await page.goto(`${s.url}/console/#/people`);
    await page.waitForSelector('h1:has-text("Services")');
  });

  test('people: a sysadmin adds a person and disables them', async () => {
    const page = await loggedIn('admin');
    await page.click('[data-nav=people]');
    await page.waitForSelector('#people-table');
    await page.click('#add-person');
    await page.fill('#p-username', 'newbie');
    await page.fill('#p-password', 'short');
    await page.click('#person-submit');
    await page.waitForSelector('[data-field=password] .field-error');
    await page.fill('#p-password', 'a long enough passphrase');
    await page.click('#person-submit');
    await page.waitForSelector('tr[data-user=newbie]');
    await page.click('tr[data-user=newbie] .rowlink');
    await page.check('#p-disabled');
    await page.click('#person-submit');
    await page.waitForSelector('tr[data-user=newbie] .badge.disabled');
    const users = (await s.api('GET', '/api/v1/users')).json.items;
    assert.equal(users.find((u) => u.username === 'newbie')?.disabled, true);
    await page.click('tr[data-user=admin] .rowlink');
    assert.ok(await page.isDisabled('#p-disabled'), 'a sysadmin cannot disable themselves here');
    assert.equal(await page.$('#delete-person'), null);
    await page.keyboard.press('Escape');
    await shot(page, 'people', true);
  });

  test('change password from the account menu, sign in with it, and log out', async () => {
    const page = await loggedIn('pat');
    await page.click('#userbtn');
    await page.click('#menu-password');
    await page.fill('#pw-current', 'this is not it at all');
    await page.fill('#pw-new', 'pat new passphrase');
    await page.fill('#pw-again', 'pat new passphrase');
    await page.click('#pw-submit');
    const err = await page.waitForSelector('[data-field=currentPassword] .field-error');
    assert.match(await err.textContent(), /current password is wrong/i);
    await shot(page, 'change-password');
    await page.fill('#pw-current', PW);
    await page.click('#pw-submit');
    await page.waitForSelector('.notice:has-text("password was changed")');
    await page.fill('#username', 'pat');
    await page.fill('#password', 'pat new passphrase');
    await page.click('#login-submit');
    await page.waitForSelector('.service-card');

    await page.click('#userbtn');
    await page.click('#menu-logout');
    await page.waitForSelector('#login-submit');
    const status = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
    assert.equal(status, 401);
  });

  test('when the session ends, the console asks to sign in again and returns to the same page', async () => {
    const page = await loggedIn('admin');
    await page.goto(`${s.url}/console/#/services/${svc.id}/members`);
    await page.waitForSelector('#members-table');
    await page.context().clearCookies(); // as if the session expired on the server
    await page.click('.tabs a[data-tab=audit]');
    await page.waitForSelector('.notice:has-text("Your session has ended")');
    await page.fill('#username', 'admin');
    await page.fill('#password', PW);
    await page.click('#login-submit');
    await page.waitForSelector('#audit-table');
    assert.ok(page.url().endsWith(`#/services/${svc.id}/audit`));
  });

  test('keyboard: dialogs take focus, Escape closes them and focus returns; the account menu works with keys', async () => {
    const page = await loggedIn('admin');
    await page.goto(`${s.url}/console/#/services/${svc.id}/keys`);
    await page.waitForSelector('#create-key');
    await page.focus('#create-key');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#create-key-dialog');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'key-desc');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#create-key-dialog', { state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'create-key');

    // A key row opens with Enter on its button; after Update the focus lands on the same row again.
    await page.focus('#keys-table tbody tr .rowlink');
    const keyId = await page.evaluate(() => document.activeElement.closest('tr').dataset.keyId);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#edit-key-dialog');
    await page.fill('#edit-desc', 'Renamed by keyboard');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#edit-key-dialog', { state: 'detached' });
    await page.waitForFunction((id) => document.activeElement?.closest('tr')?.dataset.keyId === id, keyId);

    await page.focus('#userbtn');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-password');
    await shot(page, 'account-menu');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-logout');
    await page.keyboard.press('Escape');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'userbtn');
    assert.ok(await page.isHidden('#usermenu-list'));
  });

  test('every form control has a label', async () => {
    const page = await loggedIn('admin');
    const unlabelled = () => page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && !el.hidden && el.getClientRects().length)
      .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
      .map((el) => el.outerHTML.slice(0, 120)));
    for (const tab of ['keys', 'members', 'audit', 'usage']) {
      await page.goto(`${s.url}/console/#/services/${svc.id}/${tab}`);
      await page.waitForSelector('.tab-body > :not(.loading)');
      assert.deepEqual(await unlabelled(), [], tab);
    }
    await page.goto(`${s.url}/console/#/services/${svc.id}/keys`);
    await page.click('#create-key');
    await page.click('details.more summary');
    assert.deepEqual(await unlabelled(), [], 'create key dialog');
  });

  test('at 390 px wide nothing scrolls sideways', async () => {
    const page = await loggedIn('admin', { width: 390, height: 844 });
    const screens = [['services', '#/services'], ['keys', `#/services/${svc.id}/keys`], ['members', `#/services/${svc.id}/members`],
      ['audit', `#/services/${svc.id}/audit`], ['usage', `#/services/${svc.id}/usage`], ['people', '#/people']];
    for (const [name, hash] of screens) {
      await page.goto(`${s.url}/console/${hash}`);
      await page.waitForSelector('main h1');
      await page.waitForFunction(() => !document.querySelector('main .loading'));
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${hash} is ${width}px wide`);
      await shot(page, `narrow-${name}`, true);
    }
    await page.goto(`${s.url}/console/#/services/${svc.id}/keys`);
    await page.click('#create-key');
    await page.waitForSelector('#create-key-dialog');
    const dlg = await page.evaluate(() => {
      const r = document.getElementById('create-key-dialog').getBoundingClientRect();
      return { left: r.left, right: r.right, scroll: document.documentElement.scrollWidth };
    });
    assert.ok(dlg.left >= 0 && dlg.right <= 390 && dlg.scroll <= 390, JSON.stringify(dlg));
    await shot(page, 'narrow-create-key');
    await page.keyboard.press('Escape');
    await page.click('#keys-table tbody tr .rowlink');
    await page.waitForSelector('#edit-key-dialog');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390);
    await shot(page, 'narrow-edit-key');
    await page.keyboard.press('Escape');
    await page.goto(`${s.url}/console/#/services/${svc.id}/audit`);
    await page.waitForSelector('#audit-table tr[data-action]');
    await shot(page, 'narrow-audit-top');
    await page.goto(`${s.url}/console/#/login`);
    await page.click('#userbtn');
    await page.click('#menu-logout');
    await page.waitForSelector('#login-submit');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390);
    await shot(page, 'narrow-login');
  });

  test('a route that finishes after a newer one leaves the newer page alone', async () => {
    const page = await loggedIn('admin');
    await page.waitForSelector('.service-card'); // the sign-in route has settled
    // Hold the service page's own request: its route is still loading when the next one starts.
    let release, held;
    const gate = new Promise((r) => { release = r; });
    const seen = new Promise((r) => { held = r; });
    await page.route(`**/api/v1/services/${svc.id}`, async (r) => { held(); await gate; await r.continue(); });
    await page.goto(`${s.url}/console/#/services/${svc.id}/keys`);
    await seen;
    await page.goto(`${s.url}/console/#/people`);
    await page.waitForSelector('#people-table');
    release();
    // aria-busy is on <main> while any route runs: gone once the held one has finished too.
    await page.waitForSelector('main#app:not([aria-busy])');
    assert.equal(await page.textContent('main h1'), 'People', 'the older route did not overwrite the page');
    assert.equal(await page.title(), 'People · keyward');
    assert.ok(await page.$('#people-table'));
    await page.unroute(`**/api/v1/services/${svc.id}`);
    // The same service opens normally afterwards.
    await page.goto(`${s.url}/console/#/services/${svc.id}/keys`);
    await page.waitForFunction(() => document.querySelector('.tab-body') && !document.querySelector('.tab-body .loading'));
    assert.match(await page.textContent('main h1'), /Acme onboarding/);
  });

  test('the console is served with a strict content security policy', async () => {
    const r = await api(s.url, 'GET', '/console/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    for (const path of ['/console/app.js', '/console/js/keys.js', '/console/style.css']) {
      const a = await api(s.url, 'GET', path);
      assert.equal(a.status, 200, path);
    }
    assert.match((await api(s.url, 'GET', '/console/js/api.js')).headers.get('content-type'), /^text\/javascript/);
    const root = await fetch(`${s.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console/');
  });
});
