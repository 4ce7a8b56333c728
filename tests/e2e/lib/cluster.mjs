// Several keyward nodes as one deployment, on loopback: a throwaway PostgreSQL cluster of their own
// (scripts/pg, so a test may stop and start it under the nodes), N `keyward serve` processes on one
// database of it (each its own --listen port and --data-dir, the same --store and root token), and an
// nginx `upstream` over them. Everything started here is stopped by pid (stop()).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { startNginx } from './nginx.mjs';
import { randomToken, startServer, tempDir } from './server.mjs';

const PG = new URL('../../../scripts/pg', import.meta.url).pathname;
const PSQL = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';

function pgctl(cmd, dir) {
  const r = spawnSync(PG, [cmd, dir], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`scripts/pg ${cmd} ${dir}: ${r.status} ${r.stderr}`);
  return r.stdout.trim();
}

export function psql(uri, sql) {
  const r = spawnSync(PSQL, [uri, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

// A PostgreSQL cluster in a fresh directory. stop() and start() keep its data and its port (scripts/pg
// restarts a stopped cluster on the port it had), so the nodes' URI stays valid; remove() stops it and
// deletes the directory.
export function startPostgres() {
  const dir = tempDir('kw-nodes-pg'); // empty: scripts/pg initdb's it (and chowns it when root)
  const uri = pgctl('start', dir);
  let running = true;
  return {
    dir, uri,
    stop() { pgctl('stop', dir); running = false; },
    start() {
      const again = pgctl('start', dir);
      if (again !== uri) throw new Error(`PostgreSQL came back as ${again}, not ${uri}`);
      running = true;
    },
    remove() {
      if (running) pgctl('stop', dir);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// n nodes on database `db` of pg, behind nginx. args/env go to every node, nodeArgs[i] to node i only.
// Returns
// { nodes, nginx, store, rootToken, stop() }; nodes[i] are lib/server.mjs servers.
export async function startCluster(pg, { n = 3, db = 'kw_nodes', args = [], nodeArgs = [], env = {} } = {}) {
  psql(pg.uri, `CREATE DATABASE ${db}`);
  const u = new URL(pg.uri);
  u.pathname = `/${db}`;
  const store = u.toString();
  const rootToken = randomToken(48);
  const start = (i) => startServer({ rootToken, args: ['--store', store, ...args, ...(nodeArgs[i] || [])], env });
  const nodes = [];
  let nginx = null;
  const stop = async () => {
    const errors = [];
    if (nginx) await nginx.stop().catch((e) => errors.push(e));
    for (const r of await Promise.allSettled(nodes.map((s) => s.cleanup()))) {
      if (r.status === 'rejected') errors.push(r.reason);
    }
    if (errors.length) throw errors[0];
  };
  try {
    nodes.push(await start(0)); // the first migrates the database; the others find it ready
    nodes.push(...(await Promise.all(Array.from({ length: n - 1 }, (_, i) => start(i + 1)))));
    const upstream = `  upstream keyward {\n${nodes.map((s) => `    server 127.0.0.1:${s.port};`).join('\n')}\n  }`;
    nginx = await startNginx(`    location / {
      proxy_pass http://keyward;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }`, { httpBlock: upstream });
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
  return { nodes, nginx, store, rootToken, stop };
}
