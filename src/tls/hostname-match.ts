// Does a certificate cover a host name? The rules of seed 001 (Exchange's certificate guidance):
// the subject CN and every SAN DNS entry are candidate names; a wildcard is a whole left-most label "*" and covers
// exactly one label: "*.contoso.com" covers mail.contoso.com, not a.b.contoso.com and not contoso.com.
// Comparison ignores case and a trailing dot (DNS names are case-insensitive; "mail.contoso.com." is the same FQDN).
//
// CN when SANs exist: RFC 6125 says a client should ignore the CN once a SAN DNS entry is present, and current browsers
// ignore the CN altogether. Exchange, though, lists CN and SANs together as the certificate's domains
// (Get-ExchangeCertificate's CertificateDomains) and New-ExchangeCertificate always repeats the CN in the SANs, so an
// Exchange admin expects the CN to count. We accept it, and report *how* a name matched so the coverage report can warn
// when a name is covered only by the CN of a certificate that has SANs: a browser would reject that certificate.

export interface NamedCertificate {
  subjectCommonName?: string;
  dnsNames: string[];
}

export type MatchKind = 'exact' | 'wildcard';

export interface NameMatch {
  /** The certificate name that matched, as written in the certificate. */
  name: string;
  kind: MatchKind;
  /** Where the name came from; 'cn' with SANs present is the case browsers reject. */
  field: 'san' | 'cn';
}

export function certificateCovers(cert: NamedCertificate, host: string): boolean {
  return matchHost(cert, host) !== undefined;
}

/** The best match of `host` against the certificate: an exact name beats a wildcard, a SAN beats the CN. */
export function matchHost(cert: NamedCertificate, host: string): NameMatch | undefined {
  const wanted = normalize(host);
  if (!wanted) return undefined;
  const candidates: { name: string; field: 'san' | 'cn' }[] = cert.dnsNames.map((name) => ({ name, field: 'san' }));
  if (cert.subjectCommonName) candidates.push({ name: cert.subjectCommonName, field: 'cn' });
  const exact = candidates.find((c) => normalize(c.name) === wanted);
  if (exact) return { ...exact, kind: 'exact' };
  const wildcard = candidates.find((c) => wildcardCovers(normalize(c.name), wanted));
  return wildcard ? { ...wildcard, kind: 'wildcard' } : undefined;
}

/**
 * The certificate to present for `host`: the first one naming it exactly, else the first whose wildcard covers it.
 * "First" is configuration order, so an admin decides between two certificates that both name the host.
 */
export function selectCertificate<T extends NamedCertificate>(certs: readonly T[], host: string): T | undefined {
  const matches = certs.map((cert) => ({ cert, match: matchHost(cert, host) }));
  return (
    matches.find((m) => m.match?.kind === 'exact')?.cert ?? matches.find((m) => m.match?.kind === 'wildcard')?.cert
  );
}

/** "*.contoso.com" covers "mail.contoso.com": the same labels after the first, and exactly one label in its place. */
function wildcardCovers(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1); // ".contoso.com"
  // "*.com" would cover a whole top-level domain; CAs may not issue it and no client honours it.
  if (!suffix.slice(1).includes('.') || suffix.includes('*')) return false;
  // Wildcards are for DNS names; a client connecting to an IP address needs an IP SAN, which this module does not read.
  if (isIpAddress(host)) return false;
  if (!host.endsWith(suffix)) return false;
  const label = host.slice(0, -suffix.length);
  return label.length > 0 && !label.includes('.');
}

function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function isIpAddress(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':');
}
