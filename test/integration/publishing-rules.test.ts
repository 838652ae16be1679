// Publishing rules beyond Exchange (seed 003): Lync/Skype simple URLs and external web services go, by host,
// to a front-end pool on its own HTTPS port (4443 in production), re-encrypted; any route can take an allow list.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { issueCertificate } from '../../src/tls/generate.js';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let lyncFe: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  // The Lync front end is not a CAS: a mock of its own, in a pool of its own, beside the Exchange setup.
  lyncFe = await startMockCas({ name: 'lyncfe1' });
  // The Lync names are on a certificate of their own, served by SNI beside the Exchange one.
  const certs = testCertificates();
  const lync = issueCertificate({
    commonName: 'meet.contoso.lab',
    dnsNames: ['meet.contoso.lab', 'dialin.contoso.lab', 'lyncdiscover.contoso.lab', '*.webext.contoso.lab'],
    issuer: certs.ca,
  });
  writeFileSync(join(certs.dir, 'lync.crt'), lync.certPem);
  writeFileSync(join(certs.dir, 'lync.key'), lync.keyPem);
  env = await startCasAndGateway(1, ([cas1]) => ({
    certificates: [
      { cert: certs.certFile, key: certs.keyFile },
      { cert: join(certs.dir, 'lync.crt'), key: join(certs.dir, 'lync.key') },
    ],
    pools: {
      cas: { health: { enabled: false } },
      'lync-fe': {
        mode: 'bridge',
        health: { enabled: false },
        // The front end listens for reverse-proxied traffic on 4443; here, on the mock's HTTPS port.
        servers: [{ name: 'fe1', host: '127.0.0.1', httpsPort: lyncFe.httpsPort, fingerprint256: lyncFe.fingerprint256 }],
      },
      internal: { health: { enabled: false }, servers: [{ name: 'int1', host: '127.0.0.1', port: cas1!.httpPort }] },
    },
    routes: [
      { name: 'lync-simple-urls', host: ['meet.contoso.lab', 'dialin.contoso.lab', 'lyncdiscover.contoso.lab'], path: '/', pool: 'lync-fe' },
      { name: 'lync-webext', host: '*.webext.contoso.lab', pool: 'lync-fe' },
      { name: 'intranet-only', path: '/intranet', pool: 'internal', allow: ['10.0.0.0/8'] },
    ],
  }));
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
  await lyncFe?.close();
});

const get = (host: string, path: string) => gw.get(path, { headers: { host, authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' } });

test('simple URL hosts go to the front-end pool over HTTPS, even for Exchange-looking paths', async () => {
  for (const host of ['meet.contoso.lab', 'DIALIN.contoso.lab', 'lyncdiscover.contoso.lab']) {
    const res = await get(host, '/owa/x');
    expect(res.headers['x-feserver']).toBe('lyncfe1');
    expect(res.json<{ tls: boolean; headers: Record<string, string> }>()).toMatchObject({ tls: true, headers: { host } });
    expect(gw.records.at(-1)).toMatchObject({ route: 'lync-simple-urls', pool: 'lync-fe', backend: 'fe1' });
  }
});

test('a wildcard host route takes the names under it (one label; the unit tests cover the rest)', async () => {
  await get('ucwa.webext.contoso.lab', '/ucwa/v1');
  expect(gw.records.at(-1)?.route).toBe('lync-webext');
});

test('Exchange host names keep reaching the CAS pool', async () => {
  const res = await get('mail.contoso.lab', '/EWS/Exchange.asmx');
  expect(res.headers['x-feserver']).toBe('cas1');
});

test('a route with an allow list refuses other networks with 403', async () => {
  const res = await get('mail.contoso.lab', '/intranet/page');
  expect(res.status).toBe(403);
  expect(res.headers['x-casgate-error']).toBe('FORBIDDEN_NETWORK');
});
