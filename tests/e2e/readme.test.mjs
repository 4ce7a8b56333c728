// readme.test.mjs - keeps README.md true: extracts its ```sh blocks and runs them with bash, in order,
// in one shell, against a real server, as a newcomer would paste them. A block preceded by the line
// `<!-- readme-test: skip (why) -->` is not run (`make run` itself, the export of the printed root
// token); the test sets what the skipped first-start block exports, and checks it exports exactly that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, api, startServer, tempDir } from './lib/server.mjs';

const README = new URL('../../README.md', import.meta.url).pathname;
const SKIP = /^<!-- readme-test: skip\b.*-->$/;

// Every fenced block with its info string, first line number and whether it is marked skip.
function blocks(text) {
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^```(\S*)/);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith('```')) j++;
    out.push({ lang: open[1], line: i + 1, skip: i > 0 && SKIP.test(lines[i - 1]), code: lines.slice(i + 1, j).join('\n') });
    i = j;
  }
  return out;
}

const haveJq = spawnSync('jq', ['--version']).status === 0;

test('README shell blocks run as pasted against a real server, each exiting 0', { skip: !haveJq && 'jq is not installed (scripts/deps)' }, async () => {
  const all = blocks(readFileSync(README, 'utf8'));
  const sh = all.filter((b) => b.lang === 'sh');
  const run = sh.filter((b) => !b.skip);
  const skipped = sh.filter((b) => b.skip);
  assert.ok(run.some((b) => b.code.includes('/roll')), 'the key flow is run');
  assert.ok(run.some((b) => b.code.includes('/api/v1/session')), 'the people flow is run');
  assert.ok(run.length >= 12, `only ${run.length} runnable blocks`);

  // What the skipped first-start block exports is what the test provides, nothing more or less.
  const firstStart = skipped.find((b) => b.code.includes('KEYWARD_TOKEN='));
  assert.ok(firstStart, 'the first-start block');
  const exported = [...firstStart.code.matchAll(/^export (\w+)=/gm)].map((m) => m[1]).sort();
  assert.deepEqual(exported, ['KEYWARD_ADDR', 'KEYWARD_TOKEN', 'KW']);

  // A directory laid out like the checkout: ./build/keyward and the server's data in ./var.
  const home = tempDir('kw-readme');
  mkdirSync(join(home, 'build'));
  symlinkSync(BIN, join(home, 'build', 'keyward'));
  // curl -s answers 4xx/5xx with exit 0; this makes any HTTP error fail its block (the README stays plain).
  writeFileSync(join(home, '.curlrc'), 'fail-with-body\nshow-error\n');
  const password = 'readme admin passphrase';
  writeFileSync(join(home, 'stdin'), `${password}\n${password}\n`); // each block's stdin: what a person types

  // spawnSync below blocks this process's event loop, so fetch cannot notice that the server closed its idle
  // keep-alive connection meanwhile (--idle-timeout, 10 s): on a busy machine the blocks take longer than that.
  const server = await startServer({ dataDir: join(home, 'var'), args: ['--idle-timeout', '300'] });
  try {
    // One shell, so variables carry from block to block; set -e: any failing command fails its block.
    const parts = ['set -eo pipefail'];
    run.forEach((b, i) => parts.push(`echo "@@block ${i}" >&2`, `{\n${b.code}\n} < ./stdin`));
    const assigned = run.flatMap((b) => [...b.code.matchAll(/^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
    const names = [...new Set([...assigned, 'PASSWORD'])];
    parts.push('echo "@@done" >&2', ...names.map((n) => `printf '@@var %s=%s\\n' ${n} "\${${n}-}"`));
    writeFileSync(join(home, 'readme.sh'), `${parts.join('\n')}\n`);
    const env = { ...process.env, KW: server.url, KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.rootToken, CURL_HOME: home };
    delete env.KEYWARD_ROOT_TOKEN;
    delete env.KEYWARD_DATA_DIR;
    const r = spawnSync('bash', ['readme.sh'], { cwd: home, env, encoding: 'utf8', timeout: 120_000 });

    const reached = [...r.stderr.matchAll(/^@@block (\d+)$/gm)].map((m) => Number(m[1]));
    const last = run[reached.at(-1) ?? 0];
    assert.ok(r.stderr.includes('@@done') && r.status === 0,
      `README block at line ${last.line} failed (exit ${r.status}):\n${last.code}\n--- stderr:\n${r.stderr.slice(-3000)}\n--- stdout:\n${r.stdout.slice(-3000)}`);

    // The captured variables hold real values, not placeholders or jq's "null".
    const vars = Object.fromEntries([...r.stdout.matchAll(/^@@var (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    for (const [n, v] of Object.entries(vars)) {
      if (n === 'PASSWORD') continue; // unset again after use, on purpose
      assert.ok(v && v !== 'null' && !v.includes('...'), `${n}=${v}`);
    }
    assert.equal(vars.PASSWORD, '', 'the password does not stay in the environment');
    assert.match(vars.SVC, /^svc_/);
    assert.match(vars.KEY, /^acme_[0-9A-Za-z]{49}$/);
    assert.notEqual(vars.KEY_ID, vars.OLD_KEY_ID);

    // What the README says happened did: the rolled-away key is gone, the new one verifies,
    // admin logged in with the password it was created with, vera is a viewer.
    const get = (path) => api(server.url, 'GET', path, undefined, { token: server.rootToken });
    assert.equal((await get(`/api/v1/keys/${vars.OLD_KEY_ID}`)).status, 404);
    const v = await api(server.url, 'POST', '/api/v1/keys/verify', { key: vars.KEY }, { token: server.rootToken });
    assert.equal(v.json.code, 'VALID');
    assert.equal(v.json.keyId, vars.KEY_ID);
    const members = await get(`/api/v1/services/${vars.SVC}/members`);
    assert.ok(members.json.items.some((m) => m.username === 'vera' && m.role === 'viewer'), members.text);
    const login = await api(server.url, 'POST', '/api/v1/session', { username: 'admin', password });
    assert.equal(login.status, 200, login.text);
    assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), 'the password was never printed');
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(`${join(home, 'var')}.log`, { force: true });
  }
});
