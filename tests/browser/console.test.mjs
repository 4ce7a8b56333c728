// The console in Debian's Chromium, driven by playwright-core: what a person does, checked through the API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { api, createService, startServer, verify } from '../e2e/lib/server.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const PW = 'console admin passphrase';
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

describe('console', () => {
  let s, browser, svc;
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    s = await startServer();
    await s.api('POST', '/api/v1/users', { username: 'admin', password: PW, role: 'sysadmin' });
    await s.api('POST', '/api/v1/users', { username: 'vic', password: PW, role: 'user' });
    svc = await createService(s, { name: 'Acme onboarding', description: 'KYC for Acme customers', keyPrefix: 'acme' });
    await s.api('POST', `/api/v1/services/${svc.id}/members`, { username: 'vic', role: 'viewer' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await s?.cleanup();
  });

  async function loggedIn(username, { width = 1280, height = 860 } = {}) {
    const context = await browser.newContext({ viewport: { width, height } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    const page = await context.newPage();
    await page.goto(`${s.url}/console/`);
    await page.fill('#username', username);
    await page.fill('#password', PW);
    await page.click('#login-submit');
    await page.waitForSelector('.services');
    return page;
  }

  test('a wrong password shows an error in words', async () => {
    const page = await browser.newPage();
    await page.goto(`${s.url}/console/`);
    await page.fill('#username', 'admin');
    await page.fill('#password', 'not the password at all');
    await page.click('#login-submit');
    const err = await page.waitForSelector('.form-error');
    assert.match(await err.textContent(), /username or password is wrong/);
    await page.screenshot({ path: `${ARTIFACTS}login-error.png` });
    await page.close();
  });

  test('create a key, read it once, copy it, and it verifies; edit, disable, revoke', async () => {
    const page = await loggedIn('admin');
    await page.screenshot({ path: `${ARTIFACTS}services.png`, fullPage: true });
    await page.click('text=Acme onboarding');
    await page.waitForSelector('text=No API keys yet.');
    await page.click('#create-key');
    await page.fill('#key-desc', 'CRM export');
    await page.check('input[name=scope][value=attributes]');
    await page.check('input[name=archive]');
    await page.fill('#archive-hours', '2');
    await page.screenshot({ path: `${ARTIFACTS}create-key.png` });
    await page.click('#create-key-submit');
    const secretBox = await page.waitForSelector('#secret-value');
    const secret = await secretBox.inputValue();
    assert.match(secret, /^acme_[0-9A-Za-z]{49}$/);
    assert.match(await page.textContent('dialog'), /will not be shown again/);
    await page.screenshot({ path: `${ARTIFACTS}secret-once.png` });
    await page.click('#copy-secret');
    await page.waitForSelector('#copy-secret:has-text("Copied")');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await page.click('text=Done');

    // The key works through the API, with the settings chosen in the dialog.
    const v = await verify(s, secret);
    assert.equal(v.code, 'VALID');
    assert.equal(v.scope, 'attributes');
    const key = (await s.api('GET', `/api/v1/keys/${v.keyId}`)).json;
    assert.equal(key.archiveAfterExtractSeconds, 7200);
    assert.equal(key.description, 'CRM export');
    // Never shown again: not in the list page.
    await page.waitForSelector('#keys-table');
    assert.ok(!(await page.content()).includes(secret));
    await page.screenshot({ path: `${ARTIFACTS}keys.png`, fullPage: true });

    // Edit and disable.
    await page.click(`tr[data-key-id="${v.keyId}"]`);
    await page.fill('#edit-desc', 'CRM export (paused)');
    await page.uncheck('#edit-enabled');
    await page.screenshot({ path: `${ARTIFACTS}edit-key.png` });
    await page.click('#update-key');
    await page.waitForSelector(`tr[data-key-id="${v.keyId}"] .badge.disabled`);
    assert.equal((await verify(s, secret)).code, 'DISABLED');
    assert.equal((await s.api('GET', `/api/v1/keys/${v.keyId}`)).json.description, 'CRM export (paused)');

    // Revoke, with confirmation.
    await page.click(`tr[data-key-id="${v.keyId}"]`);
    await page.click('details summary');
    await page.click('#revoke-key');
    await page.click('dialog >> nth=-1 >> button.danger');
    await page.waitForSelector(`tr[data-key-id="${v.keyId}"] .badge.revoked`);
    assert.equal((await verify(s, secret)).code, 'REVOKED');
    await page.context().close();
  });

  test('usage, audit and members tabs render what the API holds', async () => {
    const page = await loggedIn('admin');
    await new Promise((r) => setTimeout(r, 1100)); // write-behind flush of the verifications above
    await page.goto(`${s.url}/console/#/services/${svc.id}/usage`);
    await page.waitForSelector('.chart svg rect');
    assert.ok(Number((await page.textContent('#total-valid')).replace(/\D/g, '')) >= 1);
    await page.screenshot({ path: `${ARTIFACTS}usage.png`, fullPage: true });
    await page.goto(`${s.url}/console/#/services/${svc.id}/audit`);
    await page.waitForSelector('#audit-table td.mono');
    assert.match(await page.textContent('#audit-table'), /key\.create/);
    await page.screenshot({ path: `${ARTIFACTS}audit.png`, fullPage: true });
    await page.goto(`${s.url}/console/#/services/${svc.id}/members`);
    await page.waitForSelector('text=vic');
    await page.screenshot({ path: `${ARTIFACTS}members.png`, fullPage: true });
    await page.context().close();
  });

  test('a viewer sees no create button, and the API refuses them anyway', async () => {
    const page = await loggedIn('vic');
    await page.click('text=Acme onboarding');
    await page.waitForSelector('.tabs');
    assert.equal(await page.$('#create-key'), null);
    assert.equal(await page.$('#create-service'), null);
    const status = await page.evaluate(async (id) => {
      const csrf = sessionStorage.getItem('kw-csrf');
      const r = await fetch(`/api/v1/services/${id}/keys`, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ scope: 'metadata' }),
      });
      return r.status;
    }, svc.id);
    assert.equal(status, 403);
    await page.screenshot({ path: `${ARTIFACTS}viewer.png`, fullPage: true });
    await page.context().close();
  });

  test('at 390 px wide nothing scrolls sideways', async () => {
    const page = await loggedIn('admin', { width: 390, height: 844 });
    for (const hash of ['#/services', `#/services/${svc.id}/keys`, `#/services/${svc.id}/usage`, `#/services/${svc.id}/audit`]) {
      await page.goto(`${s.url}/console/${hash}`);
      await page.waitForSelector('main .card');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${hash} is ${width}px wide`);
    }
    await page.screenshot({ path: `${ARTIFACTS}narrow-audit.png`, fullPage: true });
    await page.context().close();
  });

  test('the console is served with a strict content security policy', async () => {
    const r = await api(s.url, 'GET', '/console/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const root = await fetch(`${s.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console/');
  });
});
