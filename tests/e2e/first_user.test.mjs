// The first-run path for people: `keyward users create` on the data directory, then log in over HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

// The first-start banner is a newcomer's first instructions: every address and directory in it must be
// the server's own, and its commands must work as printed (issue 6 item 19: two values were swapped).
test('the first-start banner names the server address and data directory in the right places', async () => {
  const s = await startServer({ rootToken: null });
  try {
    const out = s.stdout();
    const token = out.match(/kwroot_[0-9A-Za-z]+/)?.[0];
    assert.ok(token, `no root token in the banner:\n${out}`);
    const urls = [...out.matchAll(/https?:\/\/\S+/g)].map((m) => m[0].replace(/[.,]$/, ''));
    assert.deepEqual(urls, [`${s.url}/api/v1/services`, `${s.url}/console/`], out);
    const dirs = [...out.matchAll(/--data-dir (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(dirs, [s.dataDir, s.dataDir], out);
    assert.match(out, new RegExp(`keyward users create --username \\S+ --data-dir ${s.dataDir}\\n`));
    assert.match(out, new RegExp(`keyward root-token rotate --data-dir ${s.dataDir}\\n`));
    // The two printed shell lines work as pasted.
    const lines = out.split('\n').map((l) => l.trim());
    const exp = lines.find((l) => l.includes('export KEYWARD_TOKEN=')).replace(/^Next:\s+/, '');
    const curl = lines.find((l) => l.startsWith('curl '));
    const r = spawnSync('bash', ['-c', `set -e; ${exp}; ${curl} --fail --silent --show-error`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Array.isArray(JSON.parse(r.stdout).items), r.stdout);
  } finally {
    await s.cleanup();
  }
});
