// Loads the PFX an Exchange admin exports (Export-ExchangeCertificate -BinaryEncoded -Password ...).
//
// Why node-forge and not tls.createSecureContext({ pfx }): PFX files from Windows before Server 2019 encrypt the
// certificates with RC2-40, which OpenSSL 3 keeps in its legacy provider; Node 17+ does not load that provider and fails
// with ERR_CRYPTO_UNSUPPORTED_OPERATION "Unsupported PKCS12 PFX data". node-forge (1.4, the installed version) reads
// pbeWithSHAAnd40BitRC2-CBC, pbeWithSHAAnd3-KeyTripleDES-CBC and PBES2 (PBKDF2 with HMAC-SHA1..SHA512, AES-128/192/256-CBC)
// with SHA-1 or SHA-256 MACs. That covers old Windows exports, Windows Server 2019's TripleDES_SHA1, Server 2022's
// AES256_SHA256 and OpenSSL 3's defaults, so one code path reads them all (test/unit/tls-pfx.test.ts proves the legacy and
// the AES case). forge does not read RC4-based PBE, which no Windows export uses. The result is plain PEM, which Node
// accepts whatever the PFX looked like.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { CertificateError, describeParts, keyMatchesCertificate, type LoadedCertificate } from './certificate.js';
import { orderChain } from './chain.js';
import { describePfxEncryption } from './pfx-encryption.js';
import { readCertificateFile } from './read-file.js';

export function loadPfx(file: string, password: string): LoadedCertificate {
  const der = readCertificateFile(file);
  if (der[0] !== 0x30) throw new CertificateError(file, 'not a PFX (PKCS#12) file: it does not start with a DER SEQUENCE');
  const { keys, certs } = openPfx(file, der, password);
  if (keys.length === 0) throw new CertificateError(file, 'no private key in the PFX (export it with the private key)');
  if (certs.length === 0) throw new CertificateError(file, 'no certificate in the PFX');

  // Windows puts the whole path in the PFX; the leaf is the certificate whose public key matches the private key.
  for (const key of keys) {
    const leaf = certs.find((cert) => keyMatchesCertificate(cert, key));
    if (!leaf) continue;
    const chain = orderChain(
      leaf,
      certs.filter((cert) => cert !== leaf),
    );
    const parts = {
      source: file,
      certPem: leaf.toString(),
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      chainPem: chain.map((cert) => cert.toString()),
    };
    const encryption = describePfxEncryption(der);
    return describeParts(encryption === undefined ? parts : { ...parts, pfxEncryption: encryption });
  }
  throw new CertificateError(file, 'no certificate in the PFX matches its private key');
}

/** Every certificate in a PFX, whether or not it holds a key (a PFX of CA or server certificates only). */
export function pfxCertificates(file: string, password: string): X509Certificate[] {
  const der = readCertificateFile(file);
  return openPfx(file, der, password).certs;
}

function openPfx(file: string, der: Buffer, password: string): { keys: KeyObject[]; certs: X509Certificate[] } {
  let pfx: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
    pfx = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  } catch (err) {
    throw new CertificateError(file, describeForgeError(err), { cause: err });
  }
  const keys: KeyObject[] = [];
  const certs: X509Certificate[] = [];
  for (const safe of pfx.safeContents) {
    for (const bag of safe.safeBags) {
      if (bag.type === forge.pki.oids.keyBag || bag.type === forge.pki.oids.pkcs8ShroudedKeyBag) {
        keys.push(toKeyObject(bag));
      } else if (bag.type === forge.pki.oids.certBag) {
        certs.push(toX509(bag));
      }
    }
  }
  return { keys, certs };
}

/**
 * forge turns RSA keys and certificates into its own objects and leaves others (EC) as ASN.1; both become DER for
 * Node. Certificates re-encode byte for byte: forge keeps the parsed TBSCertificate and signature, so the SHA-256
 * fingerprint stays the one Exchange shows (the Extended Protection check compares it with the backend's).
 */
function toKeyObject(bag: forge.pkcs12.Bag): KeyObject {
  if (bag.key) return createPrivateKey(forge.pki.privateKeyToPem(bag.key));
  if (!bag.asn1) throw new Error('PKCS#12 key bag without a key');
  return createPrivateKey({ key: derBuffer(bag.asn1), format: 'der', type: 'pkcs8' });
}

function toX509(bag: forge.pkcs12.Bag): X509Certificate {
  if (bag.cert) return new X509Certificate(derBuffer(forge.pki.certificateToAsn1(bag.cert)));
  if (!bag.asn1) throw new Error('PKCS#12 certificate bag without a certificate');
  return new X509Certificate(derBuffer(bag.asn1));
}

function derBuffer(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

function describeForgeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // With a MAC (every Windows export) a wrong password fails the MAC check; without one, decryption fails instead.
  if (/MAC could not be verified|wrong password|Failed to decrypt|Invalid password/i.test(message)) {
    return 'wrong PFX password';
  }
  if (/Unsupported OID|unsupported/i.test(message)) return `unsupported PFX encryption (${message})`;
  return `not a readable PFX (PKCS#12) file (${message})`;
}
