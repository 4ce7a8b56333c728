// The first-run path for people: `keyward users create` on the data directory, then log in over HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { api, run, startServer, tempDir } from './lib/server.mjs';

test('keyward users create makes the first sysadmin, who can log in', async () => {
  const dir = tempDir('kw-first');
  const pw = 'first admin passphrase';
  let r = run(['users', 'create', '--username', 'admin', '--data-dir', dir], { input: `${pw}\n` });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /created sysadmin user admin/);
  assert.ok(!r.stdout.includes(pw) && !r.stderr.includes(pw));
  r = run(['users', 'create', '--username', 'admin', '--data-dir', dir], { input: `${pw}\n` });
  assert.equal(r.status, 1);
  r = run(['users', 'create', '--username', 'shorty', '--data-dir', dir], { input: 'short\n' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /12 to 256/);
  r = run(['users', 'create', '--username', 'Bad Name', '--data-dir', dir], { input: `${pw}\n` });
  assert.equal(r.status, 2);

  const s = await startServer({ dataDir: dir });
  try {
    const login = await api(s.url, 'POST', '/api/v1/session', { username: 'admin', password: pw });
    assert.equal(login.status, 200);
    assert.equal(login.json.user.role, 'sysadmin');
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
