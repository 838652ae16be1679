import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../src/tls/generate.js';
import { describeCertificate, loadCertificateFile } from '../../src/tls/inspect.js';
import { normalizeFingerprint } from '../../src/tls/upstream-tls.js';
import { fixture, loadedCertificate, tempDir } from '../fixtures/tls/generated.js';

const DAY = 86_400_000;
const temp = tempDir();
afterAll(() => temp.remove());

describe('loadCertificateFile', () => {
  it('recognises a PFX by content, whatever its extension', () => {
    const renamed = temp.file('renamed.pem', readFileSync(fixture('legacy-rc2-3des.pfx')));
    expect(loadCertificateFile(renamed, 'legacy-pass').pfxEncryption).toMatch(/RC2/);
  });

  it('recognises PEM and reads the key from the same file', () => {
    const pair = issueCertificate({ commonName: 'pem.contoso.com' });
    const file = temp.file('combined.pfx', pair.certPem + pair.keyPem);
    expect(loadCertificateFile(file).subjectCommonName).toBe('pem.contoso.com');
  });

  it('takes the key from a separate file when given', () => {
    const pair = issueCertificate({ commonName: 'split.contoso.com' });
    const certFile = temp.file('split.crt', pair.certPem);
    const keyFile = temp.file('split.key', pair.keyPem);
    expect(loadCertificateFile(certFile, undefined, keyFile).source).toBe(`${certFile} + ${keyFile}`);
  });

  it('asks for the password of a protected PFX instead of calling it wrong', () => {
    const file = fixture('modern-aes256.pfx');
    expect(() => loadCertificateFile(file)).toThrow(`${file}: the PFX is password-protected; give its password (--password)`);
    expect(() => loadCertificateFile(file, 'nope')).toThrow(`${file}: wrong PFX password`);
  });

  it('rejects files that are neither', () => {
    const file = temp.file('notes.txt', 'hello');
    expect(() => loadCertificateFile(file)).toThrow(`${file}: neither a certificate (PEM or DER), nor a PFX (binary PKCS#12)`);
  });
});

describe('describeCertificate', () => {
  it('shows what an admin checks, aligned', () => {
    const cert = loadCertificateFile(fixture('legacy-rc2-3des.pfx'), 'legacy-pass');
    const text = describeCertificate(cert, new Date(cert.notBefore.getTime() + 10 * DAY));
    const lines = text.split('\n');
    expect(lines).toEqual([
      `Source:         ${fixture('legacy-rc2-3des.pfx')}`,
      'Subject CN:     mail.contoso.com',
      'SAN DNS names:  mail.contoso.com, autodiscover.contoso.com',
      'Issuer:         O=casgate tests, CN=casgate test root CA',
      expect.stringMatching(/^Valid:          \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d \(\d+ days left\)$/),
      'Key:            RSA 2048 bits',
      `SHA-256:        ${cert.sha256Fingerprint}`,
      `Pin:            fingerprint256: "${cert.sha256Fingerprint}"`,
      'Private key:    yes',
      'Chain:          O=casgate tests, CN=casgate test root CA',
      'PFX encryption: pbeWithSHAAnd3-KeyTripleDES-CBC (key), pbeWithSHAAnd40BitRC2-CBC (certificates), MAC HMAC-SHA1 ' +
        '(legacy: Node/OpenSSL 3 refuse it; casgate reads it with node-forge)',
    ]);
  });

  it('flags expired and not-yet-valid certificates', () => {
    const cert = loadedCertificate({ commonName: 'x.contoso.com', validDays: 10 });
    expect(describeCertificate(cert, new Date(cert.notAfter.getTime() + 3 * DAY + 1000))).toMatch(/\(EXPIRED 3 days ago\)/);
    expect(describeCertificate(cert, new Date(cert.notBefore.getTime() - 1000))).toMatch(/\(NOT YET VALID\)/);
  });

  it('says when there is no chain and no PFX encryption to report', () => {
    const text = describeCertificate(loadedCertificate({ commonName: 'self.contoso.com' }));
    expect(text).toMatch(/^Chain: +none \(clients must already have the issuing CA\)$/m);
    expect(text).toMatch(/^SAN DNS names: +\(none\)$/m);
    expect(text).not.toMatch(/PFX encryption/);
  });
});

describe('a certificate without its key (what an admin has of a CAS certificate to pin)', () => {
  const leaf = readFileSync(fixture('leaf.crt'), 'utf8');
  const expected = new X509Certificate(leaf).fingerprint256;

  it('reads a PEM certificate alone and prints the pin fingerprint256 takes', () => {
    const cert = loadCertificateFile(temp.file('cas1.pem', leaf));
    expect(cert.sha256Fingerprint).toBe(expected);
    const text = describeCertificate(cert);
    expect(text).toMatch(new RegExp(`^Pin: +fingerprint256: "${expected}"$`, 'm'));
    expect(text).toMatch(/Private key: +not in this file/);
    expect(text).toMatch(/Key: +RSA 2048 bits/);
  });

  it('reads a DER .cer export', () => {
    const der = new X509Certificate(leaf).raw;
    const cert = loadCertificateFile(temp.file('cas1.cer', der));
    expect(cert.sha256Fingerprint).toBe(expected);
    expect(cert.dnsNames).toEqual(['mail.contoso.com', 'autodiscover.contoso.com']);
  });

  it('reads a PFX holding only certificates, leaf first whatever their order', () => {
    const ca = readFileSync(fixture('ca.crt'), 'utf8');
    const asn1 = forge.pkcs12.toPkcs12Asn1(null, [forge.pki.certificateFromPem(ca), forge.pki.certificateFromPem(leaf)], 'cer-pass', { algorithm: '3des' });
    const file = temp.file('certs-only.pfx', Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'));
    const cert = loadCertificateFile(file, 'cer-pass');
    expect(cert.sha256Fingerprint).toBe(expected);
    expect(cert.chainPem).toHaveLength(1);
    expect(cert.keyPem).toBe('');
  });

  it('the printed pin is accepted by the config and matches what the server presents', () => {
    const cert = loadCertificateFile(temp.file('pin.pem', leaf));
    expect(normalizeFingerprint(cert.sha256Fingerprint)).toBe(normalizeFingerprint(expected));
    expect(cert.sha256Fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});
