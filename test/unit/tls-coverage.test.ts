import { describe, expect, it } from 'vitest';
import { coverageReport, formatCoverage } from '../../src/tls/coverage.js';
import { loadedCertificate } from '../fixtures/tls/generated.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

const wildcard = loadedCertificate({ commonName: '*.contoso.com', dnsNames: ['*.contoso.com'], validDays: 400 }, 'wild.pfx');
const sanCert = loadedCertificate(
  { commonName: 'mail.fabrikam.com', dnsNames: ['mail.fabrikam.com', 'autodiscover.fabrikam.com'], validDays: 400 },
  'fabrikam.pfx',
);
// A fixed clock, not new Date(): certificate times have one-second resolution and key generation takes a while, so
// "days left" computed against the wall clock could land either side of a day boundary.
const now = new Date(wildcard.notBefore.getTime() + DAY + HOUR);

describe('coverageReport', () => {
  it('maps each published name to the certificate that covers it', () => {
    const report = coverageReport(['mail.contoso.com', 'autodiscover.fabrikam.com'], [wildcard, sanCert], now);
    expect(report.hosts.map((h) => [h.host, h.coveredBy?.source])).toEqual([
      ['mail.contoso.com', 'wild.pfx'],
      ['autodiscover.fabrikam.com', 'fabrikam.pfx'],
    ]);
    expect(report.warnings).toEqual([]);
  });

  it('warns for names a wildcard does not reach: two labels deep, or the apex', () => {
    const report = coverageReport(['mail.contoso.com', 'a.b.contoso.com', 'contoso.com'], [wildcard, sanCert], now);
    expect(report.hosts.filter((h) => !h.coveredBy).map((h) => h.host)).toEqual(['a.b.contoso.com', 'contoso.com']);
    expect(report.warnings).toEqual([
      'a.b.contoso.com: no certificate covers this name (certificates: wild.pfx [*.contoso.com]; ' +
        'fabrikam.pfx [mail.fabrikam.com, autodiscover.fabrikam.com])',
      'contoso.com: no certificate covers this name (certificates: wild.pfx [*.contoso.com]; ' +
        'fabrikam.pfx [mail.fabrikam.com, autodiscover.fabrikam.com])',
    ]);
  });

  it('warns for a published name missing from a SAN certificate', () => {
    const report = coverageReport(['mail.fabrikam.com', 'meet.fabrikam.com'], [sanCert], now);
    expect(report.warnings).toEqual([
      'meet.fabrikam.com: no certificate covers this name (certificates: fabrikam.pfx [mail.fabrikam.com, autodiscover.fabrikam.com])',
    ]);
  });

  it('says so when no certificate is loaded', () => {
    expect(coverageReport(['mail.contoso.com'], [], now).warnings).toEqual([
      'mail.contoso.com: no certificate covers this name (certificates: none loaded)',
    ]);
  });

  it('warns about a certificate that expires within 30 days, but not one with 31 left', () => {
    const soon = loadedCertificate({ commonName: 'soon.contoso.com', notBeforeOffsetDays: -20, validDays: 30 }, 'soon.pfx');
    const later = loadedCertificate({ commonName: 'later.contoso.com', notBeforeOffsetDays: -1, validDays: 32 }, 'later.pfx');
    const report = coverageReport([], [soon, later], new Date(later.notBefore.getTime() + DAY - HOUR));
    expect(report.warnings).toEqual([`soon.pfx: expires in 10 days, on ${isoDay(soon.notAfter)}`]);
  });

  it('warns about expired and not-yet-valid certificates', () => {
    const expired = loadedCertificate({ commonName: 'old.contoso.com', notBeforeOffsetDays: -400, validDays: 395 }, 'old.pfx');
    const future = loadedCertificate({ commonName: 'new.contoso.com', notBeforeOffsetDays: 3 }, 'new.pfx');
    const report = coverageReport([], [expired, future], new Date(expired.notAfter.getTime() + 5 * DAY + HOUR));
    expect(report.warnings).toEqual([
      `old.pfx: expired on ${isoDay(expired.notAfter)} (5 days ago)`,
      `new.pfx: not valid until ${isoDay(future.notBefore)}`,
    ]);
  });

  it('warns when only the CN names a host on a certificate that has SANs (browsers reject that)', () => {
    const cnOutsideSans = loadedCertificate({ commonName: 'owa.contoso.com', dnsNames: ['mail.contoso.com'] }, 'cn.pfx');
    const report = coverageReport(['owa.contoso.com'], [cnOutsideSans], now);
    expect(report.hosts[0]?.coveredBy).toBe(cnOutsideSans);
    expect(report.warnings).toEqual([
      'owa.contoso.com: only the subject CN of cn.pfx names it; browsers ignore the CN when a certificate has SANs, ' +
        'so add owa.contoso.com to the SAN list',
    ]);
  });

  it('uses the injected clock', () => {
    const report = coverageReport([], [wildcard], new Date(wildcard.notAfter.getTime() - 10 * DAY));
    expect(report.warnings).toEqual([`wild.pfx: expires in 10 days, on ${isoDay(wildcard.notAfter)}`]);
  });
});

describe('formatCoverage', () => {
  it('prints certificates, names and warnings', () => {
    const report = coverageReport(['mail.contoso.com', 'mail.fabrikam.com', 'contoso.com'], [wildcard, sanCert], now);
    expect(formatCoverage(report)).toEqual([
      `certificate wild.pfx: *.contoso.com; expires ${isoDay(wildcard.notAfter)} (398 days)`,
      `certificate fabrikam.pfx: mail.fabrikam.com, autodiscover.fabrikam.com; expires ${isoDay(sanCert.notAfter)} (398 days)`,
      'mail.contoso.com: covered by wild.pfx (wildcard SAN *.contoso.com)',
      'mail.fabrikam.com: covered by fabrikam.pfx (SAN mail.fabrikam.com)',
      'contoso.com: NOT COVERED',
      'warning: contoso.com: no certificate covers this name (certificates: wild.pfx [*.contoso.com]; ' +
        'fabrikam.pfx [mail.fabrikam.com, autodiscover.fabrikam.com])',
    ]);
  });
});

describe('formatCoverage of an expired certificate', () => {
  it('says expired, and how long ago', () => {
    const expired = loadedCertificate({ commonName: 'old.contoso.com', notBeforeOffsetDays: -400, validDays: 398 }, 'old.pfx');
    const lines = formatCoverage(coverageReport([], [expired], new Date(expired.notAfter.getTime() + 2 * DAY + HOUR)));
    expect(lines).toEqual([
      `certificate old.pfx: CN=old.contoso.com; expired ${isoDay(expired.notAfter)} (2 days ago)`,
      `warning: old.pfx: expired on ${isoDay(expired.notAfter)} (2 days ago)`,
    ]);
  });
});

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}
