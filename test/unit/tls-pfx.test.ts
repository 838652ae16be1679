import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { CertificateError } from '../../src/tls/certificate.js';
import { issueCertificate } from '../../src/tls/generate.js';
import { loadPfx } from '../../src/tls/pfx.js';
import { fixture, tempDir } from '../fixtures/tls/generated.js';

const leafFingerprint = new X509Certificate(readFileSync(fixture('leaf.crt'))).fingerprint256;
const rootFingerprint = new X509Certificate(readFileSync(fixture('ca.crt'))).fingerprint256;
const temp = tempDir();
afterAll(() => temp.remove());

describe('loadPfx with a legacy Windows export (3DES key, RC2-40 certificates)', () => {
  const file = fixture('legacy-rc2-3des.pfx');

  it("is refused by Node's own PFX support, which is why casgate reads it with node-forge", () => {
    expect(() => tls.createSecureContext({ pfx: readFileSync(file), passphrase: 'legacy-pass' })).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_UNSUPPORTED_OPERATION' }),
    );
  });

  it('loads, finds the leaf by its key and puts the CA in the chain', () => {
    const cert = loadPfx(file, 'legacy-pass');
    expect(cert.source).toBe(file);
    expect(cert.subjectCommonName).toBe('mail.contoso.com');
    expect(cert.dnsNames).toEqual(['mail.contoso.com', 'autodiscover.contoso.com']);
    expect(cert.issuer).toBe('O=casgate tests, CN=casgate test root CA');
    expect(cert.keyType).toBe('RSA');
    expect(cert.keyBits).toBe(2048);
    // Byte-for-byte the certificate openssl put in: the fingerprint Exchange shows must survive the forge round trip.
    expect(cert.sha256Fingerprint).toBe(leafFingerprint);
    expect(cert.chainPem.map((pem) => new X509Certificate(pem).fingerprint256)).toEqual([rootFingerprint]);
  });

  it('names the encryption it found', () => {
    expect(loadPfx(file, 'legacy-pass').pfxEncryption).toBe(
      'pbeWithSHAAnd3-KeyTripleDES-CBC (key), pbeWithSHAAnd40BitRC2-CBC (certificates), MAC HMAC-SHA1',
    );
  });

  it('gives PEM that Node accepts', () => {
    const cert = loadPfx(file, 'legacy-pass');
    expect(() => tls.createSecureContext({ cert: cert.certPem, key: cert.keyPem })).not.toThrow();
  });

  it('reports a wrong password in one line naming the file', () => {
    expect(() => loadPfx(file, 'not-the-password')).toThrow(new CertificateError(file, 'wrong PFX password'));
    expect(() => loadPfx(file, 'not-the-password')).toThrow(`${file}: wrong PFX password`);
  });
});

describe('loadPfx with a modern export (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC)', () => {
  const file = fixture('modern-aes256.pfx');

  it('loads the same certificate Node itself reads', () => {
    expect(() => tls.createSecureContext({ pfx: readFileSync(file), passphrase: 'modern-pass' })).not.toThrow();
    const cert = loadPfx(file, 'modern-pass');
    expect(cert.sha256Fingerprint).toBe(leafFingerprint);
    expect(cert.chainPem).toHaveLength(1);
    expect(cert.pfxEncryption).toBe('AES-256-CBC with PBKDF2-HMAC-SHA256 (key, certificates), MAC HMAC-SHA256');
  });

  it('reports a wrong password', () => {
    expect(() => loadPfx(file, 'wrong')).toThrow(`${file}: wrong PFX password`);
  });
});

describe('loadPfx with an ECDSA certificate, which forge cannot parse itself', () => {
  it('hands the DER to Node and describes the EC key', () => {
    const cert = loadPfx(fixture('ec-p256.pfx'), 'ec-pass');
    expect(cert.keyType).toBe('EC');
    expect(cert.keyBits).toBe(256);
    expect(cert.dnsNames).toEqual(['ec.contoso.com']);
    expect(() => tls.createSecureContext({ cert: cert.certPem, key: cert.keyPem })).not.toThrow();
  });
});

describe('loadPfx with certificates in any order', () => {
  it('orders the chain leaf to root whatever order the PFX lists them in', () => {
    const root = issueCertificate({ commonName: 'Root', isCa: true });
    const intermediate = issueCertificate({ commonName: 'Intermediate', isCa: true, issuer: root });
    const leaf = issueCertificate({ commonName: 'mail.contoso.com', issuer: intermediate });
    const file = temp.file(
      'shuffled.pfx',
      pfxWithForge(leaf.keyPem, [root.certPem, leaf.certPem, intermediate.certPem], 'pw'),
    );
    const cert = loadPfx(file, 'pw');
    expect(cert.subjectCommonName).toBe('mail.contoso.com');
    expect(cert.chainPem.map((pem) => new X509Certificate(pem).subject)).toEqual(['CN=Intermediate', 'CN=Root']);
    // forge writes the certificates unencrypted, and no password problem hides behind that.
    expect(cert.pfxEncryption).toBe('pbeWithSHAAnd3-KeyTripleDES-CBC (key), unencrypted (certificates), MAC HMAC-SHA1');
  });
});

describe('loadPfx errors name the file', () => {
  const lone = issueCertificate({ commonName: 'lone.contoso.com' });
  const other = issueCertificate({ commonName: 'other.contoso.com' });

  it('file not found', () => {
    const missing = `${temp.path}/missing.pfx`;
    expect(() => loadPfx(missing, 'x')).toThrow(`${missing}: file not found`);
  });

  it('a PFX exported without its private key', () => {
    const file = temp.file('nokey.pfx', pfxWithForge(null, [lone.certPem], 'pw'));
    expect(() => loadPfx(file, 'pw')).toThrow(`${file}: no private key in the PFX (export it with the private key)`);
  });

  it('a private key with nobody to match', () => {
    const file = temp.file('mismatch.pfx', pfxWithForge(other.keyPem, [lone.certPem], 'pw'));
    expect(() => loadPfx(file, 'pw')).toThrow(`${file}: no certificate in the PFX matches its private key`);
  });

  it('a PEM file given as a PFX', () => {
    const file = temp.file('cert.pem', lone.certPem);
    expect(() => loadPfx(file, 'pw')).toThrow(`${file}: not a PFX (PKCS#12) file`);
  });

  it('DER that is not PKCS#12', () => {
    const file = temp.file('cert.der', new X509Certificate(lone.certPem).raw);
    expect(() => loadPfx(file, 'pw')).toThrow(new RegExp(`^${file}: not a readable PFX \\(PKCS#12\\) file`));
  });
});

function pfxWithForge(keyPem: string | null, certPems: string[], password: string): Buffer {
  const key = keyPem === null ? null : forge.pki.privateKeyFromPem(keyPem);
  const certs = certPems.map((pem) => forge.pki.certificateFromPem(pem));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, certs, password, { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
