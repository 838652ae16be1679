// `casgate cert inspect FILE [--password P]`: load any certificate file and describe it the way an Exchange admin
// checks one in the certificate MMC: names, issuer, validity, key, thumbprint, and how the PFX was encrypted.
import { X509Certificate } from 'node:crypto';
import { CertificateError, describeCertificateOnly, type LoadedCertificate } from './certificate.js';
import { orderChain } from './chain.js';
import { certificateBlocks, loadPem } from './pem.js';
import { describePfxEncryption, LEGACY_PFX_ALGORITHM } from './pfx-encryption.js';
import { loadPfx, pfxCertificates } from './pfx.js';
import { readCertificateFile } from './read-file.js';

const DAY_MS = 86_400_000;

/**
 * Decides by content, not extension (admins rename .pfx to .p12 and .crt to .pem freely): DER starts with a SEQUENCE
 * tag 0x30 and is either a certificate (a `.cer` export) or a PFX; PEM is text with "-----BEGIN". For PEM, `password`
 * is the key's passphrase and the key is read from `keyFile`, or from the same file when both are in one PEM. A
 * certificate without its key (a `.cer` in DER or PEM, a PFX of certificates only) is read too: that is what an admin
 * has of a CAS's certificate when taking its SHA-256 pin.
 */
export function loadCertificateFile(file: string, password?: string, keyFile?: string): LoadedCertificate {
  const content = readCertificateFile(file);
  if (content[0] === 0x30) {
    const der = derCertificate(content);
    if (der) return describeCertificateOnly({ source: file, certPem: der.toString(), chainPem: [] });
    return loadPfxAskingForPassword(file, password);
  }
  const text = content.toString('latin1');
  if (text.includes('-----BEGIN')) {
    if (keyFile === undefined && !/-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
      const [leafPem, ...chainPem] = certificateBlocks(file);
      if (!leafPem) throw new CertificateError(file, 'no PEM certificate (-----BEGIN CERTIFICATE-----) in the file');
      try {
        return describeCertificateOnly({ source: file, certPem: new X509Certificate(leafPem).toString(), chainPem });
      } catch (err) {
        throw new CertificateError(file, `unreadable PEM certificate (${(err as Error).message})`, { cause: err });
      }
    }
    return loadPem(file, keyFile ?? file, password);
  }
  throw new CertificateError(file, 'neither a certificate (PEM or DER), nor a PFX (binary PKCS#12)');
}

/** A DER X.509 certificate (what Windows' "DER encoded binary X.509 (.CER)" export writes), or undefined. */
function derCertificate(content: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(content);
  } catch {
    return undefined;
  }
}

function loadPfxAskingForPassword(file: string, password: string | undefined): LoadedCertificate {
  try {
    // An export without a password is legal, and forge reads it with the empty one.
    return loadPfx(file, password ?? '');
  } catch (err) {
    if (password === undefined && err instanceof CertificateError && err.problem === 'wrong PFX password') {
      throw new CertificateError(file, 'the PFX is password-protected; give its password (--password)', { cause: err });
    }
    if (err instanceof CertificateError && err.problem.startsWith('no private key in the PFX')) return pfxWithoutKey(file, password ?? '');
    throw err;
  }
}

/** A PFX of certificates only: the leaf is the one no other certificate in it was issued by. */
function pfxWithoutKey(file: string, password: string): LoadedCertificate {
  const certs = pfxCertificates(file, password);
  const leaf = certs.find((c) => !certs.some((other) => other !== c && other.checkIssued(c))) ?? certs[0];
  if (!leaf) throw new CertificateError(file, 'no certificate in the PFX');
  const chain = orderChain(leaf, certs.filter((c) => c !== leaf));
  const encryption = describePfxEncryption(readCertificateFile(file));
  const parts = { source: file, certPem: leaf.toString(), chainPem: chain.map((c) => c.toString()) };
  return describeCertificateOnly(encryption === undefined ? parts : { ...parts, pfxEncryption: encryption });
}

export function describeCertificate(c: LoadedCertificate, now = new Date()): string {
  const lines: [string, string][] = [
    ['Source', c.source],
    ['Subject CN', c.subjectCommonName ?? '(none)'],
    ['SAN DNS names', c.dnsNames.join(', ') || '(none)'],
    ['Issuer', c.issuer],
    ['Valid', `${day(c.notBefore)} to ${day(c.notAfter)} (${validityNote(c, now)})`],
    ['Key', c.keyBits === undefined ? c.keyType : `${c.keyType} ${c.keyBits} bits`],
    ['SHA-256', c.sha256Fingerprint],
    // The line to paste under a server (servers[].fingerprint256) or a pool (tls.fingerprint256) to pin it.
    ['Pin', `fingerprint256: "${c.sha256Fingerprint}"`],
    ['Private key', c.keyPem ? 'yes' : 'not in this file (enough to pin it or to trust it; casgate cannot serve it)'],
    ['Chain', chainSummary(c.chainPem)],
  ];
  if (c.pfxEncryption !== undefined) {
    const legacy = LEGACY_PFX_ALGORITHM.test(c.pfxEncryption)
      ? ' (legacy: Node/OpenSSL 3 refuse it; casgate reads it with node-forge)'
      : '';
    lines.push(['PFX encryption', c.pfxEncryption + legacy]);
  }
  const width = Math.max(...lines.map(([label]) => label.length)) + 2;
  return lines.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join('\n');
}

function validityNote(c: LoadedCertificate, now: Date): string {
  if (now < c.notBefore) return 'NOT YET VALID';
  const wholeDays = (from: Date, to: Date) => Math.floor((to.getTime() - from.getTime()) / DAY_MS);
  return c.notAfter <= now ? `EXPIRED ${wholeDays(c.notAfter, now)} days ago` : `${wholeDays(now, c.notAfter)} days left`;
}

function chainSummary(chainPem: string[]): string {
  if (chainPem.length === 0) return 'none (clients must already have the issuing CA)';
  return chainPem.map((pem) => new X509Certificate(pem).subject.replaceAll('\n', ', ')).join('; ');
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}
