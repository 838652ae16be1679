import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { certificateCovers } from '../../src/tls/hostname-match.js';
import { ensureLabCertificates, LAB_HOSTNAMES } from '../../src/tls/lab-certs.js';
import { loadPfx } from '../../src/tls/pfx.js';
import { tempDir } from '../fixtures/tls/generated.js';

const temp = tempDir();
afterAll(() => temp.remove());
const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

describe('ensureLabCertificates', () => {
  const dir = join(temp.path, 'certs', 'lab');

  it('makes a lab CA and a legacy-encrypted PFX for the lab names, issued by it', async () => {
    const lab = await ensureLabCertificates(dir);
    expect(lab).toEqual({
      caCertFile: join(dir, 'ca.crt'),
      pfxFile: join(dir, 'mail.contoso.lab.pfx'),
      password: 'casgate-lab',
    });
    const ca = new X509Certificate(readFileSync(lab.caCertFile));
    expect(ca.subject).toBe('CN=casgate lab CA\nO=casgate lab');
    expect(ca.ca).toBe(true);

    const server = loadPfx(lab.pfxFile, lab.password);
    for (const host of LAB_HOSTNAMES) expect(certificateCovers(server, host)).toBe(true);
    expect(new X509Certificate(server.certPem).verify(ca.publicKey)).toBe(true);
    expect(server.chainPem.map((pem) => new X509Certificate(pem).fingerprint256)).toEqual([ca.fingerprint256]);
    // Encrypted like a Windows Server 2016 export, so the lab goes through the same loading path as production.
    expect(server.pfxEncryption).toBe(
      'pbeWithSHAAnd3-KeyTripleDES-CBC (key), pbeWithSHAAnd40BitRC2-CBC (certificates), MAC HMAC-SHA1',
    );
    expect(() => tls.createSecureContext({ pfx: readFileSync(lab.pfxFile), passphrase: lab.password })).toThrow();
    expect(statSync(lab.pfxFile).mode & 0o077).toBe(0);
    expect(statSync(join(dir, 'ca.key')).mode & 0o077).toBe(0);
  });

  it('reuses valid files instead of making new ones', async () => {
    const before = { ca: fingerprint(join(dir, 'ca.crt')), pfx: readFileSync(join(dir, 'mail.contoso.lab.pfx')) };
    await ensureLabCertificates(dir);
    expect(fingerprint(join(dir, 'ca.crt'))).toBe(before.ca);
    expect(readFileSync(join(dir, 'mail.contoso.lab.pfx')).equals(before.pfx)).toBe(true);
  });

  it('replaces a damaged PFX and keeps the CA the admin may already trust', async () => {
    const caBefore = fingerprint(join(dir, 'ca.crt'));
    const pfxFile = join(dir, 'mail.contoso.lab.pfx');
    const serverBefore = loadPfx(pfxFile, 'casgate-lab').sha256Fingerprint;
    writeFileSync(pfxFile, 'not a pfx');
    await ensureLabCertificates(dir);
    expect(fingerprint(join(dir, 'ca.crt'))).toBe(caBefore);
    expect(loadPfx(pfxFile, 'casgate-lab').sha256Fingerprint).not.toBe(serverBefore);
  });

  it('gives concurrent callers one consistent set of files', async () => {
    const fresh = join(temp.path, 'concurrent');
    const results = await Promise.all([ensureLabCertificates(fresh), ensureLabCertificates(fresh)]);
    expect(results[0]).toEqual(results[1]);
    const ca = new X509Certificate(readFileSync(join(fresh, 'ca.crt')));
    const server = new X509Certificate(loadPfx(join(fresh, 'mail.contoso.lab.pfx'), 'casgate-lab').certPem);
    expect(server.verify(ca.publicKey)).toBe(true);
  });
});
