// Certificates for `casgate lab`: a private CA ("casgate lab CA") and a server certificate for the lab's published
// names, exported as a legacy PFX like Exchange on Windows Server 2016 writes (see pfx-export.ts), so the lab
// exercises the same loading path as a production export. ca.crt is there for `curl --cacert` and for importing into
// a test machine's trust store. Made once; later runs reuse valid files and keep the CA, so a CA an admin already
// trusted stays trusted when the server certificate is renewed.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedCertificate } from './certificate.js';
import { issueCertificate, type GeneratedCertificate } from './generate.js';
import { certificateCovers } from './hostname-match.js';
import { exportLegacyPfx } from './pfx-export.js';
import { loadPfx } from './pfx.js';

export const LAB_PFX_PASSWORD = 'casgate-lab';
/**
 * Exchange's published names, then the Lync/Skype simple URLs and external web services the lab publishes to its
 * mock front end (seed 003). A lab certificate made before a name was added is remade (the CA is kept).
 */
export const LAB_HOSTNAMES = [
  'mail.contoso.lab',
  'autodiscover.contoso.lab',
  'meet.contoso.lab',
  'dialin.contoso.lab',
  'lyncdiscover.contoso.lab',
  'webext.contoso.lab',
] as const;
/** Renew the lab server certificate when it has less than this left, well before the expiry warning shows. */
const RENEW_BEFORE_DAYS = 60;
const DAY_MS = 86_400_000;

export interface LabCertificates {
  caCertFile: string;
  pfxFile: string;
  password: typeof LAB_PFX_PASSWORD;
}

export async function ensureLabCertificates(dir = 'certs/lab'): Promise<LabCertificates> {
  const files = {
    caCertFile: join(dir, 'ca.crt'),
    caKeyFile: join(dir, 'ca.key'),
    pfxFile: join(dir, `${LAB_HOSTNAMES[0]}.pfx`),
  };
  const result: LabCertificates = { caCertFile: files.caCertFile, pfxFile: files.pfxFile, password: LAB_PFX_PASSWORD };
  if (await labFilesValid(files)) return result;
  await mkdir(dir, { recursive: true });
  // The lab, the CLI and parallel test workers may all get here at once; one generates, the others wait and reuse.
  await withLock(join(dir, '.generating.lock'), async () => {
    if (await labFilesValid(files)) return;
    const ca =
      (await reusableCa(files)) ??
      issueCertificate({ commonName: 'casgate lab CA', organization: 'casgate lab', isCa: true, validDays: 3650 });
    const server = issueCertificate({
      commonName: LAB_HOSTNAMES[0],
      dnsNames: [...LAB_HOSTNAMES],
      organization: 'casgate lab',
      issuer: ca,
    });
    const pfx = exportLegacyPfx({
      keyPem: server.keyPem,
      certPems: [server.certPem, ca.certPem],
      password: LAB_PFX_PASSWORD,
      friendlyName: `casgate lab ${LAB_HOSTNAMES[0]}`,
    });
    await writeAtomically(files.caKeyFile, ca.keyPem, 0o600);
    await writeAtomically(files.caCertFile, ca.certPem, 0o644);
    await writeAtomically(files.pfxFile, pfx, 0o600);
  });
  return result;
}

async function labFilesValid(files: { caCertFile: string; pfxFile: string }): Promise<boolean> {
  if (!existsSync(files.caCertFile) || !existsSync(files.pfxFile)) return false;
  try {
    const ca = new X509Certificate(await readFile(files.caCertFile));
    const server = loadPfx(files.pfxFile, LAB_PFX_PASSWORD);
    const leaf = new X509Certificate(server.certPem);
    return (
      leaf.checkIssued(ca) &&
      leaf.verify(ca.publicKey) &&
      LAB_HOSTNAMES.every((host) => certificateCovers(server, host)) &&
      validFor(server, RENEW_BEFORE_DAYS)
    );
  } catch {
    return false; // unreadable or half-written files: make new ones
  }
}

/** Keeps the existing CA if its key is there and it outlives a new server certificate (825 days). */
async function reusableCa(files: { caCertFile: string; caKeyFile: string }): Promise<GeneratedCertificate | undefined> {
  try {
    const certPem = await readFile(files.caCertFile, 'utf8');
    const keyPem = await readFile(files.caKeyFile, 'utf8');
    const ca = new X509Certificate(certPem);
    const lifetime = new Date(ca.validTo).getTime() - Date.now();
    if (!ca.ca || lifetime < 830 * DAY_MS) return undefined;
    return ca.checkPrivateKey(createPrivateKey(keyPem)) ? { certPem, keyPem } : undefined;
  } catch {
    return undefined;
  }
}

function validFor(cert: Pick<LoadedCertificate, 'notBefore' | 'notAfter'>, days: number): boolean {
  const now = Date.now();
  return cert.notBefore.getTime() <= now && cert.notAfter.getTime() - now > days * DAY_MS;
}

/** Readers never see half a file: write beside it, then rename over it. */
async function writeAtomically(file: string, content: string | Buffer, mode: number): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, file);
}

/** An exclusive-create lock file; a lock older than a minute is left over from a crash and is taken over. */
async function withLock(lockFile: string, work: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 60_000) await rm(lockFile, { force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockFile}; delete it if no casgate is running`);
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    await work();
  } finally {
    await rm(lockFile, { force: true });
  }
}
