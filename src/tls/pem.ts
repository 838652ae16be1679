// Loads a certificate and key in PEM form (what `openssl pkcs12 -nodes` or a Linux CA hands out).
// The certificate file holds the leaf first and may carry the chain after it, the nginx "fullchain" layout.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { CertificateError, describeParts, keyMatchesCertificate, type LoadedCertificate } from './certificate.js';
import { readCertificateFile } from './read-file.js';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PRIVATE_KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/** `keyFile` may be the certificate file itself when both are in one PEM. */
export function loadPem(certFile: string, keyFile: string, passphrase?: string): LoadedCertificate {
  const [leafPem, ...chainPem] = certificateBlocks(certFile);
  if (!leafPem) throw new CertificateError(certFile, 'no PEM certificate (-----BEGIN CERTIFICATE-----) in the file');
  const leaf = parseCertificate(certFile, leafPem);
  chainPem.forEach((pem) => parseCertificate(certFile, pem));
  const key = readPrivateKey(keyFile, passphrase);
  if (!keyMatchesCertificate(leaf, key)) {
    throw new CertificateError(keyFile, `private key does not match certificate ${certFile}`);
  }
  return describeParts({
    source: keyFile === certFile ? certFile : `${certFile} + ${keyFile}`,
    certPem: leaf.toString(),
    // Stored unencrypted so that building a SecureContext later needs no passphrase.
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    chainPem,
  });
}

export function certificateBlocks(file: string): string[] {
  const text = readCertificateFile(file).toString('utf8');
  return [...text.matchAll(CERTIFICATE_BLOCK)].map((match) => `${match[0]}\n`);
}

function parseCertificate(file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new CertificateError(file, `unreadable PEM certificate (${(err as Error).message})`, { cause: err });
  }
}

export function readPrivateKey(file: string, passphrase?: string): KeyObject {
  const text = readCertificateFile(file).toString('utf8');
  const block = PRIVATE_KEY_BLOCK.exec(text);
  if (!block) throw new CertificateError(file, 'no PEM private key (-----BEGIN PRIVATE KEY-----) in the file');
  const encrypted = block[1] === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block[0]);
  if (encrypted && passphrase === undefined) {
    throw new CertificateError(file, 'the private key is encrypted; give its passphrase');
  }
  try {
    return createPrivateKey(passphrase === undefined ? block[0] : { key: block[0], passphrase });
  } catch (err) {
    const problem = encrypted ? 'wrong private key passphrase' : `unreadable private key (${(err as Error).message})`;
    throw new CertificateError(file, problem, { cause: err });
  }
}
