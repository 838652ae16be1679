// Tells the admin which published names the loaded certificates do not cover and which certificates expire soon
// (EXCHANGE.md, Certificates). Printed at start-up and by `casgate check`; it warns and never refuses to start,
// because a missing name usually affects one client feature (say, Autodiscover), not the whole service.
import type { LoadedCertificate } from './certificate.js';
import { matchHost, selectCertificate, type NameMatch } from './hostname-match.js';

/** Certificates that expire within this many days get a warning: enough time to order, export and deploy a renewal. */
export const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 86_400_000;

export interface HostCoverage {
  host: string;
  /** The certificate the front end presents for this name (same choice as CertStore.contextFor). */
  coveredBy?: LoadedCertificate;
  match?: NameMatch;
}

export interface CoverageReport {
  hosts: HostCoverage[];
  warnings: string[];
  certificates: LoadedCertificate[];
  checkedAt: Date;
}

export function coverageReport(hostnames: string[], certs: LoadedCertificate[], now = new Date()): CoverageReport {
  const warnings: string[] = [];
  const hosts = hostnames.map((host): HostCoverage => {
    const cert = selectCertificate(certs, host);
    const match = cert && matchHost(cert, host);
    if (!cert || !match) {
      warnings.push(`${host}: no certificate covers this name (certificates: ${listCertificates(certs)})`);
      return { host };
    }
    if (match.field === 'cn' && cert.dnsNames.length > 0) {
      warnings.push(
        `${host}: only the subject CN of ${cert.source} names it; browsers ignore the CN when a certificate has SANs, ` +
          `so add ${host} to the SAN list`,
      );
    }
    return { host, coveredBy: cert, match };
  });
  for (const cert of certs) {
    const warning = validityWarning(cert, now);
    if (warning) warnings.push(warning);
  }
  return { hosts, warnings, certificates: certs, checkedAt: now };
}

function validityWarning(cert: LoadedCertificate, now: Date): string | undefined {
  if (now < cert.notBefore) return `${cert.source}: not valid until ${day(cert.notBefore)}`;
  if (cert.notAfter <= now) {
    return `${cert.source}: expired on ${day(cert.notAfter)} (${days(daysBetween(cert.notAfter, now))} ago)`;
  }
  const daysLeft = daysBetween(now, cert.notAfter);
  if (daysLeft < EXPIRY_WARNING_DAYS) return `${cert.source}: expires in ${days(daysLeft)}, on ${day(cert.notAfter)}`;
  return undefined;
}

/** Human lines: one per certificate, one per published name, then the warnings. */
export function formatCoverage(report: CoverageReport): string[] {
  const lines = report.certificates.map((cert) => {
    const expired = cert.notAfter <= report.checkedAt;
    const remaining = expired
      ? `${days(daysBetween(cert.notAfter, report.checkedAt))} ago`
      : days(daysBetween(report.checkedAt, cert.notAfter));
    return `certificate ${cert.source}: ${namesOf(cert)}; ${expired ? 'expired' : 'expires'} ${day(cert.notAfter)} (${remaining})`;
  });
  for (const { host, coveredBy, match } of report.hosts) {
    lines.push(
      coveredBy && match
        ? `${host}: covered by ${coveredBy.source} (${match.kind === 'wildcard' ? 'wildcard ' : ''}${match.field.toUpperCase()} ${match.name})`
        : `${host}: NOT COVERED`,
    );
  }
  return [...lines, ...report.warnings.map((warning) => `warning: ${warning}`)];
}

function listCertificates(certs: LoadedCertificate[]): string {
  return certs.length === 0 ? 'none loaded' : certs.map((cert) => `${cert.source} [${namesOf(cert)}]`).join('; ');
}

function namesOf(cert: LoadedCertificate): string {
  const names = [...cert.dnsNames];
  if (cert.subjectCommonName && !names.includes(cert.subjectCommonName)) names.unshift(`CN=${cert.subjectCommonName}`);
  return names.join(', ') || 'no names';
}

/** Whole days from `from` to `to`, rounded down; callers pass them in time order. */
function daysBetween(from: Date, to: Date): number {
  return Math.floor((to.getTime() - from.getTime()) / DAY_MS);
}

function days(count: number): string {
  return count === 1 ? '1 day' : `${count} days`;
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}
