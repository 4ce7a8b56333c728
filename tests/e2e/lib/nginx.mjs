// Debian's nginx as a non-daemon child on a loopback port, configured per test, stopped by pid.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, sleep, tempDir } from './server.mjs';

export const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';

// serverBlock(port) returns the text inside `server { ... }` (listen line included by us).
export async function startNginx(serverBlock) {
  const dir = tempDir('kw-nginx');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const user = process.getuid && process.getuid() === 0 ? 'user root;\n' : '';
  const conf = `${user}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
${serverBlock}
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child = spawn(NGINX, ['-p', dir, '-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let exited = null;
  const exitP = new Promise((r) => child.on('exit', (code) => r((exited = code))));
  const deadline = Date.now() + 5000;
  for (;;) {
    if (exited !== null) throw new Error(`nginx exited ${exited}: ${out}\n${conf}`);
    try {
      await fetch(`http://127.0.0.1:${port}/__probe`);
      break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`nginx not listening: ${out}`);
    await sleep(50);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    errors: () => (existsSync(join(dir, 'logs/error.log')) ? readFileSync(join(dir, 'logs/error.log'), 'utf8') : ''),
    async stop() {
      if (exited === null) child.kill('SIGQUIT');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitP;
      clearTimeout(t);
    },
  };
}
