// SIGTERM drains: listeners close, requests under way finish, idle connections close, a deadline
// (--shutdown-timeout) bounds the wait, and the write-behind queue is flushed before exit 0.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { createKey, createService, sleep, startServer, verify, waitFor } from './lib/server.mjs';

function open(port) {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1');
    let data = '', ended = false;
    c.on('data', (d) => { data += d; });
    c.on('close', () => { ended = true; });
    c.on('error', () => {});
    c.once('connect', () => resolve({ sock: c, data: () => data, ended: () => ended }));
    c.once('error', reject);
  });
}

async function withServer(opts, fn) {
  const s = await startServer({ keepDir: true, ...opts });
  try {
    return await fn(s);
  } finally {
    await s.kill9();
    rmSync(s.dataDir, { recursive: true, force: true });
    rmSync(s.logFile, { force: true });
  }
}

describe('graceful shutdown', () => {
  test('a request whose body is still arriving at SIGTERM is answered, then keyward exits 0', async () => {
    await withServer({ args: ['--shutdown-timeout', '20'] }, async (s) => {
      const body = JSON.stringify({ name: 'created during the drain' });
      const c = await open(s.port);
      c.sock.write(`POST /api/v1/services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.rootToken}\r\n`
        + `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
      await sleep(200);
      process.kill(s.pid, 'SIGTERM');
      await waitFor(() => /shutting down/.test(s.logs()), 3000);
      await sleep(300);
      assert.equal(s.exited(), null, 'keyward waits for the request under way');
      c.sock.write(body.slice(5));
      assert.ok(await waitFor(() => c.ended(), 5000), 'the connection is closed after the answer');
      assert.match(c.data(), /^HTTP\/1\.1 201 /, c.data().slice(0, 200));
      assert.match(c.data(), /^connection: close/im, 'the answer during a drain closes the connection');
      assert.deepEqual(await s.stop(), { code: 0, sig: null });
      const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true });
      try {
        const names = (await again.api('GET', '/api/v1/services?limit=200')).json.items.map((i) => i.name);
        assert.ok(names.includes('created during the drain'), 'the write acknowledged during the drain is stored');
      } finally {
        await again.stop();
      }
    });
  });

  test('idle keep-alive connections are closed at once, not after the deadline', async () => {
    await withServer({ args: ['--shutdown-timeout', '60'] }, async (s) => {
      const idle = await open(s.port);
      const used = await open(s.port);
      used.sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.ok(await waitFor(() => /\r\n\r\n/.test(used.data()), 3000), 'answered');
      const t0 = Date.now();
      const ex = await s.stop();
      assert.deepEqual(ex, { code: 0, sig: null });
      assert.ok(Date.now() - t0 < 8000, `stopped in ${Date.now() - t0} ms with a 60 s deadline: idle connections did not hold it`);
      assert.ok(await waitFor(() => idle.ended() && used.ended(), 2000), 'both connections were closed by keyward');
    });
  });

  test('at the deadline the connections still open are closed and keyward exits 0', async () => {
    await withServer({ args: ['--shutdown-timeout', '1'] }, async (s) => {
      const stuck = await open(s.port);
      stuck.sock.write(`POST /api/v1/services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.rootToken}\r\n`
        + 'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na');
      await sleep(200);
      assert.deepEqual(await s.stop(), { code: 0, sig: null });
      assert.match(s.logs(), /shutdown timeout: closing open connections/);
      assert.ok(await waitFor(() => stuck.ended(), 2000), 'the stuck connection was closed');
    });
  });

  test('a second SIGTERM during the drain does not interrupt it or the final flush', async () => {
    await withServer({ args: ['--shutdown-timeout', '2', '--flush-interval-ms', '1000'] }, async (s) => {
      const svc = await createService(s);
      const k = await createKey(s, svc.id);
      const stuck = await open(s.port);
      stuck.sock.write('POST /api/v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
      assert.equal((await verify(s, k.key)).code, 'VALID');
      process.kill(s.pid, 'SIGTERM');
      await waitFor(() => /shutting down/.test(s.logs()), 3000);
      await sleep(300);
      for (let i = 0; i < 3; i++) {
        try { process.kill(s.pid, 'SIGTERM'); } catch { /* gone */ }
        await sleep(100);
      }
      assert.deepEqual(await s.stop(), { code: 0, sig: null }, s.logs().slice(-1500));
      const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken, keepDir: true });
      try {
        const g = (await again.api('GET', `/api/v1/keys/${k.id}`)).json;
        assert.notEqual(g.lastUsedAt, null, 'the verify before the stop was flushed');
      } finally {
        await again.stop();
      }
    });
  });
});
