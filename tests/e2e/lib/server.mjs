// Starts the real keyward binary on a free loopback port with a temporary data directory,
// and gives tests a small HTTP client. Every process started here is stopped by pid, and a
// process-exit hook SIGKILLs any child a crashed test left behind.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { assertContract } from './openapi.mjs';

export const BIN = process.env.KEYWARD_BIN || new URL('../../../build/keyward', import.meta.url).pathname; // = /work/main/build/keyward here

// Children still running; killed by pid if the test process exits without stopping them.
const live = new Set();
// Log files beside data directories: removed at exit once their data directory is gone.
const logFiles = new Map(); // log file -> data dir
process.on('exit', () => {
  for (const child of live) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  for (const [log, dir] of logFiles) {
    if (!existsSync(dir)) rmSync(log, { force: true });
  }
});

// Writes raw bytes on a fresh connection; resolves with what came back when the peer closes or `wait`
// ms pass (no parsing: tests of what h2o and keyward answer on the wire, outside the contract check).
export function rawRequest(port, data, { wait = 3000 } = {}) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    const done = () => { sock.destroy(); resolve(out); };
    sock.on('data', (d) => (out += d));
    sock.on('end', done);
    sock.on('error', done);
    sock.setTimeout(wait, done);
    sock.write(data);
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tempDir(tag = 'kw') {
  return mkdtempSync(join(tmpdir(), `${tag}-`));
}

// n characters of [A-Za-z0-9_-].
export function randomToken(n = 48) {
  return randomBytes(n).toString('base64url').slice(0, n);
}

// Every regular file under dir, recursively.
export function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

// Runs a keyward command (not serve) to completion.
export function run(args, { env = {}, input, unsetRootToken = true } = {}) {
  const childEnv = { ...process.env };
  if (unsetRootToken) delete childEnv.KEYWARD_ROOT_TOKEN;
  Object.assign(childEnv, env);
  const r = spawnSync(BIN, args, { env: childEnv, encoding: 'utf8', timeout: 30000, input });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

// Polls fn until it returns a truthy value or ms pass; returns the last value.
export async function waitFor(fn, ms = 1500, step = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(step);
  }
}

