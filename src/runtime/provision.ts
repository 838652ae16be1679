// One config lifecycle: parse → validate (config/load.ts) → provision (here) → swap (gateway.ts).
// Provisioning reads every file the config names (PFX and PEM certificates and keys, CA files), builds the TLS
// contexts, the plan and the router, and checks what the schema cannot (a file exists, a key matches its
// certificate, a PFX password is right). Every problem is collected, each with file, line and key path; the first
// one does not hide the others. What comes out cannot fail to apply, so nothing that can fail happens after a swap,
// and `casgate check`, `casgate run` and a reload give the same verdict with the same messages.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { ConfigError, formatKeyPath, loadConfigFile, type LoadedConfig } from '../config/load.js';
import { buildPlan, publishedHostnames, type Plan } from '../config/plan.js';
import type { CertificateConfig, Config } from '../config/schema.js';
import { PublishedHosts } from '../router/published-hosts.js';
import { Router } from '../router/router.js';
import { CertStore } from '../tls/cert-store.js';
import { CertificateError, type LoadedCertificate } from '../tls/certificate.js';
import { coverageReport, formatCoverage } from '../tls/coverage.js';
import { certificateBlocks, loadPem } from '../tls/pem.js';
import { loadPfx } from '../tls/pfx.js';
import { loadTicketKey } from '../tls/ticket-keys.js';
import type { Logger } from '../logging/logger.js';
import type { Provisioned } from './runtime.js';
import { nodeFlagsProblem } from './node-flags.js';

/** Reads and provisions a config file; throws ConfigError listing every problem. */
export function provisionFile(file: string, env: NodeJS.ProcessEnv = process.env): Provisioned {
  return provision(loadConfigFile(file, env));
}

/** For a config built in code (tests, benchmarks): problems name the key path without a line. */
export function provisionConfig(config: Config, file = '(config)'): Provisioned {
  return provision({ file, config, where: (path) => `${file}: ${formatKeyPath(path)}` });
}

export function provision({ file, config, where }: LoadedConfig): Provisioned {
  const problems: string[] = [];
  const problem = (path: readonly PropertyKey[], message: string) => problems.push(`${where(path)}: ${message}`);

  const certificates: LoadedCertificate[] = [];
  config.certificates.forEach((cert, i) => {
    const loaded = loadCertificate(cert, i, problem);
    if (loaded) certificates.push(loaded);
  });
  let store: CertStore | undefined;
  if (certificates.length === config.certificates.length) {
    try {
      store = new CertStore(certificates);
    } catch (err) {
      problem(['certificates'], `OpenSSL refused the certificates: ${(err as Error).message}`);
    }
  }

  const caFiles = new Map<string, string>();
  for (const [name, pool] of Object.entries(config.pools)) {
    const ca = pool.tls.ca;
    if (ca === undefined || caFiles.has(ca)) continue;
    try {
      caFiles.set(ca, readCaFile(ca));
    } catch (err) {
      problem(['pools', name, 'tls', 'ca'], (err as Error).message);
    }
  }

  let ticketKey: Buffer | undefined;
  if (config.tls.ticketKeyFile) {
    try {
      ticketKey = loadTicketKey(config.tls.ticketKeyFile);
    } catch (err) {
      problem(['tls', 'ticketKeyFile'], (err as Error).message);
    }
  }

  const flagsProblem = nodeFlagsProblem(config.workerFlags);
  if (flagsProblem) problem(['workerFlags'], flagsProblem);

  const access = config.logging.access;
  if (access !== 'stdout' && access !== 'off') {
    const why = unwritableReason(access);
    if (why) problem(['logging', 'access'], `${access}: ${why}`);
  }

  if (problems.length || !store) throw new ConfigError(file, problems);
  return assemble(file, config, certificates, caFiles, store, ticketKey);
}

/**
 * The objects built from what provisioning read, without reading anything: a worker of a multi-process instance
 * gets the certificates and CA files from its primary (src/cluster/) and builds its own copy here.
 */
