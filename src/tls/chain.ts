// Puts a bag of CA certificates in the order a TLS server sends them: leaf's issuer first, then its issuer, up to the root.
// PFX files list certificates in whatever order the exporting tool chose, and clients expect each certificate to be
// followed by the one that signed it.
import type { X509Certificate } from 'node:crypto';

/**
 * Returns `others` ordered by following issuer links from `leaf`. Certificates that are not on the leaf's path stay at the
 * end in their original order: they are harmless to clients, and dropping them silently would hide a confused export.
 */
export function orderChain(leaf: X509Certificate, others: X509Certificate[]): X509Certificate[] {
  const remaining = [...others];
  const ordered: X509Certificate[] = [];
  let current = leaf;
  for (;;) {
    if (isSelfSigned(current)) break;
    const index = remaining.findIndex((candidate) => current.checkIssued(candidate) && signedBy(current, candidate));
    if (index < 0) break;
    const [issuer] = remaining.splice(index, 1);
    if (!issuer) break;
    ordered.push(issuer);
    current = issuer;
  }
  return [...ordered, ...remaining];
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && signedBy(cert, cert);
}

/** checkIssued compares names (and key identifiers); the signature check rules out a renewed CA with the same name. */
function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
