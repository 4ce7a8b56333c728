// No acknowledged write is lost on kill -9: stream key creations, SIGKILL mid-stream, restart, check.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createService, run, startServer, verify } from './lib/server.mjs';

describe('durability', () => {
  test('every acknowledged key survives SIGKILL', async () => {
    const s = await startServer({ keepDir: true });
    const svc = await createService(s);
    const acked = [];
    let stop = false, attempts = 0;
    const worker = async () => {
      while (!stop && attempts < 400) {
        attempts++;
        try {
          const r = await s.api('POST', `/api/v1/services/${svc.id}/keys`, { scope: 'metadata', description: `k${attempts}` });
          if (r.status === 201) acked.push(r.json);
        } catch { return; /* the server died under us */ }
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    await new Promise((r) => setTimeout(r, 1000));
    await s.kill9();
    stop = true;
    await Promise.all(workers);
    assert.ok(acked.length >= 5, `only ${acked.length} writes were acknowledged before the kill`);

    const again = await startServer({ dataDir: s.dataDir, rootToken: s.rootToken });
    try {
      for (const k of acked) {
        const g = await again.api('GET', `/api/v1/keys/${k.id}`);
        assert.equal(g.status, 200, `acknowledged key ${k.id} lost`);
        assert.equal((await verify(again, k.key)).code, 'VALID');
      }
    } finally {
      await again.stop();
    }
    const chain = run(['audit', 'verify', '--data-dir', s.dataDir]);
    assert.equal(chain.status, 0, chain.stdout + chain.stderr);
    rmSync(s.dataDir, { recursive: true, force: true });
  });
});
