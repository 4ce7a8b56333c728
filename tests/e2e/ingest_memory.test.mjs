// Bounded memory for uploads: four parallel 50 MiB ingests (curl -F, as seed 002 sends them) must not
// raise keyward's resident set (VmRSS in /proc/PID/status, and RssAnon within it) by more than 64 MiB.
// h2o 2.2.5 reads a whole request body into the connection's input buffer; keyward makes h2o move any
// buffer past 4 MiB into an mmapped, unlinked temporary file under <data-dir>/tmp, hands the body to the
// ingest handler by pointer (no copy into the off-loop job), and every few milliseconds takes the pages
// of such a buffer that are already written out of its mappings (http/bodypages.c): they stay in the
// file, and a read faults them back in, so what is resident is what was touched in the last moments.
// The test samples /proc/PID/status and /proc/PID/maps while the uploads run and prints the peak
// deltas of VmRSS, RssAnon, RssFile and RssShmem; docs/documents.md records the figures.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createService, startServer, tempDir } from './lib/server.mjs';

const MiB = 1 << 20;
const SIZE = 50 * MiB;
const UPLOADS = 4;
const FIELDS = ['VmRSS', 'RssAnon', 'RssFile', 'RssShmem'];

function status(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const out = {};
  for (const f of FIELDS) out[f] = Number((text.match(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm')) || [0, 0])[1]) * 1024;
  return out;
}

function curl(args) {
  return new Promise((resolve) => {
    const p = spawn('curl', ['-sS', '-w', '\n%{http_code}', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      const i = out.lastIndexOf('\n');
      resolve({ code, status: Number(out.slice(i + 1)), body: out.slice(0, i), err });
    });
  });
}

describe('ingest memory', () => {
  let s, token, dir;
  const files = [];

  before(async () => {
    // The cap above the file so exactly 50 MiB of document fit with the multipart framing.
    s = await startServer({ args: ['--max-document-bytes', String(64 * MiB)] });
    const svc = await createService(s, { name: 'Memory' });
    const su = await s.api('POST', `/api/v1/services/${svc.id}/service-users`,
      { name: 'Scanner', sourceSystem: 'branch_scan', permissions: ['documents:write'] });
    assert.equal(su.status, 201, su.text);
    const t = await s.api('POST', `/api/v1/service-users/${su.json.id}/tokens`, { label: 'memory test' });
    assert.equal(t.status, 201, t.text);
    token = t.json.token;
    dir = tempDir('kw-ingest-mem');
    for (let i = 0; i < UPLOADS; i++) {
      const path = join(dir, `scan-${i}.pdf`);
      const fd = openSync(path, 'w');
      const h = createHash('sha256');
      const head = Buffer.from(`%PDF-1.7\n% upload ${i}\n`);
      writeSync(fd, head);
      h.update(head);
      for (let left = SIZE - head.length; left > 0;) {
        const b = randomBytes(Math.min(left, 4 * MiB)); // random: nothing on the way can compress it
        writeSync(fd, b);
        h.update(b);
        left -= b.length;
      }
      closeSync(fd);
      files.push({ path, sha256: h.digest('hex') });
    }
  });
  after(async () => {
    await s?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const upload = (f, i) => curl(['-X', 'POST', `${s.url}/api/v1/ingest`, '-H', `Authorization: Bearer ${token}`,
    '-H', 'X-Approver-Department: retail', '-F', `file=@${f.path}`,
    '-F', `metadata={"source_tag":"branch_scan","external_id":"mem-${i}","document_category":"scan","department":"retail"}`]);

  test(`${UPLOADS} parallel ${SIZE / MiB} MiB uploads raise VmRSS by at most 64 MiB`, async () => {
    // One small ingest first, so what every ingest allocates once (statements, the pool's stacks) is in
    // the baseline.
    const small = join(dir, 'warm.pdf');
    writeFileSync(small, '%PDF-1.7\nwarm-up\n');
    const warm = await upload({ path: small }, 'warm');
    assert.equal(warm.status, 201, warm.body);
    const base = status(s.pid);
    const peak = { ...base };
    let mappedTemp = 0;
    const sample = () => {
      try {
        const now = status(s.pid);
        for (const f of FIELDS) peak[f] = Math.max(peak[f], now[f]);
        const maps = readFileSync(`/proc/${s.pid}/maps`, 'utf8');
        const n = maps.split('\n').filter((l) => l.includes(`${s.dataDir}/tmp/h2o.b.`)).length;
        mappedTemp = Math.max(mappedTemp, n);
      } catch { /* the process is busy or gone: the next sample */ }
    };
    const timer = setInterval(sample, 10);
    const results = await Promise.all(files.map(upload));
    clearInterval(timer);
    sample();
    const after = status(s.pid);
    const mib = (b) => `${(b / MiB).toFixed(1)} MiB`;
    console.log(`${UPLOADS} x ${SIZE / MiB} MiB parallel ingests, /proc/${s.pid}/status:`);
    for (const f of FIELDS) {
      console.log(`  ${f.padEnd(8)} baseline ${mib(base[f]).padStart(10)}  peak ${mib(peak[f]).padStart(10)}`
        + `  peak delta ${mib(peak[f] - base[f]).padStart(10)}  after ${mib(after[f]).padStart(10)}`);
    }
    console.log(`  body buffers mapped from ${s.dataDir}/tmp at once (peak): ${mappedTemp}`);
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 201, `upload ${i}: ${r.status} ${r.body.slice(0, 300)} ${r.err}`);
      const doc = JSON.parse(r.body);
      assert.equal(doc.size, SIZE);
      assert.equal(doc.sha256, files[i].sha256, `upload ${i} stored the bytes sent`);
      assert.equal(doc.mediaType, 'application/pdf');
    }
    assert.ok(mappedTemp >= 1, 'the bodies were buffered in mmapped temporary files under <data-dir>/tmp');
    assert.ok(peak.RssAnon - base.RssAnon <= 64 * MiB,
      `RssAnon rose by ${mib(peak.RssAnon - base.RssAnon)} (limit 64 MiB)`);
    assert.ok(peak.VmRSS - base.VmRSS <= 64 * MiB,
      `VmRSS rose by ${mib(peak.VmRSS - base.VmRSS)} (limit 64 MiB; RssFile ${mib(peak.RssFile - base.RssFile)})`);
  });
});
