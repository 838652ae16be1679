// The mock's own certificate: self-signed, subject CN "Microsoft Exchange", SANs [name, name.contoso.lab], like the
// certificate Exchange setup creates for its back-end site. Generated once per name per process (RSA key
// generation is the slowest thing the mock does) and exposed with its fingerprint so bridging tests can pin it.
import { X509Certificate } from 'node:crypto';
import { issueCertificate, type GeneratedCertificate } from '../../tls/generate.js';

const cache = new Map<string, GeneratedCertificate>();

export function mockCertificate(name: string, fqdn: string): GeneratedCertificate {
  const key = `${name}\0${fqdn}`;
  let cert = cache.get(key);
  if (!cert) {
    cert = issueCertificate({ commonName: 'Microsoft Exchange', dnsNames: [...new Set([name, fqdn])], validDays: 1825 });
    cache.set(key, cert);
  }
  return cert;
}

/** SHA-256 fingerprint in Node's format ("AB:CD:..."), the same string tls peerCertificate.fingerprint256 gives. */
export function fingerprint256(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
