// `casgate cert inspect FILE [--password P]`: load any certificate file and describe it the way an Exchange admin
// checks one in the certificate MMC: names, issuer, validity, key, thumbprint, and how the PFX was encrypted.
import { X509Certificate } from 'node:crypto';
import { CertificateError, type LoadedCertificate } from './certificate.js';
import { loadPem } from './pem.js';
import { LEGACY_PFX_ALGORITHM } from './pfx-encryption.js';
import { loadPfx } from './pfx.js';
import { readCertificateFile } from './read-file.js';

const DAY_MS = 86_400_000;

/**
 * Decides by content, not extension (admins rename .pfx to .p12 and .crt to .pem freely): a PFX is DER, which starts
 * with a SEQUENCE tag 0x30; PEM is text with "-----BEGIN". For PEM, `password` is the key's passphrase and the key is
 * read from `keyFile`, or from the same file when both are in one PEM.
 */
export function loadCertificateFile(file: string, password?: string, keyFile?: string): LoadedCertificate {
  const content = readCertificateFile(file);
  if (content[0] === 0x30) return loadPfxAskingForPassword(file, password);
  if (content.toString('latin1').includes('-----BEGIN')) return loadPem(file, keyFile ?? file, password);
  throw new CertificateError(file, 'neither a PFX (binary PKCS#12) nor a PEM file');
}

function loadPfxAskingForPassword(file: string, password: string | undefined): LoadedCertificate {
  try {
    // An export without a password is legal, and forge reads it with the empty one.
    return loadPfx(file, password ?? '');
  } catch (err) {
    if (password === undefined && err instanceof CertificateError && err.problem === 'wrong PFX password') {
      throw new CertificateError(file, 'the PFX is password-protected; give its password (--password)', { cause: err });
    }
    throw err;
  }
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
