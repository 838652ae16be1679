// The one shape every certificate source (PFX, PEM pair, lab generator) is turned into, and the error they all throw.
// Descriptive fields come from Node's own X.509 parser rather than forge: forge cannot parse EC certificates,
// and Exchange 2019 can hold ECC certificates.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

export interface LoadedCertificate {
  /** File path(s) the certificate came from, for messages ("certs/mail.pfx", "certs/x.crt + certs/x.key"). */
  source: string;
  /** The leaf certificate alone. */
  certPem: string;
  /** Unencrypted PKCS#8 private key matching certPem; empty for a certificate read without its key (`cert inspect`). */
  keyPem: string;
  /** Intermediate (and possibly root) certificates, ordered leaf→root as they are sent to clients. */
  chainPem: string[];
  subjectCommonName?: string;
  /** subjectAltName DNS entries, as written in the certificate (wildcards included). */
  dnsNames: string[];
  /** Issuer distinguished name on one line, e.g. "O=Contoso, CN=Contoso Issuing CA". */
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  keyType: 'RSA' | 'EC' | string;
  /** Modulus length for RSA, curve size for EC. */
  keyBits?: number;
  /** Colon-separated uppercase hex, the format of X509Certificate.fingerprint256 and of Windows' Thumbprint (SHA-1 there). */
  sha256Fingerprint: string;
  /** PFX only: how the key and certificate bags were encrypted, for `casgate cert inspect`. */
  pfxEncryption?: string;
}

/** A certificate that cannot be used; the message is one line that starts with the file: "certs/mail.pfx: wrong PFX password". */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
  }
}

export interface CertificateParts {
  source: string;
  certPem: string;
  keyPem: string;
  chainPem: string[];
  pfxEncryption?: string;
}

/**
 * A certificate read without its private key (a `.cer` export of a CAS certificate, a PFX of certificates only), for
 * `casgate cert inspect`: the key type and size come from the certificate's public key. Never served (keyPem is empty).
 */
export function describeCertificateOnly(parts: Omit<CertificateParts, 'keyPem'>): LoadedCertificate {
  const x509 = new X509Certificate(parts.certPem);
  return describeFrom(x509, x509.publicKey, { ...parts, keyPem: '' });
}

/** Fills in the descriptive fields of a LoadedCertificate. Does not check that the key matches; loaders do that with file names. */
export function describeParts(parts: CertificateParts): LoadedCertificate {
  return describeFrom(new X509Certificate(parts.certPem), createPrivateKey(parts.keyPem), parts);
}

function describeFrom(x509: X509Certificate, key: KeyObject, parts: CertificateParts): LoadedCertificate {
  const loaded: LoadedCertificate = {
    source: parts.source,
    certPem: parts.certPem,
    keyPem: parts.keyPem,
    chainPem: parts.chainPem,
    dnsNames: sanDnsNames(x509.subjectAltName),
    issuer: oneLineName(x509.issuer),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    keyType: keyTypeName(key),
    sha256Fingerprint: x509.fingerprint256,
  };
  const commonName = commonNameOf(x509.subject);
  if (commonName !== undefined) loaded.subjectCommonName = commonName;
  const bits = keyBitsOf(key);
  if (bits !== undefined) loaded.keyBits = bits;
  if (parts.pfxEncryption !== undefined) loaded.pfxEncryption = parts.pfxEncryption;
  return loaded;
}

export function keyMatchesCertificate(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    // Different key types (an EC key against an RSA certificate) throw instead of returning false.
    return false;
  }
}

/** Node renders names one attribute per line ("O=Contoso\nCN=mail.contoso.com"). */
function commonNameOf(name: string): string | undefined {
  const line = name.split('\n').find((l) => l.startsWith('CN='));
  return line?.slice(3);
}

function oneLineName(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

/**
 * Node's subjectAltName is "DNS:a, DNS:b, IP Address:1.2.3.4". Since the CVE-2021-44532 fix, entries holding
 * characters that would make this ambiguous are JSON-quoted ('DNS:"a,b"'); such names are not valid host names,
 * but unquote them anyway so that nothing is silently split.
 */
export function sanDnsNames(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const names: string[] = [];
  const entry = /(?:^|, )DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const match of subjectAltName.matchAll(entry)) {
    const value = match[1] ?? '';
    names.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return names;
}

function keyTypeName(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  return type === 'rsa' || type === 'rsa-pss' ? 'RSA' : type === 'ec' ? 'EC' : type.toUpperCase();
}

const curveBits: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

function keyBitsOf(key: KeyObject): number | undefined {
  const details = key.asymmetricKeyDetails;
  if (details?.modulusLength !== undefined) return details.modulusLength;
  return details?.namedCurve !== undefined ? curveBits[details.namedCurve] : undefined;
}
