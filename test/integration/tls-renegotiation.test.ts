// Client-initiated TLS 1.2 renegotiation is refused (testssl.sh flags it as a DoS lever; no Exchange client uses it).
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, expect, test } from 'vitest';
import { CertStore } from '../../src/tls/cert-store.js';
import { issueCertificate } from '../../src/tls/generate.js';
import { loadedCertificate } from '../fixtures/tls/generated.js';

const ca = issueCertificate({ commonName: 'renegotiation test CA', isCa: true });
const cert = loadedCertificate({ commonName: 'mail.contoso.com', dnsNames: ['mail.contoso.com'], issuer: ca }, 'mail.pfx');
const cleanups: Array<() => void> = [];
afterAll(() => cleanups.reverse().forEach((c) => c()));

async function serve(options: tls.TlsOptions): Promise<number> {
  const server = tls.createServer(options, (socket) => socket.on('data', (d) => socket.write(d)));
  server.on('tlsClientError', () => undefined);
  cleanups.push(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function renegotiate(port: number): Promise<Error | null> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'mail.contoso.com', maxVersion: 'TLSv1.2' }, () => {
      socket.renegotiate({}, (err) => resolve(err ?? null));
    });
    cleanups.push(() => socket.destroy());
    // The server's refusal arrives as a TLS alert on the socket.
    socket.on('error', (err) => resolve(err));
  });
}

test('the front end refuses client-initiated renegotiation; a default Node server would accept it', async () => {
  const store = new CertStore([cert]);
  expect(await renegotiate(await serve(store.serverOptions()))).toBeInstanceOf(Error);
  // Control: the same client renegotiates fine with Node's defaults, so the refusal above is ours.
  expect(await renegotiate(await serve({ cert: cert.certPem, key: cert.keyPem, maxVersion: 'TLSv1.2' }))).toBeNull();
});
