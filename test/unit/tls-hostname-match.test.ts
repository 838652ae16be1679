import { describe, expect, it } from 'vitest';
import { certificateCovers, matchHost, selectCertificate, type NamedCertificate } from '../../src/tls/hostname-match.js';

const san: NamedCertificate = {
  subjectCommonName: 'mail.contoso.com',
  dnsNames: ['mail.contoso.com', 'autodiscover.contoso.com'],
};
const wildcard: NamedCertificate = { subjectCommonName: '*.contoso.com', dnsNames: ['*.contoso.com'] };
const cnOnly: NamedCertificate = { subjectCommonName: 'legacy.contoso.com', dnsNames: [] };
const cnOutsideSans: NamedCertificate = { subjectCommonName: 'owa.contoso.com', dnsNames: ['mail.contoso.com'] };
const tldWildcard: NamedCertificate = { dnsNames: ['*.com'] };
const partialWildcard: NamedCertificate = { dnsNames: ['mail*.contoso.com', 'm*l.contoso.com'] };
const innerWildcard: NamedCertificate = { dnsNames: ['mail.*.contoso.com'] };

describe('certificateCovers (seed 001 rules)', () => {
  it.each([
    // [why, host, certificate, covered]
    ['exact SAN', 'mail.contoso.com', san, true],
    ['second SAN', 'autodiscover.contoso.com', san, true],
    ['name not on the certificate', 'owa.contoso.com', san, false],
    ['case-insensitive', 'MAIL.Contoso.COM', san, true],
    ['trailing dot of an FQDN', 'mail.contoso.com.', san, true],
    ['CN of a certificate without SANs', 'legacy.contoso.com', cnOnly, true],
    ['CN even when SANs exist (Exchange counts it)', 'owa.contoso.com', cnOutsideSans, true],
    ['wildcard covers one label', 'mail.contoso.com', wildcard, true],
    ['wildcard, any case', 'AutoDiscover.CONTOSO.com', wildcard, true],
    ['wildcard does not cover two labels', 'a.b.contoso.com', wildcard, false],
    ['wildcard does not cover the apex', 'contoso.com', wildcard, false],
    ['wildcard does not cover another domain', 'mail.fabrikam.com', wildcard, false],
    ['wildcard does not cover a suffix lookalike', 'mail.evilcontoso.com', wildcard, false],
    ['no wildcard over a whole TLD', 'contoso.com', tldWildcard, false],
    ['no partial-label wildcards', 'mail1.contoso.com', partialWildcard, false],
    ['no partial-label wildcards (middle)', 'mail.contoso.com', partialWildcard, false],
    ['wildcard only as the left-most label', 'mail.x.contoso.com', innerWildcard, false],
    ['an empty host', '', san, false],
  ])('%s: %s', (_why, host, cert, covered) => {
    expect(certificateCovers(cert, host)).toBe(covered);
  });

  it('wildcards never match an IP address', () => {
    expect(certificateCovers({ dnsNames: ['*.0.0.1'] }, '127.0.0.1')).toBe(false);
  });
});

describe('matchHost', () => {
  it('says how a name matched', () => {
    expect(matchHost(san, 'mail.contoso.com')).toEqual({ name: 'mail.contoso.com', kind: 'exact', field: 'san' });
    expect(matchHost(wildcard, 'owa.contoso.com')).toEqual({ name: '*.contoso.com', kind: 'wildcard', field: 'san' });
    expect(matchHost(cnOutsideSans, 'owa.contoso.com')).toEqual({ name: 'owa.contoso.com', kind: 'exact', field: 'cn' });
  });

  it('prefers an exact name over a wildcard on the same certificate', () => {
    const both = { dnsNames: ['*.contoso.com', 'mail.contoso.com'] };
    expect(matchHost(both, 'mail.contoso.com')?.kind).toBe('exact');
  });
});

describe('selectCertificate', () => {
  it('exact beats wildcard beats nothing, regardless of order', () => {
    expect(selectCertificate([wildcard, san], 'mail.contoso.com')).toBe(san);
    expect(selectCertificate([san, wildcard], 'owa.contoso.com')).toBe(wildcard);
    expect(selectCertificate([san, wildcard], 'mail.fabrikam.com')).toBeUndefined();
  });

  it('among equals, configuration order decides', () => {
    const second = { dnsNames: ['mail.contoso.com'] };
    expect(selectCertificate([san, second], 'mail.contoso.com')).toBe(san);
    expect(selectCertificate([second, san], 'mail.contoso.com')).toBe(second);
  });
});
