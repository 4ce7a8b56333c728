// The root token: generated and printed once at first start, or taken from KEYWARD_ROOT_TOKEN (>= 32 chars);
// `keyward root-token rotate` replaces it, with the server stopped or running.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { api, filesUnder, randomToken, run, startServer, tempDir } from './lib/server.mjs';

const ROOT_RE = /kwroot_[0-9A-Za-z]+/g;
const tokensIn = (text) => [...new Set(text.match(ROOT_RE) || [])];
const services = (s, token) => api(s.url, 'GET', '/api/v1/services', undefined, { token });

function rotate(dir) {
  const r = run(['root-token', 'rotate', '--data-dir', dir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const t = tokensIn(r.stdout);
  assert.equal(t.length, 1, `rotate prints one new token on stdout: ${r.stdout}`);
  assert.equal(tokensIn(r.stderr).length, 0, 'and not on stderr');
  return t[0];
}

describe('root token', () => {
  test('first start prints a generated kwroot_ token once on stdout; later starts do not', async () => {
    const dir = tempDir('kw-root');
    try {
      const s = await startServer({ rootToken: null, dataDir: dir });
      let first;
      try {
        const printed = tokensIn(s.stdout());
        assert.equal(printed.length, 1, `one token on stdout: ${s.stdout()}`);
        first = printed[0];
        assert.ok(first.length >= 7 + 32, `token ${first.length} chars`);
        assert.equal(tokensIn(s.stderr()).length, 0, 'the log stream (stderr) never carries it');
        const r = await services(s, first);
        assert.equal(r.status, 200);
        assert.equal((await services(s, `${first}x`)).status, 401);
      } finally {
        await s.stop();
      }
      assert.deepEqual(tokensIn(s.logs()), [first], 'nothing else printed a token before shutdown');

      const again = await startServer({ rootToken: null, dataDir: dir });
      try {
        assert.equal(tokensIn(again.logs()).length, 0, 'a second start does not print it again');
        assert.equal((await services(again, first)).status, 200, 'and the token still works');
      } finally {
        await again.stop();
      }
      assert.equal(tokensIn(again.logs()).length, 0);
      // Stored hashed, never in the clear.
      for (const f of filesUnder(dir)) assert.equal(readFileSync(f).indexOf(Buffer.from(first)), -1, f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}.log`, { force: true });
    }
  });

  test('rotate with the server stopped: the new token works after restart, the old one is 401', async () => {
    const s = await startServer();
    const old = s.rootToken;
    assert.equal((await s.api('GET', '/api/v1/services')).status, 200);
    await s.stop();
    const fresh = rotate(s.dataDir);
    assert.notEqual(fresh, old);
    const again = await startServer({ dataDir: s.dataDir, rootToken: null });
    try {
      assert.equal(tokensIn(again.logs()).length, 0, 'no new token printed at start');
      const o = await services(again, old);
      assert.equal(o.status, 401);
      assert.equal(o.json.code, 'UNAUTHENTICATED');
      assert.equal((await services(again, fresh)).status, 200);
      const ev = await api(again.url, 'GET', '/api/v1/audit?action=root_token.rotate', undefined, { token: fresh });
      assert.equal(ev.status, 200);
      assert.equal(ev.json.items.length, 1, 'the rotation is audited');
      assert.equal(ev.json.items[0].outcome, 'success');
      assert.ok(!JSON.stringify(ev.json).includes(fresh));
    } finally {
      await again.stop();
    }
    const chain = run(['audit', 'verify', '--data-dir', s.dataDir]);
    assert.equal(chain.status, 0, chain.stdout + chain.stderr);
    rmSync(s.dataDir, { recursive: true, force: true });
    rmSync(s.logFile, { force: true });
  });

  test('rotate with the server running: effective on the next request', async () => {
    const s = await startServer({ keepDir: true });
    try {
      assert.equal((await s.api('GET', '/api/v1/services')).status, 200);
      const fresh = rotate(s.dataDir);
      assert.notEqual(fresh, s.rootToken);
      const o = await s.api('GET', '/api/v1/services');
      assert.equal(o.status, 401, 'the old token stops on the next request');
      assert.equal(o.json.code, 'UNAUTHENTICATED');
      assert.equal((await services(s, fresh)).status, 200, 'the new token works on the next request');
      const created = await api(s.url, 'POST', '/api/v1/services', { name: 'after rotate' }, { token: fresh });
      assert.equal(created.status, 201);
      // A second rotation retires the first fresh token too.
      const third = rotate(s.dataDir);
      assert.equal((await services(s, fresh)).status, 401);
      assert.equal((await services(s, third)).status, 200);
      assert.ok(!s.logs().includes(fresh) && !s.logs().includes(third), 'the server never logs the new tokens');
    } finally {
      await s.stop();
    }
    const chain = run(['audit', 'verify', '--data-dir', s.dataDir]);
    assert.equal(chain.status, 0, `rotations keep the audit chain intact: ${chain.stdout}${chain.stderr}`);
    rmSync(s.dataDir, { recursive: true, force: true });
    rmSync(s.logFile, { force: true });
  });

  test('KEYWARD_ROOT_TOKEN shorter than 32 characters is refused at first start; 32 is enough', async () => {
    const dir = tempDir('kw-short');
    try {
      const short = 'S'.repeat(31);
      const r = run(['serve', '--listen', '127.0.0.1:1', '--data-dir', dir], { env: { KEYWARD_ROOT_TOKEN: short } });
      assert.equal(r.signal, null, 'keyward exited by itself');
      assert.notEqual(r.status, 0);
      assert.match(r.stdout + r.stderr, /\b32\b/, 'the message names the 32-character minimum');
      assert.ok(!(r.stdout + r.stderr).includes(short), 'the refused token is not echoed');
      const tiny = run(['serve', '--listen', '127.0.0.1:1', '--data-dir', dir], { env: { KEYWARD_ROOT_TOKEN: 'too-short' } });
      assert.notEqual(tiny.status, 0);
      assert.match(tiny.stdout + tiny.stderr, /\b32\b/);
      assert.ok(!(tiny.stdout + tiny.stderr).includes('too-short'));
      // Exactly 32 is accepted.
      const ok = randomToken(32);
      const s = await startServer({ dataDir: dir, rootToken: ok });
      try {
        assert.equal((await services(s, ok)).status, 200);
      } finally {
        await s.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}.log`, { force: true });
    }
  });
});
