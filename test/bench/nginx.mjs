// nginx as a reference reverse proxy: its own prefix, config, pid and temp folders under `dir`,
// a free loopback port, keep-alive to the upstream and WebSocket upgrades passed through.
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../scripts/stack.mjs';
import { spawnGroup, waitForHttp } from './procs.mjs';

export async function startNginx({ bin, dir, upstreamPort }) {
  fs.mkdirSync(dir, { recursive: true });
  // Run as root, nginx's workers switch to `nobody`: they must be able to enter the folder.
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const conf = `
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream service {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' '';
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_read_timeout 300s;
    }
  }
}
`;
  const confPath = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confPath, conf);
  const child = spawnGroup(bin, ['-p', dir, '-c', confPath, '-e', path.join(dir, 'error.log')]);
  let out = '';
  child.stderr.on('data', (b) => (out += b));
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, 10000, child, 'nginx');
  } catch (err) {
    throw new Error(`${err.message}\n${out}${fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : ''}`, { cause: err });
  }
  return { port, child };
}
