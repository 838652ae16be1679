// The command line as an admin uses it: real processes running dist/cli.js.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request } from 'undici';
import { describe, expect, test } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));

async function casgate(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'casgate-cli-'));
  const file = join(dir, 'casgate.yaml');
  writeFileSync(file, text);
  return file;
}

describe('casgate check', () => {
  test('a valid config with a name no certificate covers: routes, coverage, exit 1; --allow-uncovered: exit 0', async () => {
    const certs = testCertificates();
    const file = writeConfig(`
certificates:
  - { cert: ${certs.certFile}, key: ${certs.keyFile} }
listen: {}
pools:
  cas: { servers: [{ name: cas1, host: 10.0.0.11 }] }
exchange:
  pool: cas
  hostnames: [mail.contoso.lab, autodiscover.contoso.lab, meet.contoso.lab]
`);
    const refused = await casgate(['check', '--config', file]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('error: no certificate covers meet.contoso.lab');
    const { code, stdout } = await casgate(['check', '--config', file, '--allow-uncovered']);
    expect(code).toBe(0);
    expect(stdout).not.toContain('error:');
    expect(stdout).toContain('configuration is valid (10 routes, 10 pools)');
    expect(stdout).toMatch(/route exchange\/owa: \*\/owa -> pool cas\/owa\n/);
    // /ecp is for the admin networks only (exchange.adminNetworks), in the order the defaults list them.
    expect(stdout).toMatch(/route exchange\/ecp: \*\/ecp -> pool cas\/ecp, only from 127\.0\.0\.0\/8, ::1\/128, 10\.0\.0\.0\/8, /);
    expect(stdout).toContain('clients: the TCP peer (no trusted proxies: X-Forwarded-For from clients decides nothing)');
    expect(stdout).toContain('HSTS: max-age=31536000');
    expect(stdout).toMatch(/mail\.contoso\.lab: covered by .*mail\.crt/);
    expect(stdout).toMatch(/meet\.contoso\.lab: NOT COVERED/);
    expect(stdout).toMatch(/warning: .*meet\.contoso\.lab/);
  });

  test('trusted proxies and the HSTS policy are said as they will apply', async () => {
    const certs = testCertificates();
    const file = writeConfig(`certificates:\n  - { cert: ${certs.certFile}, key: ${certs.keyFile} }\nlisten: { trustForwardedFrom: [10.0.0.5/32] }\n` +
      `tls: { hsts: { maxAge: 0 } }\npools:\n  cas: { servers: [{ name: cas1, host: h }] }\nexchange: { pool: cas, hostnames: [mail.contoso.lab] }\n`);
    const { code, stdout } = await casgate(['check', '--config', file]);
    expect(code).toBe(0);
    expect(stdout).toContain('clients: the TCP peer; behind 10.0.0.5/32 (trusted proxies), the address they name in X-Forwarded-For');
    expect(stdout).toContain('HSTS: off');
  });

  test('an invalid config: exit 1, every problem with its line and key path, nothing started', async () => {
    const file = writeConfig('listen: {}\ncertificates: []\npools:\n  cas:\n    servers:\n      - { name: cas1 }\n');
    const { code, stderr } = await casgate(['check', '--config', file]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:2: certificates: at least one certificate is required`);
    expect(stderr).toContain(`${file}:6: pools.cas.servers[0].host: required`);
  });

  test('every published name covered: exit 0; a certificate expiring within 30 days is warned about', async () => {
    const { issueCertificate } = await import('../../src/tls/generate.js');
    const soon = issueCertificate({ commonName: 'mail.contoso.lab', dnsNames: ['mail.contoso.lab'], validDays: 21 });
    const dir = mkdtempSync(join(tmpdir(), 'casgate-cli-'));
    writeFileSync(join(dir, 'soon.crt'), soon.certPem);
    writeFileSync(join(dir, 'soon.key'), soon.keyPem);
    const file = writeConfig(`certificates:\n  - { cert: ${dir}/soon.crt, key: ${dir}/soon.key }\nlisten: {}\npools:\n  cas: { servers: [{ name: cas1, host: h }] }\nexchange: { pool: cas, hostnames: [mail.contoso.lab] }\n`);
    const { code, stdout } = await casgate(['check', '--config', file]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/warning: .*soon\.crt.*: expires in 19 days/);
  });

  test('the shipped example config checks as the README shows', async () => {
    const ROOT = fileURLToPath(new URL('../../', import.meta.url));
    // Without the variables: refused, each unset variable named.
    const bare = await promisify(execFile)(process.execPath, [CLI, 'check', '--config', 'config/casgate.example.yaml'], { cwd: ROOT, env: { PATH: process.env.PATH } }).catch((e) => e as { code: number; stderr: string });
    expect((bare as { code: number }).code).toBe(1);
    for (const name of ['CASGATE_ADMIN_TOKEN', 'PFX_PASSWORD']) expect((bare as { stderr: string }).stderr).toContain(`environment variable ${name} is not set`);
    const readme = (await import('node:fs')).readFileSync(`${ROOT}README.md`, 'utf8');
    const block = /## Trying the example config[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const run = await promisify(execFile)('sh', ['-c', block.replace(/\bcasgate /g, `${process.execPath} ${CLI} `)], { cwd: ROOT });
    expect(run.stdout).toContain('mail.contoso.com: covered by');
    expect(run.stdout).toContain('meet.contoso.com: NOT COVERED');
  });

  test('a wrong PFX password: exit 1, the problem at its line and key, naming the file', async () => {
    const file = writeConfig(`certificates:\n  - { pfx: ${FIXTURES}legacy-rc2-3des.pfx, password: wrong }\nlisten: {}\npools:\n  cas: { servers: [{ name: cas1, host: h }] }\n`);
    const { code, stderr } = await casgate(['check', '--config', file]);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      `casgate: ${file}: invalid configuration`,
      `  - ${file}:2: certificates[0].pfx: ${FIXTURES}legacy-rc2-3des.pfx: wrong PFX password`,
    ]);
  });
});

describe('casgate cert inspect', () => {
  test('shows names, fingerprint and the legacy PFX encryption', async () => {
    // Password documented in test/fixtures/tls/README.md.
    const { code, stdout } = await casgate(['cert', 'inspect', `${FIXTURES}legacy-rc2-3des.pfx`, '--password', 'legacy-pass']);
    expect(code).toBe(0);
    expect(stdout).toContain('mail.contoso.com');
    expect(stdout).toMatch(/SHA-256/i);
    expect(stdout).toMatch(/RC2/);
  });
});

describe('help and usage', () => {
  test.each(['run', 'lab', 'check', 'cert', 'mock-cas'])('casgate %s --help exits 0 with usage', async (verb) => {
    const { code, stdout } = await casgate([verb, '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/usage/i);
  });

  test('an unknown verb is a usage error (exit 2)', async () => {
    const { code, stderr } = await casgate(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown verb "frobnicate"');
  });
});

describe('casgate lab', () => {
  test('starts mock CAS processes and casgate in front, serves /owa/, and stops everything on Ctrl-C', async () => {
    const child = spawn(process.execPath, [CLI, 'lab', '--https-port', '0', '--http-port', '0', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const port = await eventually(() => /casgate on https:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1], { timeoutMs: 20_000, what: 'the lab to print its port' });
      const res = await request(`https://127.0.0.1:${port}/owa/`, {
        dispatcher: new (await import('undici')).Agent({ connect: { rejectUnauthorized: false } }),
      });
      await res.body.dump();
      expect(res.statusCode).toBe(302);
      expect(res.headers['x-feserver']).toMatch(/^cas[12]$/);
      const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(2);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  }, 40_000);
});
