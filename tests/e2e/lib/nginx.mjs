// Debian's nginx as a non-daemon child on a loopback port, configured per test, stopped by pid.
// Everything it writes (pid, error log, temp files) stays in its own temporary prefix.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, sleep, tempDir } from './server.mjs';

export const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';

const live = new Set();
process.on('exit', () => {
  for (const pid of live) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

// serverBlock is the text inside `server { ... }`; the listen line is ours. httpBlock: more text
// inside `http { ... }` before the server (an `upstream`, say).
export async function startNginx(serverBlock, { httpBlock = '' } = {}) {
  const dir = tempDir('kw-nginx');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const errorLog = join(dir, 'logs', 'error.log');
  // As root, nginx's workers would switch to "nobody"; keep them as root so they can use the prefix.
  const user = process.getuid && process.getuid() === 0 ? 'user root;\n' : '';
  const conf = `${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${errorLog} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${httpBlock}
  server {
    listen 127.0.0.1:${port};
${serverBlock}
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child = spawn(NGINX, ['-e', errorLog, '-g', 'daemon off;', '-p', dir, '-c', confPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child.pid);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let exited = null;
  const exitP = new Promise((r) => child.on('exit', (code, sig) => {
    live.delete(child.pid);
    r((exited = { code, sig }));
  }));
  const errors = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '');
  const stop = async () => {
    if (exited === null) {
      try { process.kill(child.pid, 'SIGQUIT'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
      await exitP;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 5000;
  for (;;) {
    if (exited !== null) throw new Error(`nginx exited ${JSON.stringify(exited)}: ${out}\n${errors()}\n${conf}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/__probe`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx not listening after 5 s: ${out}`);
    }
    await sleep(50);
  }
  return { url: `http://127.0.0.1:${port}`, port, pid: child.pid, dir, errors, stop };
}
