// casgate behind a real load balancer: nginx terminates the clients' TLS, connects to casgate from 127.0.0.2 (its
// proxy_bind) over HTTPS, and appends the client's address to X-Forwarded-For ($proxy_add_x_forwarded_for), as an
// nginx, F5 or Azure Application Gateway in front of Exchange does. With 127.0.0.2 in listen.trustForwardedFrom,
// casgate decides on the client nginx names, and what a client forged to the left of it decides nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findNginx, nginxPreamble } from '../../src/bench/workers/nginx.js';
import { freePort, portOpen } from '../../src/bench/procs.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { behindBalancer } from '../helpers/behind-balancer.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

const nginx = findNginx();
if (!nginx) console.warn('behind-nginx test skipped: no nginx (apt-get install -y nginx-light)');

describe.skipIf(!nginx)('behind nginx', () => {
  let env: CasAndGateway | undefined;
  let gw: TestGateway;
  let balancer: ChildProcess | undefined;
  let port: number;
  const certs = testCertificates();
  const client = new Agent({ connect: { ca: certs.ca.certPem, servername: 'mail.contoso.lab' } });

  beforeAll(async () => {
    env = await startCasAndGateway(1, behindBalancer);
    gw = env.gw;
    const home = mkdtempSync(join(tmpdir(), 'casgate-nginx-'));
    mkdirSync(join(home, 'tmp'));
    port = await freePort();
    const conf = join(home, 'nginx.conf');
    writeFileSync(
      conf,
      `${nginxPreamble(home, 64)}  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certs.certFile};
    ssl_certificate_key ${certs.keyFile};
    location / {
      proxy_pass https://127.0.0.1:${gw.port};
      proxy_bind 127.0.0.2;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_ssl_server_name on;
      proxy_ssl_name mail.contoso.lab;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate ${join(certs.dir, 'ca.crt')};
    }
  }
}
`,
    );
    balancer = spawn(nginx!, ['-c', conf, '-p', home], { stdio: 'ignore' });
    await eventually(() => portOpen(port), { what: 'nginx listening' });
  }, 30_000);
  afterAll(async () => {
    balancer?.kill('SIGTERM');
    await client.close();
    await env?.stop();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`https://127.0.0.1:${port}${path}`, { dispatcher: client, headers: { host: 'mail.contoso.lab', ...headers } });
    const text = await res.body.text();
    return { status: res.statusCode, error: res.headers['x-casgate-error'], text };
  };

  test('the client nginx names is the client: logged with nginx as its peer, and the CAS gets the whole chain', async () => {
    const echo = JSON.parse((await get('/EWS/x', { authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' })).text) as { headers: Record<string, string> };
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1, 127.0.0.2');
    expect(gw.records.at(-1)).toMatchObject({ clientIp: '127.0.0.1', peerIp: '127.0.0.2', backend: 'cas1' });
  });

  test('an internal address forged before nginx appends the real one gets nowhere', async () => {
    const forged = await get('/intranet/page', { 'x-forwarded-for': '10.9.9.9' });
    expect([forged.status, forged.error]).toEqual([403, 'FORBIDDEN_NETWORK']);
    expect(gw.records.at(-1)).toMatchObject({ route: 'intranet-only', clientIp: '127.0.0.1', peerIp: '127.0.0.2' });
  });
});
