// Starts the real keyward binary on a free loopback port with a temporary data directory,
// and gives tests a small HTTP client. Every process started here is stopped by pid.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.KEYWARD_BIN || new URL('../../../build/keyward', import.meta.url).pathname;

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

export function randomToken(n = 48) {
  return randomBytes(n).toString('base64url').slice(0, n);
}

// Runs a keyward command (not serve) to completion.
export function run(args, { env = {}, input } = {}) {
  const r = spawnSync(BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000, input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function startServer({ dataDir, rootToken, env = {}, args = [], keepDir = false } = {}) {
  const dir = dataDir || tempDir('kw-data');
  const token = rootToken === undefined ? randomToken() : rootToken;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const childEnv = { ...process.env, ...env };
  delete childEnv.KEYWARD_ROOT_TOKEN;
  if (token) childEnv.KEYWARD_ROOT_TOKEN = token;
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let exited = null;
  const exitP = new Promise((resolve) => child.on('exit', (code, sig) => resolve((exited = { code, sig }))));

  const server = {
    url, port, dataDir: dir, rootToken: token, pid: child.pid,
    logs: () => out,
    exited: () => exited,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitP;
        clearTimeout(t);
      }
      // Under `make test-asan` a sanitizer report is a failure even if every assertion passed.
      const m = out.match(/(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)[^\n]*/);
      if (m) throw new Error(`sanitizer report from keyward: ${m[0]}\n${out.slice(-4000)}`);
      return exited;
    },
    async kill9() {
      if (!exited) child.kill('SIGKILL');
      return exitP;
    },
    async cleanup() {
      await server.stop();
      if (!keepDir && !dataDir) rmSync(dir, { recursive: true, force: true });
    },
    api: (method, path, body, opts = {}) => api(url, method, path, body, { token, ...opts }),
  };

  const deadline = Date.now() + 10000;
  for (;;) {
    if (exited) throw new Error(`keyward exited (${JSON.stringify(exited)}) before ready:\n${out}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`keyward not ready after 10 s:\n${out}`);
    }
    await sleep(50);
  }
  return server;
}

// One HTTP call. body: object (sent as JSON), string (sent as is), or undefined.
export async function api(base, method, path, body, { token, headers = {}, contentType } = {}) {
  const h = { ...headers };
  if (token && !('authorization' in Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])))) {
    h.Authorization = `Bearer ${token}`;
  }
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    h['Content-Type'] = contentType || 'application/json';
  }
  const r = await fetch(base + path, { method, headers: h, body: payload });
  const text = await r.text();
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

export async function verify(server, key, token = server.rootToken) {
  const r = await api(server.url, 'POST', '/api/v1/keys/verify', { key }, { token });
  return r.json;
}

export function writeFile(path, text) {
  writeFileSync(path, text);
}
