// A real TLS server built from CertStore.serverOptions() on 127.0.0.1, port 0, and real clients.
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertStore } from '../../src/tls/cert-store.js';
import { issueCertificate } from '../../src/tls/generate.js';
import { loadedCertificate } from '../fixtures/tls/generated.js';

const ca = issueCertificate({ commonName: 'SNI test CA', isCa: true });
const contoso = loadedCertificate(
  { commonName: 'mail.contoso.com', dnsNames: ['mail.contoso.com', 'autodiscover.contoso.com'], issuer: ca },
  'contoso.pfx',
);
const fabrikam = loadedCertificate({ commonName: '*.fabrikam.com', dnsNames: ['*.fabrikam.com'], issuer: ca }, 'fabrikam.pfx');

// Old TLS needs OpenSSL security level 0 on the client side too; without it the client would refuse before the server
// could, and the test would prove nothing. The control server below shows this client does connect when allowed.
const TLS11_CLIENT = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const;

let port: number;
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.reverse().forEach((cleanup) => cleanup()));

function listen(server: tls.Server): Promise<number> {
  cleanups.push(() => server.close());
  // Handshake errors from refused clients are expected here; keep them off the test output.
  server.on('tlsClientError', () => {});
  server.on('secureConnection', (socket) => socket.end('ok'));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function connect(toPort: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: toPort, ca: ca.certPem, ...options });
    cleanups.push(() => socket.destroy());
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  port = await listen(tls.createServer(new CertStore([contoso, fabrikam]).serverOptions()));
});

describe('CertStore behind a real TLS server', () => {
  it('presents certificate A for a name on A, verified by the client against the CA', async () => {
    const socket = await connect(port, { servername: 'autodiscover.contoso.com' });
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().fingerprint256).toBe(contoso.sha256Fingerprint);
  });

  it('presents certificate B (wildcard) for a name under it', async () => {
    const socket = await connect(port, { servername: 'mail.fabrikam.com' });
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().fingerprint256).toBe(fabrikam.sha256Fingerprint);
  });

  it('presents the default (first) certificate for a name nobody covers, and without SNI', async () => {
    const unknown = await connect(port, { servername: 'unknown.example', rejectUnauthorized: false });
    expect(unknown.getPeerCertificate().fingerprint256).toBe(contoso.sha256Fingerprint);
    expect(unknown.authorizationError).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match/);
    // Connecting to an IP address sends no SNI.
    const noSni = await connect(port, { rejectUnauthorized: false });
    expect(noSni.getPeerCertificate().fingerprint256).toBe(contoso.sha256Fingerprint);
  });

  it('sends the chain, so a client that only trusts the root can verify', async () => {
    const socket = await connect(port, { servername: 'mail.contoso.com' });
    const peer = socket.getPeerCertificate(true);
    expect(peer.issuerCertificate?.subject.CN).toBe('SNI test CA');
  });

  it('negotiates http/1.1 even when the client prefers h2', async () => {
    const socket = await connect(port, { servername: 'mail.contoso.com', ALPNProtocols: ['h2', 'http/1.1'] });
    expect(socket.alpnProtocol).toBe('http/1.1');
  });

  it('speaks TLS 1.3 to clients that offer it', async () => {
    const socket = await connect(port, { servername: 'mail.contoso.com' });
    expect(socket.getProtocol()).toBe('TLSv1.3');
  });

  it('refuses a TLS 1.1 client that a permissive server accepts', async () => {
    const permissive = await listen(
      tls.createServer({ cert: contoso.certPem, key: contoso.keyPem, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
    );
    const control = await connect(permissive, { ...TLS11_CLIENT, servername: 'mail.contoso.com' });
    expect(control.getProtocol()).toBe('TLSv1.1');

    await expect(connect(port, { ...TLS11_CLIENT, servername: 'mail.contoso.com' })).rejects.toMatchObject({
      code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    });
  });

  it('refuses a TLS 1.2 client that offers only CBC suites without forward secrecy', async () => {
    const cbcOnly = { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA' } as const;
    const permissive = await listen(tls.createServer({ cert: contoso.certPem, key: contoso.keyPem }));
    const control = await connect(permissive, { ...cbcOnly, servername: 'mail.contoso.com' });
    expect(control.getCipher().name).toMatch(/SHA$/);

    await expect(connect(port, { ...cbcOnly, servername: 'mail.contoso.com' })).rejects.toMatchObject({
      code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
    });
  });

  it("chooses the suite by its own order (Mozilla intermediate: AES-128-GCM first), whatever the client's order", async () => {
    const aes256First = { ciphers: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256', servername: 'mail.contoso.com' };
    const tls13 = await connect(port, aes256First);
    expect(tls13.getProtocol()).toBe('TLSv1.3');
    expect(tls13.getCipher().name).toBe('TLS_AES_128_GCM_SHA256');
    const tls12 = await connect(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256', servername: 'mail.contoso.com' });
    expect(tls12.getCipher().name).toBe('ECDHE-RSA-AES128-GCM-SHA256');
  });
});
