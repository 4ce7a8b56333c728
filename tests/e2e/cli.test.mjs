// cli.test.mjs - `keyward services ...` and `keyward keys ...` end to end: starts the real server,
// drives the CLI binary against it, and checks exit codes, tables, --json output and error lines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import crypto from 'node:crypto';

const BIN = process.env.KEYWARD_BIN ?? '/work/main/build/keyward';
const ROOT_TOKEN = crypto.randomBytes(36).toString('base64url'); // 48 characters

let server; // { child, addr, dir, log }
const stderrSeen = []; // every CLI stderr, to check no secret ever went there
const secrets = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  const dir = await mkdtemp(path.join(tmpdir(), 'keyward-cli-'));
  const port = await freePort();
  const addr = `http://127.0.0.1:${port}`;
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir], {
    env: { ...process.env, KEYWARD_ROOT_TOKEN: ROOT_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const srv = { child, addr, dir, log: '', exited: false };
  child.stdout.on('data', (d) => (srv.log += d));
  child.stderr.on('data', (d) => (srv.log += d));
  child.on('exit', () => (srv.exited = true));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (srv.exited) throw new Error(`keyward serve exited early:\n${srv.log}`);
    try {
      const r = await fetch(`${addr}/readyz`);
      if (r.status === 200) return srv;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`keyward serve not ready within 10 s:\n${srv.log}`);
}

async function stopServer(srv) {
  if (!srv) return;
  if (!srv.exited) {
    const gone = new Promise((r) => srv.child.once('exit', r));
    process.kill(srv.child.pid, 'SIGTERM');
    const t = setTimeout(() => !srv.exited && process.kill(srv.child.pid, 'SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
  await rm(srv.dir, { recursive: true, force: true });
}

// Runs the CLI; env overrides are merged over a clean KEYWARD_ADDR/KEYWARD_TOKEN pair.
function cli(args, envOver = {}) {
  const env = { ...process.env, KEYWARD_ADDR: server.addr, KEYWARD_TOKEN: ROOT_TOKEN, ...envOver };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      stderrSeen.push(stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(args, envOver) {
  const r = await cli(args, envOver);
  assert.equal(r.code, 0, `keyward ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stderr, '', `unexpected stderr from keyward ${args.join(' ')}`);
  return r;
}

async function okJson(args) {
  const r = await ok([...args, '--json']);
  return JSON.parse(r.stdout);
}

async function verify(key) {
  const r = await fetch(`${server.addr}/api/v1/keys/verify`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ROOT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  assert.equal(r.status, 200);
  return r.json();
}

// The header row of a table, split on runs of 2+ spaces.
const columns = (line) => line.trim().split(/ {2,}/);

before(async () => {
  server = await startServer();
});

after(async () => {
  await stopServer(server);
});

let svc; // created service
let key1; // created key (with secret)
let key2; // rolled key (with secret)

test('services create and list', async () => {
  svc = await okJson(['services', 'create', '--name', 'CLI test', '--description', 'made by cli.test', '--key-prefix', 'clit']);
  assert.match(svc.id, /^svc_/);
  assert.equal(svc.name, 'CLI test');
  assert.equal(svc.keyPrefix, 'clit');

  const human = await ok(['services', 'create', '--name', 'second one']);
  assert.match(human.stdout, /^id\s+svc_\S+$/m);
  assert.match(human.stdout, /^name\s+second one$/m);

  const list = await ok(['services', 'list']);
  const lines = list.stdout.trimEnd().split('\n');
  assert.deepEqual(columns(lines[0]), ['ID', 'NAME', 'PREFIX', 'CREATED']);
  const row = lines.find((l) => l.startsWith(svc.id));
  assert.ok(row, `service ${svc.id} missing from:\n${list.stdout}`);
  assert.deepEqual(columns(row).slice(0, 3), [svc.id, 'CLI test', 'clit']);
  // Columns are aligned: NAME starts at the same offset in every line.
  const at = lines[0].indexOf('NAME');
  for (const l of lines.slice(1)) assert.notEqual(l[at], ' ', `misaligned row: ${l}`);

  const all = await okJson(['services', 'list', '--all', '--limit', '1']);
  assert.ok(all.items.length >= 2);
  assert.equal(all.nextCursor, null);
  assert.ok(all.items.some((s) => s.id === svc.id));

  const shown = await okJson(['services', 'show', svc.id]);
  assert.equal(shown.id, svc.id);
  const upd = await okJson(['services', 'update', svc.id, '--description', 'changed']);
  assert.equal(upd.description, 'changed');
  assert.equal(upd.keyPrefix, 'clit');
});

test('keys create prints the secret once, to stdout', async () => {
  key1 = await okJson([
    'keys', 'create', '--service', svc.id, '--scope', 'attributes', '--description', 'integrator one',
    '--permission', 'candidates:archive', '--permission', 'keys:verify', '--archive-after', '3600',
  ]);
  assert.match(key1.id, /^key_/);
  assert.match(key1.key, /^clit_[0-9A-Za-z]{49}$/);
  assert.ok(key1.key.startsWith(key1.start));
  assert.equal(key1.scope, 'attributes');
  assert.equal(key1.status, 'active');
  assert.deepEqual(key1.permissions, ['candidates:read', 'candidates:archive', 'keys:verify']);
  assert.equal(key1.archiveAfterExtractSeconds, 3600);
  secrets.push(key1.key);
  assert.equal((await verify(key1.key)).code, 'VALID');

  const human = await ok(['keys', 'create', '--service', svc.id, '--scope', 'metadata']);
  const secret = human.stdout.match(/\bclit_[0-9A-Za-z]{49}\b/);
  assert.ok(secret, `no secret in:\n${human.stdout}`);
  secrets.push(secret[0]);
  assert.match(human.stdout, /shown only once/);
  assert.match(human.stdout, /\bkey_\S+/);
  assert.equal((await verify(secret[0])).code, 'VALID');

  const shown = await okJson(['keys', 'show', key1.id]);
  assert.equal(shown.key, undefined, 'show must not return a secret');
  const showHuman = await ok(['keys', 'show', key1.id]);
  for (const s of secrets) assert.ok(!showHuman.stdout.includes(s));
});

test('keys list shows an aligned table', async () => {
  const r = await ok(['keys', 'list', '--service', svc.id]);
  const lines = r.stdout.trimEnd().split('\n');
  assert.deepEqual(columns(lines[0]), ['ID', 'DESCRIPTION', 'START', 'SCOPE', 'STATUS', 'CREATED', 'LAST USED']);
  assert.equal(lines.length, 3);
  const row = lines.find((l) => l.startsWith(key1.id));
  assert.ok(row);
  const cells = columns(row);
  assert.equal(cells[1], 'integrator one');
  assert.equal(cells[2], key1.start);
  assert.equal(cells[3], 'attributes');
  assert.equal(cells[4], 'active');
  assert.equal(lines[0].indexOf('STATUS'), row.indexOf('active'));

  const all = await okJson(['keys', 'list', '--service', svc.id, '--all', '--limit', '1']);
  assert.equal(all.items.length, 2);
  assert.equal(all.nextCursor, null);
  for (const k of all.items) assert.equal(k.key, undefined);
});

test('keys update --disable, then --enable', async () => {
  const r = await ok(['keys', 'update', key1.id, '--disable']);
  assert.match(r.stdout, /^status\s+disabled$/m);
  assert.equal((await verify(key1.key)).code, 'DISABLED');
  const k = await okJson(['keys', 'update', key1.id, '--enable', '--description', 'renamed', '--archive-after', 'none']);
  assert.equal(k.status, 'active');
  assert.equal(k.enabled, true);
  assert.equal(k.description, 'renamed');
  assert.equal(k.archiveAfterExtractSeconds, null);
  assert.equal((await verify(key1.key)).code, 'VALID');
});

test('keys roll --grace 60 gives a new secret; the old one expires later', async () => {
  const before = Date.now();
  key2 = await okJson(['keys', 'roll', key1.id, '--grace', '60']);
  secrets.push(key2.key);
  assert.notEqual(key2.id, key1.id);
  assert.notEqual(key2.key, key1.key);
  assert.equal(key2.rolledFrom, key1.id);
  assert.equal(key2.description, 'renamed');
  assert.equal((await verify(key2.key)).code, 'VALID');
  assert.equal((await verify(key1.key)).code, 'VALID'); // still in its grace period
  const old = await okJson(['keys', 'show', key1.id]);
  const expires = Date.parse(old.expiresAt);
  assert.ok(expires >= before + 55_000 && expires <= Date.now() + 65_000, `old key expiresAt ${old.expiresAt}`);

  const human = await ok(['keys', 'roll', key2.id]);
  const secret = human.stdout.match(/\bclit_[0-9A-Za-z]{49}\b/);
  assert.ok(secret);
  secrets.push(secret[0]);
  assert.match(human.stdout, /shown only once/);
  assert.equal((await verify(key2.key)).code, 'EXPIRED'); // grace 0: stops at once
});

test('keys revoke, then update is refused', async () => {
  const r = await ok(['keys', 'revoke', key1.id]);
  assert.match(r.stdout, /^status\s+revoked$/m);
  assert.equal((await verify(key1.key)).code, 'REVOKED');
  const again = await cli(['keys', 'update', key1.id, '--description', 'x']);
  assert.equal(again.code, 1);
  assert.equal(again.stdout, '');
  assert.match(again.stderr, /^error: .+ \(KEY_REVOKED\)\n$/);
});

test('keys delete, then show is NOT_FOUND', async () => {
  const r = await ok(['keys', 'delete', key2.id]);
  assert.match(r.stdout, new RegExp(key2.id));
  assert.equal((await verify(key2.key)).valid, false);
  const gone = await cli(['keys', 'show', key2.id]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^error: .+ \(NOT_FOUND\)\n$/);
});

test('services delete needs --force while keys are live', async () => {
  const refused = await cli(['services', 'delete', svc.id]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /\(SERVICE_HAS_LIVE_KEYS\)/);
  // The CLI names its own option, not the API's query parameter (issue 6 item 20).
  assert.match(refused.stderr, /--force/);
  assert.doesNotMatch(refused.stderr, /\?force=true/);
  await ok(['services', 'delete', svc.id, '--force']);
  const gone = await cli(['services', 'show', svc.id, '--json']);
  assert.equal(gone.code, 1);
  assert.equal(gone.stdout, '');
  assert.match(gone.stderr, /\(NOT_FOUND\)/);
  for (const s of secrets) assert.equal((await verify(s)).valid, false);
});

test('a missing KEYWARD_TOKEN exits 2 before any request', async () => {
  const r = await cli(['services', 'list'], { KEYWARD_TOKEN: undefined });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /KEYWARD_TOKEN/);
  assert.equal(r.stdout, '');
});

test('a wrong token is refused with exit 1', async () => {
  const r = await cli(['services', 'list'], { KEYWARD_TOKEN: 'kwroot_not_the_token_at_all_0000000000' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\(UNAUTHENTICATED\)/);
});

test('an unreachable KEYWARD_ADDR exits 3', async () => {
  const port = await freePort();
  const addr = `http://127.0.0.1:${port}`;
  const r = await cli(['keys', 'list', '--service', 'svc_x'], { KEYWARD_ADDR: addr });
  assert.equal(r.code, 3);
  assert.match(r.stderr, new RegExp(`^cannot reach keyward at ${addr}: `));
});

test('usage errors exit 2 with one line; --help exits 0', async () => {
  for (const args of [
    ['keys'],
    ['keys', 'frobnicate'],
    ['keys', 'create', '--service', 'svc_x'],
    ['keys', 'create', '--service', 'svc_x', '--scope', 'everything'],
    ['keys', 'show'],
    ['keys', 'show', 'a', 'b'],
    ['keys', 'update', 'key_x'],
    ['keys', 'update', 'key_x', '--enable', '--disable'],
    ['keys', 'roll', 'key_x', '--grace', 'soon'],
    ['keys', 'list', '--service', 'svc_x', '--limit', '0'],
    ['keys', 'list', '--service'],
    ['services', 'create'],
    ['services', 'list', '--bogus'],
  ]) {
    const r = await cli(args, { KEYWARD_TOKEN: undefined });
    assert.equal(r.code, 2, `keyward ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    if (args.length > 1) assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  }
  for (const args of [['keys', '--help'], ['services', '--help'], ['keys', 'create', '--help'], ['services', 'delete', '--help']]) {
    const r = await cli(args, { KEYWARD_TOKEN: undefined });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: keyward /);
  }
});

test('no secret ever reached stderr', () => {
  assert.ok(secrets.length >= 4);
  const all = stderrSeen.join('\n');
  for (const s of [...secrets, ROOT_TOKEN]) assert.ok(!all.includes(s));
});

// ---- offline commands and help (issue 6 item 20) ----------------------------------------------

// Runs an offline command (not serve, no server) to completion.
function offline(args, input) {
  const env = { ...process.env };
  delete env.KEYWARD_ROOT_TOKEN;
  delete env.KEYWARD_LOG_LEVEL;
  const r = spawnSync(BIN, args, { env, input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

test('every command and subcommand answers --help with its own usage on stdout and exit 0', () => {
  const cases = [
    [['serve', '--help'], 'keyward serve'],
    [['migrate', '--help'], 'keyward migrate'],
    [['migrate', '--data-dir', '/nonexistent', '-h'], 'keyward migrate'],
    [['root-token', '--help'], 'keyward root-token rotate'],
    [['root-token', 'rotate', '--help'], 'keyward root-token rotate'],
    [['audit', '--help'], 'keyward audit verify'],
    [['audit', 'verify', '--help'], 'keyward audit verify'],
    [['users', '--help'], 'keyward users create'],
    [['users', 'create', '--help'], 'keyward users create'],
    [['users', 'create', '--username', 'someone', '--help'], 'keyward users create'],
    [['services', '--help'], 'keyward services <command>'],
    [['keys', '--help'], 'keyward keys <command>'],
    [['--help'], 'keyward <command>'],
    [['help'], 'keyward <command>'],
  ];
  for (const cmd of ['create', 'list', 'show', 'update', 'delete']) cases.push([['services', cmd, '--help'], `keyward services ${cmd}`]);
  for (const cmd of ['create', 'list', 'show', 'update', 'revoke', 'roll', 'delete']) cases.push([['keys', cmd, '--help'], `keyward keys ${cmd}`]);
  for (const [args, want] of cases) {
    const r = offline(args);
    const what = `keyward ${args.join(' ')}`;
    assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stderr, '', `${what} wrote to stderr: ${r.stderr}`);
    assert.ok(r.stdout.includes(`usage: ${want}`), `${what} printed:\n${r.stdout}`);
    if (args[0] !== 'serve') assert.ok(!r.stdout.includes('usage: keyward serve'), `${what} printed serve's help`);
  }
});

test('offline commands print their answer and no log lines (nothing at info level, nothing on stdout)', () => {
  const dir = path.join(tmpdir(), `keyward-cli-offline-${process.pid}`);
  try {
    const pw = 'offline admin passphrase';
    let r = offline(['users', 'create', '--username', 'offadmin', '--data-dir', dir], `${pw}\n`);
    assert.equal(r.code, 0, r.stderr);
    const runs = [r];
    runs.push((r = offline(['migrate', '--data-dir', dir])));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^schema version \d+ \(0 migrations applied\)\n$/);
    runs.push((r = offline(['audit', 'verify', '--data-dir', dir])));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^audit chain intact: \d+ events\n$/);
    runs.push((r = offline(['root-token', 'rotate', '--data-dir', dir])));
    assert.equal(r.code, 0, r.stderr);
    for (const x of runs) {
      assert.doesNotMatch(x.stdout, /\blevel=|msg=/, `a log line on stdout:\n${x.stdout}`);
      assert.doesNotMatch(x.stderr, /level=(info|debug)/, `an info log line:\n${x.stderr}`);
      assert.doesNotMatch(x.stderr + x.stdout, /store ready/);
    }
  } finally {
    spawnSync('rm', ['-rf', dir]);
  }
});

// A terminal is simulated with script(1): users create must ask for the password twice there, without
// echo, and refuse a mismatch; from a pipe it reads one line (tests and scripts rely on that).
function onTerminal(args, lines) {
  return new Promise((resolve, reject) => {
    const cmd = [BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let sent = 0;
    const feed = () => {
      // One line per prompt seen so far; the prompt is written before echo is turned off.
      const prompts = (out.match(/(Password|Again)[^:\n]*: /g) || []).length;
      while (sent < prompts && sent < lines.length) child.stdin.write(`${lines[sent++]}\n`);
      if (sent === lines.length) child.stdin.end();
    };
    child.stdout.on('data', (d) => { out += d; setTimeout(feed, 100); });
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

const haveScript = spawnSync('script', ['--version']).status === 0;

test('users create on a terminal asks for the password twice and refuses a mismatch', { skip: !haveScript && 'no script(1)' }, async () => {
  const dir = path.join(tmpdir(), `keyward-cli-tty-${process.pid}`);
  try {
    const pw = 'terminal passphrase one';
    let r = await onTerminal(['users', 'create', '--username', 'ttyuser', '--data-dir', dir], [pw, `${pw}x`]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /Password[^:\n]*: /);
    assert.match(r.out, /Again[^:\n]*: /);
    assert.match(r.out, /do not match/);
    assert.ok(!r.out.includes(pw), `the password was echoed:\n${r.out}`);
    r = await onTerminal(['users', 'create', '--username', 'ttyuser', '--data-dir', dir], [pw, pw]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /created sysadmin user ttyuser/);
    assert.ok(!r.out.includes(pw), `the password was echoed:\n${r.out}`);
  } finally {
    spawnSync('rm', ['-rf', dir]);
  }
});

// ---- terminal safety (issue 6 item 23, CLI half) ----------------------------------------------

test('tables and listings escape control characters stored in names and descriptions', async () => {
  const made = await okJson(['services', 'create', '--name', 'plain name', '--description', 'plain']);
  // Old data may hold what the API now refuses: write it into the database directly.
  const evilName = 'evil\x1b]0;pwned\x07\x1b[2J\u009b31m\x7fname\\';
  const evilDesc = 'line1\nline2\r\tend';
  const sql = `UPDATE services SET name = CAST(X'${Buffer.from(evilName).toString('hex')}' AS TEXT), ` +
    `description = CAST(X'${Buffer.from(evilDesc).toString('hex')}' AS TEXT) WHERE id = '${made.id}';`;
  const q = spawnSync('sqlite3', ['-cmd', '.timeout 5000', path.join(server.dir, 'keyward.db'), sql], { encoding: 'utf8' });
  assert.equal(q.status, 0, q.stderr);
  assert.equal((await okJson(['services', 'show', made.id])).name, evilName, 'the server returns the stored bytes');

  const raw = /[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f]/; // any control character but the line ends
  const list = await ok(['services', 'list', '--limit', '200']);
  const row = list.stdout.split('\n').find((l) => l.startsWith(made.id));
  assert.ok(row, list.stdout);
  assert.doesNotMatch(list.stdout, raw);
  assert.ok(row.includes('evil\\x1b]0;pwned\\x07\\x1b[2J\\u009b31m'), row); // NAME is cut at 40 characters

  const shown = await ok(['services', 'show', made.id]);
  assert.doesNotMatch(shown.stdout, raw);
  assert.ok(shown.stdout.includes('evil\\x1b]0;pwned\\x07\\x1b[2J\\u009b31m\\x7fname\\\\\n'), shown.stdout);
  assert.match(shown.stdout, /^description\s+line1\\nline2\\r\\tend$/m);
  assert.equal(shown.stdout.split('\n').filter((l) => l).length, Object.keys(made).length, 'one line per field');

  // --json stays valid JSON with the same value, and carries no raw C1 or DEL either.
  const json = await ok(['services', 'show', made.id, '--json']);
  assert.doesNotMatch(json.stdout, raw);
  assert.equal(JSON.parse(json.stdout).name, evilName);
  await ok(['services', 'delete', made.id]);
});