export function assemble(
  file: string,
  config: Config,
  certificates: LoadedCertificate[],
  caFiles: ReadonlyMap<string, string>,
  store = new CertStore(certificates),
  ticketKey?: Buffer,
): Provisioned {
  const plan = buildPlan(config);
  return {
    file,
    config,
    plan,
    certificates,
    store,
    router: new Router(plan.routes),
    publishedHosts: new PublishedHosts(publishedHostnames(config)),
    caFiles,
    ...(ticketKey ? { ticketKey } : {}),
    coverage: formatCoverage(coverageReport(publishedHostnames(config), certificates)),
    warnings: configWarnings(config, plan),
  };
}

function loadCertificate(
  cert: CertificateConfig,
  i: number,
  problem: (path: readonly PropertyKey[], message: string) => void,
): LoadedCertificate | undefined {
  try {
    return 'pfx' in cert ? loadPfx(cert.pfx, cert.password) : loadPem(cert.cert, cert.key, cert.passphrase);
  } catch (err) {
    // The key whose file is at fault: `key` when the key file is (and is not the certificate file too).
    const key = 'pfx' in cert ? 'pfx' : err instanceof CertificateError && err.file === cert.key && cert.key !== cert.cert ? 'key' : 'cert';
    problem(['certificates', i, key], err instanceof CertificateError ? err.message : `${'pfx' in cert ? cert.pfx : cert.cert}: ${(err as Error).message}`);
    return undefined;
  }
}

/** A CA file for backend verification: PEM certificates that OpenSSL accepts as trust anchors. */
function readCaFile(file: string): string {
  const blocks = certificateBlocks(file);
  if (blocks.length === 0) throw new CertificateError(file, 'no PEM certificate (-----BEGIN CERTIFICATE-----) in the CA file');
  for (const pem of blocks) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new CertificateError(file, `unreadable CA certificate (${(err as Error).message})`);
    }
  }
  const pem = blocks.join('');
  try {
    tls.createSecureContext({ ca: pem });
  } catch (err) {
    throw new CertificateError(file, `OpenSSL refused the CA file (${(err as Error).message})`);
  }
  return pem;
}

/** Why an access log file could not be opened for appending, checked without creating it. */
function unwritableReason(file: string): string | undefined {
  try {
    if (statSync(file).isDirectory()) return 'is a directory, not a log file';
    return undefined;
  } catch {
    // Not there yet: its folder has to be.
  }
  try {
    return statSync(dirname(file)).isDirectory() ? undefined : `${dirname(file)} is not a directory`;
  } catch {
    return `folder ${dirname(file)} does not exist`;
  }
}

/** Start-up warnings that need no network: backend TLS verification off, Extended Protection with offloading. */
export function configWarnings(config: Config, plan: Plan): string[] {
  const warnings: string[] = [];
  for (const pool of plan.pools) {
    if (pool.mode === 'bridge' && pool.config.tls.insecure) {
      warnings.push(`pool ${pool.name}: backend certificate verification is OFF (tls.insecure: true); traffic to the CAS can be intercepted`);
    }
  }
  const offloaded = plan.pools.filter((p) => p.service && p.mode === 'offload').map((p) => p.service);
  if (config.exchange && offloaded.length) {
    warnings.push(
      `Exchange services ${offloaded.join(', ')} are SSL-offloaded: Extended Protection (on by default since Exchange 2019 CU14) ` +
        'must be off for them on the CAS, or use exchange.mode: bridge with the same certificate as Exchange',
    );
  }
  return warnings;
}

/** What an admin should read once a config is in effect (start and every reload): coverage, then warnings. */
export function logProvisioned(p: Provisioned, logger: Logger): void {
  for (const line of p.coverage) (line.startsWith('warning:') ? logger.warn : logger.info)(line.replace(/^warning: /, ''));
  for (const warning of p.warnings) logger.warn(warning);
}
