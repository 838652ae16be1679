// nginx as the reference in `casgate bench workers`: TLS with session tickets (ssl_session_tickets on, a 48-byte
// ssl_session_ticket_key file, no session cache, so resumption goes through tickets as with casgate), the same
// certificate and the same backend, one worker process (per proxy core, as casgate's workers), access log off.
// Started in the foreground with its master; its CPU is the master's and the worker's (the process tree).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, portOpen } from '../procs.js';

/** The nginx binary, if this machine has one (Debian: apt-get install nginx-light). */
export function findNginx(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'])) {
    const file = path.join(dir, 'nginx');
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

/**
 * The top of an nginx.conf that runs in the foreground from `home` (its pid, error log and temporary files there, none
 * in /var), up to and including the opening of the `http` block; the caller writes the rest and closes it.
 */
export function nginxPreamble(home: string, workerConnections: number): string {
  return `worker_processes 1;
daemon off;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${home}/nginx.pid;
error_log ${home}/error.log warn;
events { worker_connections ${workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${home}/tmp/body;
  proxy_temp_path ${home}/tmp/proxy;
  fastcgi_temp_path ${home}/tmp/fastcgi;
  uwsgi_temp_path ${home}/tmp/uwsgi;
  scgi_temp_path ${home}/tmp/scgi;
`;
}

export interface NginxTarget {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

export async function startNginx(binary: string, dir: string, backendPort: number, certFile: string, keyFile: string): Promise<NginxTarget> {
  const home = path.join(dir, 'nginx');
  mkdirSync(path.join(home, 'tmp'), { recursive: true });
  const ticketKey = path.join(home, 'ticket.key');
  writeFileSync(ticketKey, randomBytes(48), { mode: 0o600 });
  const port = await freePort();
  const conf = path.join(home, 'nginx.conf');
  writeFileSync(
    conf,
    `${nginxPreamble(home, 4096)}  tcp_nodelay on;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    ssl_session_ticket_key ${ticketKey};
    ssl_session_cache off;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
  );
  const child: ChildProcess = spawn(binary, ['-p', home, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${err}`);
    if (await portOpen(port)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