// KEYWARD_TEST_STORE=postgresql://USER@HOST:PORT/DB (scripts/test sets it for the files it runs on
// PostgreSQL): each data directory gets its own database on that cluster, named after the directory so
// a restart on the same dataDir finds its data again; the server gets it with --store.
const PSQL = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';
function testStoreFor(dir) {
  const base = process.env.KEYWARD_TEST_STORE || '';
  if (!/^postgres(ql)?:\/\//.test(base)) return null;
  const name = `kw_${createHash('sha256').update(dir).digest('hex').slice(0, 24)}`;
  const r = spawnSync(PSQL, [base, '-qAt', '-v', 'ON_ERROR_STOP=1'], {
    encoding: 'utf8', timeout: 30000,
    input: `SELECT 'CREATE DATABASE ${name}' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '${name}') \\gexec\n`,
  });
  if (r.status !== 0) throw new Error(`cannot create database ${name} on ${base}: ${r.error?.message ?? r.stderr}`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

// rootToken: undefined -> a random 48-character token in KEYWARD_ROOT_TOKEN; null -> none set
// (first start generates and prints one); a string -> that token.
export async function startServer({ dataDir, rootToken, env = {}, args = [], keepDir = false, readyTimeoutMs = 30000 } = {}) {
  const dir = dataDir || tempDir('kw-data');
  const token = rootToken === undefined ? randomToken(48) : rootToken;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const childEnv = { ...process.env, ...env };
  delete childEnv.KEYWARD_ROOT_TOKEN;
  if (token) childEnv.KEYWARD_ROOT_TOKEN = token;

  // The output also goes to a file beside the data directory, so the secrets test can grep it.
  const logFile = join(dirname(dir), `${basename(dir)}.log`);
  const logFd = openSync(logFile, 'a');
  logFiles.set(logFile, dir);
  const store = testStoreFor(dir);
  const storeArgs = store ? ['--store', store] : [];
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir, ...storeArgs, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '', stdout = '', stderr = '';
  child.stdout.on('data', (d) => { out += d; stdout += d; writeSync(logFd, d); });
  child.stderr.on('data', (d) => { out += d; stderr += d; writeSync(logFd, d); });
  let exited = null, killedByTest = false;
  // 'close' fires after the exit and after both pipes are drained, so logs() is complete.
  const exitP = new Promise((resolve) => child.on('close', (code, sig) => {
    live.delete(child);
    try { closeSync(logFd); } catch { /* closed */ }
    resolve((exited = { code, sig }));
  }));

  const server = {
    url, port, dataDir: dir, rootToken: token, pid: child.pid, logFile,
    // The store it runs on ('sqlite' or the URI) and the flags that name it for offline commands.
    store: store ?? 'sqlite', storeArgs,
    logs: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: () => exited,
    // SIGTERM, wait for the exit (SIGKILL after 8 s: the drain's default deadline is 5 s), then check
    // it was clean: exit 0 and no signal, unless the test killed it with kill9() or passes
    // { expectClean: false }. A server that died on its own before stop() fails here too.
    async stop({ expectClean = true } = {}) {
      if (!exited) {
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
        const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 8000);
        await exitP;
        clearTimeout(t);
      }
      // Under `make test-asan` a sanitizer report is a failure even if every assertion passed.
      const m = out.match(/(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)[^\n]*/);
      if (m) throw new Error(`sanitizer report from keyward: ${m[0]}\n${out.slice(-4000)}`);
      if (expectClean && !killedByTest && (exited.code !== 0 || exited.sig !== null)) {
        throw new Error(`keyward did not exit 0 on SIGTERM (${JSON.stringify(exited)}); log tail:\n${out.slice(-3000)}`);
      }
      return exited;
    },
    async kill9() {
      killedByTest = true;
      if (!exited) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
      return exitP;
    },
    // stop(), then remove the data directory (unless it was given or keepDir) and the log file.
    async cleanup() {
      try {
        await server.stop();
      } finally {
        if (!keepDir && !dataDir) rmSync(dir, { recursive: true, force: true });
        if (!keepDir) rmSync(logFile, { force: true });
      }
    },
    api: (method, path, body, opts = {}) => api(url, method, path, body, { token, ...opts }),
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited) throw new Error(`keyward exited (${JSON.stringify(exited)}) before ready:\n${out}`);
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await server.kill9();
      throw new Error(`keyward not ready after ${readyTimeoutMs} ms:\n${out}`);
    }
    await sleep(50);
  }
  return server;
}

// One HTTP call. body: object (sent as JSON), string or Buffer (sent as is), or undefined.
// opts.token -> Authorization: Bearer (unless headers carry an Authorization already);
// opts.contentType: the body's type (default application/json; null sends none).
// The response must match docs/openapi.yaml (lib/openapi.mjs), or the call throws.
export async function api(base, method, path, body, { token, headers = {}, contentType } = {}) {
  const h = { ...headers };
  const has = (name) => Object.keys(h).some((k) => k.toLowerCase() === name);
  if (token && !has('authorization')) h.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!has('content-type') && contentType !== null) h['Content-Type'] = contentType || 'application/json';
  }
  const r = await fetch(base + path, { method, headers: h, body: payload, signal: AbortSignal.timeout(15000) });
  const text = await r.text();
  // Every response is held to docs/openapi.yaml (after redirects: the response finally answered).
  const final = new URL(r.url);
  assertContract({ method: r.redirected ? 'GET' : method, path: final.pathname, status: r.status, headers: r.headers, text });
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, text };
}

// Creates a service and returns it.
export async function createService(server, body = { name: 'Test service' }) {
  const r = await server.api('POST', '/api/v1/services', body);
  if (r.status !== 201) throw new Error(`service create: ${r.status} ${r.text}`);
  return r.json;
}

export async function createKey(server, serviceId, body = { scope: 'metadata' }) {
  const r = await server.api('POST', `/api/v1/services/${serviceId}/keys`, body);
  if (r.status !== 201) throw new Error(`key create: ${r.status} ${r.text}`);
  return r.json;
}

// POST /keys/verify as `token` (root by default); returns the body, throws unless 200.
export async function verify(server, key, token = server.rootToken) {
  const r = await api(server.url, 'POST', '/api/v1/keys/verify', { key }, { token });
  if (r.status !== 200) throw new Error(`verify: ${r.status} ${r.text}`);
  return r.json;
}

export function writeFile(path, text) {
  writeFileSync(path, text);
}

// RFC 3339 UTC with milliseconds, as docs/api.md gives every time.
export const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
