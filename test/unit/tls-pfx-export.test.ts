import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../src/tls/generate.js';
import { exportLegacyPfx } from '../../src/tls/pfx-export.js';
import { loadPfx } from '../../src/tls/pfx.js';
import { tempDir } from '../fixtures/tls/generated.js';

const temp = tempDir();
afterAll(() => temp.remove());

const ca = issueCertificate({ commonName: 'Export CA', isCa: true });
const leaf = issueCertificate({ commonName: 'mail.contoso.lab', dnsNames: ['mail.contoso.lab'], issuer: ca });
const pfx = exportLegacyPfx({ keyPem: leaf.keyPem, certPems: [leaf.certPem, ca.certPem], password: 'pw', friendlyName: 'lab' });
const file = temp.file('legacy.pfx', pfx);

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('exportLegacyPfx', () => {
  it('writes a PFX Node refuses for its RC2-40 certificate bag, like an old Windows export', () => {
    expect(() => tls.createSecureContext({ pfx, passphrase: 'pw' })).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_UNSUPPORTED_OPERATION' }),
    );
  });

  it('reads back through loadPfx with key, leaf and chain intact', () => {
    const cert = loadPfx(file, 'pw');
    expect(cert.sha256Fingerprint).toBe(new X509Certificate(leaf.certPem).fingerprint256);
    expect(cert.chainPem.map((pem) => new X509Certificate(pem).fingerprint256)).toEqual([
      new X509Certificate(ca.certPem).fingerprint256,
    ]);
    expect(cert.pfxEncryption).toBe(
      'pbeWithSHAAnd3-KeyTripleDES-CBC (key), pbeWithSHAAnd40BitRC2-CBC (certificates), MAC HMAC-SHA1',
    );
  });

  it('is protected by its password (the MAC is checked)', () => {
    expect(() => loadPfx(file, 'wrong')).toThrow(`${file}: wrong PFX password`);
  });

  // An independent reader: OpenSSL's own PKCS#12 code must agree on the structure, MAC and both ciphers.
  it.skipIf(!hasOpenssl())('is read by the openssl CLI with -legacy', () => {
    // -info writes the algorithm lines to stderr and the certificates to stdout.
    const run = spawnSync('openssl', ['pkcs12', '-in', file, '-info', '-nokeys', '-legacy', '-passin', 'pass:pw'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    const both = run.stdout + run.stderr;
    expect(both).toMatch(/MAC: sha1, Iteration 2048/);
    expect(both).toMatch(/PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC, Iteration 2048/);
    expect(both).toMatch(/Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/);
    expect(both).toMatch(/friendlyName: lab/);
    expect(run.stdout.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
  });
});
