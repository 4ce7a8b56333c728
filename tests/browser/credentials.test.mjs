// The console's machine-credential tabs in Debian's Chromium (issue 8): service users with their OAuth client
// secret, minted tokens, access keys as seed 004 shows them. What a person does, checked through the API and
// by using the credentials. Screenshots at 1280 and 390 px go to tests/browser/artifacts/ (git-ignored).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { api, createService, startServer } from '../e2e/lib/server.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const PW = 'console admin passphrase';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WIDTHS = [[1280, 860], [390, 844]];

describe('console: service users, tokens, access keys', () => {
  let s, browser, svc;
  let pageErrors = [];
  const contexts = new Set();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    s = await startServer();
    for (const [username, role] of [['admin', 'sysadmin'], ['vic', 'user'], ['adam', 'user']]) {
      const r = await s.api('POST', '/api/v1/users', { username, password: PW, role });
      assert.equal(r.status, 201, r.text);
    }
    svc = await createService(s, { name: 'Document service', description: 'Ingest and search', keyPrefix: 'docs' });
    for (const [username, role] of [['vic', 'viewer'], ['adam', 'admin']]) {
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
    await page.waitForSelector('.service-card'); // the services page has settled before a test navigates on
    return page;
  }
  const tab = async (page, name) => {
    await page.goto(`${s.url}/console/#/services/${svc.id}/${name}`);
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
  const serviceUsers = async () => (await s.api('GET', `/api/v1/services/${svc.id}/service-users`)).json.items;
  const accessKeys = async () => (await s.api('GET', `/api/v1/services/${svc.id}/access-keys`)).json.items;
  const authCheck = (token) => api(s.url, 'GET', '/api/v1/auth/check', undefined, { headers: { Authorization: `Bearer ${token}` } });
  const newUser = async (name, sourceSystem, permissions = []) => {
    const r = await s.api('POST', `/api/v1/services/${svc.id}/service-users`, { name, sourceSystem, permissions });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };

  test('create a service user: the OAuth client secret is shown once; reset it; disable, enable; delete with confirmation', async () => {
    const page = await loggedIn('admin');
    await tab(page, 'service-users');
    await page.waitForSelector('text=No service users yet');
    await page.click('#create-su');
    await page.fill('#su-name', 'Video KYC');
    await page.fill('#su-source', 'Not Valid');
    await page.click('#create-su-submit');
    const err = await page.waitForSelector('#create-su-dialog [data-field=sourceSystem] .field-error');
    assert.match(await err.textContent(), /lowercase/);
    await page.fill('#su-source', 'vkyc');
    await page.check('#create-su-dialog input[name=permissions][value="documents:write"]');
    await shot(page, 'su-create');
    await page.click('#create-su-submit');

    const secret = await (await page.waitForSelector('#client-secret')).inputValue();
    const clientId = await page.inputValue('#client-id');
    assert.match(secret, /^kwcs_[0-9A-Za-z]{49}$/);
    assert.match(await page.textContent('#client-secret-dialog'), /displayed only now.*will not be shown again/s);
    await shot(page, 'su-client-secret');
    await page.click('#copy-client-secret');
    await page.waitForSelector('#copy-client-secret:has-text("Copied")');
    assert.equal(await clipboard(page), secret);
    await page.click('#client-secret-done');
    await page.waitForSelector('#client-secret-dialog', { state: 'detached' });
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone from the page');

    const [u] = await serviceUsers();
    assert.equal(u.id, clientId);
    assert.equal(u.sourceSystem, 'vkyc');
    assert.ok(u.permissions.includes('documents:write'), JSON.stringify(u));
    assert.equal(u.enabled, true);
    const row = `tr[data-su-id="${u.id}"]`;
    await page.waitForSelector(`${row} .badge.active`);
    assert.match(await page.textContent(row), /Video KYC.*vkyc.*documents:write/s);

    // The same source system twice is refused in words under its field.
    await page.click('#create-su');
    await page.fill('#su-name', 'Video KYC again');
    await page.fill('#su-source', 'vkyc');
    await page.click('#create-su-submit');
    await page.waitForSelector('#create-su-dialog [data-field=sourceSystem] .field-error');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#create-su-dialog', { state: 'detached' });
    assert.equal((await serviceUsers()).length, 1);

    // Reset the client secret from the service user's dialog: a new one, shown once.
    await page.click(`${row} .rowlink`);
    await page.waitForSelector('#su-dialog');
    await shot(page, 'su-dialog');
    await page.click('#reset-secret');
    await page.click('#confirm-action');
    const reset = await (await page.waitForSelector('#client-secret-dialog #client-secret')).inputValue();
    assert.match(reset, /^kwcs_/);
    assert.notEqual(reset, secret);
    assert.equal(await page.inputValue('#client-id'), clientId);
    await page.click('#client-secret-done');

    // Disable (with a confirmation), enable.
    await page.click(`${row} button[data-action=disable]`);
    await page.click('#confirm-action');
    await page.waitForSelector(`${row} .badge.disabled`);
    assert.equal((await serviceUsers()).find((x) => x.id === u.id).enabled, false);
    await page.click(`${row} button[data-action=enable]`);
    await page.waitForSelector(`${row} .badge.active`);
    assert.equal((await serviceUsers()).find((x) => x.id === u.id).enabled, true);
    await shot(page, 'service-users');

    // Delete another one: Cancel leaves it, confirming removes it.
    const gone = await newUser('Branch scanner', 'branch_scan');
    await page.reload();
    const goneRow = `tr[data-su-id="${gone.id}"]`;
    await page.click(`${goneRow} button[data-action=delete]`);
    await page.click('#confirm-cancel');
    assert.equal((await s.api('GET', `/api/v1/service-users/${gone.id}`)).status, 200, 'cancel leaves it alone');
    await page.click(`${goneRow} button[data-action=delete]`);
    assert.match(await page.textContent('#confirm-dialog'), /stop working/);
    await page.click('#confirm-action');
    await page.waitForSelector(goneRow, { state: 'detached' });
    assert.equal((await s.api('GET', `/api/v1/service-users/${gone.id}`)).status, 404);
  });

  for (const [width, height] of WIDTHS) {
    test(`at ${width} px: mint a token, see it once, it works on /api/v1/auth/check; revoke it`, async () => {
      const u = await newUser(`Doc pusher ${width}`, `doc_${width}`, ['documents:write']);
      const page = await loggedIn('admin', { width, height });
      await tab(page, 'tokens');
      await page.selectOption('#t-user', u.id);
      await page.fill('#t-label', `prod ${width}`);
      await shot(page, `tokens-mint-${width}`);
      await page.click('#mint-token');
      const token = await (await page.waitForSelector('#token-value')).inputValue();
      assert.match(token, /^kwt_[0-9A-Za-z]{49}$/);
      assert.match(await page.textContent('#token-dialog'), /displayed only upon creation.*will not be shown again/s);
      await noSideScroll(page, 'token dialog');
      await shot(page, `token-once-${width}`);
      await page.keyboard.press('Escape');
      assert.ok(await page.isVisible('#token-dialog'), 'Escape before copying keeps the token on screen');
      assert.match(await page.textContent('#token-dialog'), /Copy it before you close this dialog/);
      await page.click('#copy-token');
      await page.waitForSelector('#copy-token:has-text("Copied")');
      assert.equal(await clipboard(page), token);
      await page.click('#token-done');
      await page.waitForSelector('#token-dialog', { state: 'detached' });
      assert.ok(!(await page.content()).includes(token), 'the token is shown only once');

      const ok = await authCheck(token);
      assert.equal(ok.status, 204, ok.text);
      const listed = (await s.api('GET', `/api/v1/service-users/${u.id}/tokens`)).json.items;
      assert.equal(listed.length, 1);
      assert.equal(listed[0].label, `prod ${width}`);
      assert.equal(listed[0].token, undefined, 'lists never carry the token');
      const row = `tr[data-token-id="${listed[0].id}"]`;
      await page.waitForSelector(`${row} .badge.active`);
      assert.match(await page.textContent(row), new RegExp(`prod ${width}`));
      await noSideScroll(page, 'tokens tab');
      await shot(page, `tokens-${width}`, true);

      await page.click(`${row} button:has-text("Revoke")`);
      await page.click('#confirm-action');
      await page.waitForSelector(`${row} .badge.revoked`);
      const refused = await authCheck(token);
      assert.equal(refused.status, 401, refused.text);

      // The audit tab names both steps in words.
      await tab(page, 'audit');
      await page.waitForSelector('#audit-table tr[data-action="token.revoke"]');
      assert.match(await page.textContent('#audit-table tr[data-action="token.create"]'), /Token minted/);
    });

    test(`at ${width} px: create an access key, show the secret once, disable, enable, delete it`, async () => {
      const u = await newUser(`Signer ${width}`, `signer_${width}`);
      const page = await loggedIn('admin', { width, height });
      await tab(page, 'access-keys');
      await page.click('#create-access-key');
      await page.selectOption('#ak-user', u.id);
      await page.click('#create-access-key-submit');
      await page.waitForSelector('#access-key-dialog');
      const id = (await page.textContent('#ak-id')).trim();
      assert.match(id, /^KWAK[A-Z2-7]{16}$/);
      assert.equal(await page.getAttribute('#ak-secret', 'type'), 'password', 'the secret starts hidden');
      assert.match(await page.textContent('#access-key-dialog'), /only viewable in this dialog.*will not be shown again/s);
      await page.click('#show-key');
      assert.equal(await page.getAttribute('#ak-secret', 'type'), 'text');
      const secret = await page.inputValue('#ak-secret');
      assert.match(secret, /^[0-9A-Za-z]{40}$/);
      await noSideScroll(page, 'access key dialog');
      await shot(page, `access-key-once-${width}`);
      await page.click('#copy-secret-key');
      await page.waitForSelector('#copy-secret-key:has-text("Copied")');
      assert.equal(await clipboard(page), secret);
      await page.click('#access-key-close');
      await page.waitForSelector('#access-key-dialog', { state: 'detached' });
      assert.ok(!(await page.content()).includes(secret), 'the secret is shown only once');

      const listed = (await accessKeys()).find((k) => k.accessKeyId === id);
      assert.equal(listed.serviceUserId, u.id);
      assert.equal(listed.secretAccessKey, undefined, 'lists never carry the secret');
      const row = `tr[data-access-key-id="${id}"]`;
      await page.waitForSelector(`${row} .badge.active:visible`);
      assert.match(await page.textContent(row), new RegExp(`Signer ${width}`));
      await noSideScroll(page, 'access keys tab');
      await shot(page, `access-keys-${width}`, true);

      await page.click(`${row} button[data-action=disable]`);
      await page.waitForSelector(`${row} .badge.disabled:visible`);
      assert.equal((await accessKeys()).find((k) => k.accessKeyId === id).enabled, false);
      await page.click(`${row} button[data-action=enable]`);
      await page.waitForSelector(`${row} .badge.active:visible`);
      assert.equal((await accessKeys()).find((k) => k.accessKeyId === id).enabled, true);

      await page.click(`${row} button[data-action=delete]`);
      await page.waitForSelector('#confirm-dialog');
      await shot(page, `access-key-delete-${width}`);
      await page.click('#confirm-action');
      await page.waitForSelector(row, { state: 'detached' });
      assert.equal((await accessKeys()).some((k) => k.accessKeyId === id), false);
    });
  }

  test('a third active access key of one service user is refused in words', async () => {
    const u = await newUser('Rotating signer', 'rotating');
    for (let i = 0; i < 2; i++) {
      assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: u.id })).status, 201);
    }
    const page = await loggedIn('admin');
    await tab(page, 'access-keys');
    await page.click('#create-access-key');
    await page.selectOption('#ak-user', u.id);
    await page.click('#create-access-key-submit');
    const err = await page.waitForSelector('#create-access-key-dialog .form-error, #create-access-key-dialog .field-error');
    assert.match(await err.textContent(), /two|2|limit/i);
    assert.equal(await page.$('#access-key-dialog'), null);
  });

  test('a member who is not a System Administrator sees the lists but no create, mint or delete controls', async () => {
    const u = await newUser('Listed', 'listed');
    assert.equal((await s.api('POST', `/api/v1/service-users/${u.id}/tokens`, { label: 'seen by members' })).status, 201);
    assert.equal((await s.api('POST', `/api/v1/services/${svc.id}/access-keys`, { serviceUserId: u.id })).status, 201);
    for (const who of ['vic', 'adam']) {
      for (const [width, height] of WIDTHS) {
        const page = await loggedIn(who, { width, height });
        await tab(page, 'service-users');
        await page.waitForSelector(`tr[data-su-id="${u.id}"]`);
        assert.equal(await page.$('#create-su'), null);
        assert.equal(await page.$('#su-table button[data-action]'), null);
        await page.click(`tr[data-su-id="${u.id}"] .rowlink`);
        await page.waitForSelector('#su-dialog');
        for (const sel of ['#reset-secret', '#su-toggle', '#su-delete']) assert.equal(await page.$(sel), null, `${sel} hidden from ${who}`);
        await page.keyboard.press('Escape');
        if (width === 390) await shot(page, `member-service-users-${who}`, true);

        await tab(page, 'tokens');
        await page.waitForSelector('#tokens-table tbody tr');
        assert.equal(await page.$('#mint-form'), null);
        assert.equal(await page.$('#tokens-table button'), null);

        await tab(page, 'access-keys');
        await page.waitForSelector('#access-keys-table tbody tr');
        assert.equal(await page.$('#create-access-key'), null);
        assert.equal(await page.$('#access-keys-table button'), null);
        await noSideScroll(page, `${who} access keys`);
        if (width === 1280) await shot(page, `member-access-keys-${who}`, true);
      }
    }
  });

  test('every form control on the new tabs and dialogs has a label; at 390 px nothing scrolls sideways', async () => {
    const unlabelled = (page) => page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && !el.hidden && el.getClientRects().length)
      .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
      .map((el) => el.outerHTML.slice(0, 120)));
    for (const [width, height] of WIDTHS) {
      const page = await loggedIn('admin', { width, height });
      for (const name of ['service-users', 'tokens', 'access-keys']) {
        await tab(page, name);
        assert.deepEqual(await unlabelled(page), [], name);
        await noSideScroll(page, name);
        await shot(page, `${name}-${width}`, true);
      }
      await tab(page, 'service-users');
      await page.click('#create-su');
      assert.deepEqual(await unlabelled(page), [], 'create service user dialog');
      await noSideScroll(page, 'create service user dialog');
      await shot(page, `su-create-${width}`);
      await page.keyboard.press('Escape');
      await tab(page, 'access-keys');
      await page.click('#create-access-key');
      assert.deepEqual(await unlabelled(page), [], 'create access key dialog');
      await page.keyboard.press('Escape');
    }
  });
});
