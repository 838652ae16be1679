import { createPrivateKey, X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CertificateError } from '../../src/tls/certificate.js';
import { issueCertificate } from '../../src/tls/generate.js';
import { loadPem } from '../../src/tls/pem.js';
import { tempDir } from '../fixtures/tls/generated.js';

const temp = tempDir();
afterAll(() => temp.remove());

const ca = issueCertificate({ commonName: 'PEM CA', isCa: true });
const leaf = issueCertificate({
  commonName: 'mail.contoso.com',
  dnsNames: ['mail.contoso.com', 'autodiscover.contoso.com'],
  issuer: ca,
});
const stranger = issueCertificate({ commonName: 'stranger.contoso.com' });

describe('loadPem', () => {
  it('loads a certificate and key pair', () => {
    const certFile = temp.file('x.crt', leaf.certPem);
    const keyFile = temp.file('x.key', leaf.keyPem);
    const cert = loadPem(certFile, keyFile);
    expect(cert.source).toBe(`${certFile} + ${keyFile}`);
    expect(cert.subjectCommonName).toBe('mail.contoso.com');
    expect(cert.dnsNames).toEqual(['mail.contoso.com', 'autodiscover.contoso.com']);
    expect(cert.issuer).toBe('CN=PEM CA');
    expect(cert.chainPem).toEqual([]);
    expect(cert.sha256Fingerprint).toBe(new X509Certificate(leaf.certPem).fingerprint256);
    expect(cert.sha256Fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('takes the chain that follows the leaf in a full-chain file', () => {
    const certFile = temp.file('fullchain.crt', leaf.certPem + ca.certPem);
    const cert = loadPem(certFile, temp.file('fullchain.key', leaf.keyPem));
    expect(cert.sha256Fingerprint).toBe(new X509Certificate(leaf.certPem).fingerprint256);
    expect(cert.chainPem.map((pem) => new X509Certificate(pem).subject)).toEqual(['CN=PEM CA']);
  });

  it('reads certificate and key from one combined file', () => {
    const file = temp.file('combined.pem', leaf.certPem + leaf.keyPem);
    expect(loadPem(file, file).source).toBe(file);
  });

  it('refuses a key that belongs to another certificate, naming both files', () => {
    const certFile = temp.file('m.crt', leaf.certPem);
    const keyFile = temp.file('m.key', stranger.keyPem);
    expect(() => loadPem(certFile, keyFile)).toThrow(
      new CertificateError(keyFile, `private key does not match certificate ${certFile}`),
    );
    expect(() => loadPem(certFile, keyFile)).toThrow(`${keyFile}: private key does not match certificate ${certFile}`);
  });

  it('decrypts an encrypted key with its passphrase and keeps it unencrypted in memory', () => {
    const encrypted = createPrivateKey(leaf.keyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'secret',
    });
    const certFile = temp.file('e.crt', leaf.certPem);
    const keyFile = temp.file('e.key', encrypted);
    expect(loadPem(certFile, keyFile, 'secret').keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(() => loadPem(certFile, keyFile)).toThrow(`${keyFile}: the private key is encrypted; give its passphrase`);
    expect(() => loadPem(certFile, keyFile, 'wrong')).toThrow(`${keyFile}: wrong private key passphrase`);
  });

  it('names the file when something is missing', () => {
    const keyFile = temp.file('k.key', leaf.keyPem);
    const missing = `${temp.path}/missing.crt`;
    expect(() => loadPem(missing, keyFile)).toThrow(`${missing}: file not found`);
    const keyOnly = temp.file('keyonly.pem', leaf.keyPem);
    expect(() => loadPem(keyOnly, keyFile)).toThrow(`${keyOnly}: no PEM certificate`);
    const certOnly = temp.file('certonly.pem', leaf.certPem);
    expect(() => loadPem(certOnly, certOnly)).toThrow(`${certOnly}: no PEM private key`);
  });
});
