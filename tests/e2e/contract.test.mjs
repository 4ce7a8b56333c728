// docs/openapi.yaml stays true: it lists exactly the operations the server routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url).pathname;

function routedOperations() {
  const src = readFileSync(`${root}src/api/router.c`, 'utf8');
  const ops = [...src.matchAll(/\{"(GET|POST|PATCH|PUT|DELETE)", "([^"]+)",/g)].map((m) => `${m[1]} ${m[2]}`);
  // Served by http/ before routing: metrics and the console.
  ops.push('GET /metrics', 'GET /', 'GET /console/', 'GET /console/{file}');
  return ops.sort();
}

function documentedOperations() {
  const lines = readFileSync(`${root}docs/openapi.yaml`, 'utf8').split('\n');
  const ops = [];
  let inPaths = false, path = null;
  for (const line of lines) {
    if (/^paths:/.test(line)) { inPaths = true; continue; }
    if (/^\S/.test(line)) inPaths = false;
    if (!inPaths) continue;
    const p = line.match(/^ {2}(\/\S*):\s*$/);
    if (p) { path = p[1]; continue; }
    const m = line.match(/^ {4}(get|post|patch|put|delete):\s*$/);
    if (m && path) ops.push(`${m[1].toUpperCase()} ${path}`);
  }
  return ops.sort();
}

test('every routed operation is documented, and nothing else is', () => {
  const routed = routedOperations();
  assert.ok(routed.length >= 15);
  assert.deepEqual(documentedOperations(), routed);
});
