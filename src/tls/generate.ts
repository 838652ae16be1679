// Certificate generation for the lab, the mock CAS and tests. Keys come from Node's crypto (native and fast);
// node-forge builds and signs the X.509 structure because Node has no certificate-signing API.
// forge signs with RSA only, so every certificate made here is RSA.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface GeneratedCertificate {
  certPem: string;
  keyPem: string;
}

export interface CertificateRequest {
  commonName: string;
  /** DNS names for the subjectAltName extension; the CN is not added implicitly. */
  dnsNames?: string[];
  /** Organisation in the subject, e.g. "Contoso Lab". */
  organization?: string;
  /** Validity length in days (default 825). */
  validDays?: number;
  /** notBefore relative to now, in days (default -1); tests of expiry warnings move it. */
  notBeforeOffsetDays?: number;
  rsaBits?: number;
  /** Issue from this CA; self-signed when absent. */
  issuer?: GeneratedCertificate;
  isCa?: boolean;
}

export function issueCertificate(req: CertificateRequest): GeneratedCertificate {
  const keyPem = generateKeyPairSync('rsa', { modulusLength: req.rsaBits ?? 2048 })
    .privateKey.export({ type: 'pkcs1', format: 'pem' })
    .toString();
  const privateKey = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  // Positive serial: a leading 0x01 byte keeps the DER INTEGER from reading as negative.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const notBefore = new Date(Date.now() + (req.notBeforeOffsetDays ?? -1) * 86_400_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + (req.validDays ?? 825) * 86_400_000);
  const subject: forge.pki.CertificateField[] = [{ name: 'commonName', value: req.commonName }];
  if (req.organization) subject.push({ name: 'organizationName', value: req.organization });
  cert.setSubject(subject);
  const extensions: object[] = req.isCa
    ? [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ]
    : [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
      ];
  if (req.dnsNames?.length) {
    extensions.push({ name: 'subjectAltName', altNames: req.dnsNames.map((value) => ({ type: 2, value })) });
  }
  cert.setExtensions(extensions);
  const issuerCert = req.issuer ? forge.pki.certificateFromPem(req.issuer.certPem) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const signingKey = req.issuer ? forge.pki.privateKeyFromPem(req.issuer.keyPem) : privateKey;
  cert.sign(signingKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}
