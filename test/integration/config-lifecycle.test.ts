// One config lifecycle: each broken config in test/fixtures/configs/broken/ gets the same verdict and the same
// problems from `casgate check`, from `casgate run` (which must exit without listening) and from a reload of a running
// casgate, by SIGHUP and by POST /api/reload (422); after every refused reload the proxy still serves its old config.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const TOKEN = 'lifecycle-test-token-0123456789';

/** Each fixture and the problems expected, in order (after `<config>` and `<root>` replace the paths). */
const CASES: Array<[file: string, problems: RegExp[]]> = [
  ['missing-ca.yaml', [/^<config>:10: pools\.cas\.tls\.ca: <root>\/tls\/no-such-ca\.crt: file not found$/]],
  ['ca-not-a-certificate.yaml', [/^<config>:10: pools\.cas\.tls\.ca: <root>\/tls\/README\.md: no PEM certificate .* in the CA file$/]],
  ['key-is-a-directory.yaml', [/^<config>:7: certificates\[0\]\.key: <root>\/tls: is a directory, not a certificate file$/]],
  ['key-not-a-key.yaml', [/^<config>:7: certificates\[0\]\.key: <root>\/tls\/ca\.crt: no PEM private key/]],
  ['key-mismatch.yaml', [/^<config>:7: certificates\[0\]\.key: <root>\/configs\/broken\/other\.key: private key does not match certificate <root>\/tls\/leaf\.crt$/]],
  ['wrong-pfx-password.yaml', [/^<config>:6: certificates\[0\]\.pfx: <root>\/tls\/legacy-rc2-3des\.pfx: wrong PFX password$/]],
  ['ticket-key-not-a-key.yaml', [/^<config>:8: tls\.ticketKeyFile: <root>\/configs\/broken\/other\.key: a TLS ticket key file holds 48 random bytes .*openssl rand 48 > ticket\.key$/]],
  ['worker-flag-unknown.yaml', [/^<config>:7: workerFlags: node refuses them: .*bad option: --no-such-casgate-flag$/]],
  ['ticket-key-missing.yaml', [/^<config>:8: tls\.ticketKeyFile: <root>\/configs\/broken\/no-such-ticket\.key: file not found$/]],
  ['ticket-key-short.yaml', [/^<config>:8: tls\.ticketKeyFile: <root>\/configs\/broken\/short-ticket\.key: a TLS ticket key file holds 48 random bytes; this one holds 64 hex digits, 32 bytes .*openssl rand 48 > ticket\.key$/]],
  ['ticket-key-is-a-directory.yaml', [/^<config>:8: tls\.ticketKeyFile: <root>\/tls: is a directory, not a certificate file$/]],
  ['missing-pfx.yaml', [/^<config>:6: certificates\[0\]\.pfx: <root>\/tls\/no-such\.pfx: file not found$/]],
  ['route-unknown-pool.yaml', [/^<config>:15: routes\[0\]\.pool: no pool named "lync" under pools$/]],
  ['duplicate-server-names.yaml', [/^<config>:12: pools\.cas\.servers\[1\]\.name: duplicate server name "cas1"$/]],
  ['duplicate-route-names.yaml', [/^<config>:16: routes\[1\]\.name: duplicate route name "web"$/]],
  ['port-out-of-range.yaml', [/^<config>:3: listen\.https\.port: expected a port from 0 to 65535$/, /^<config>:11: pools\.cas\.servers\[0\]\.port: expected a port from 1 to 65535$/]],
  ['server-host-not-a-name.yaml', [/^<config>:11: pools\.cas\.servers\[0\]\.host: expected an IP address or a DNS host name$/]],
  ['health-from-cycle.yaml', [/^<config>:13: pools\.a\.health\.from: health\.from forms a cycle: a -> b -> a$/, /^<config>:16: pools\.b\.health\.from: .*cycle/]],
  ['access-log-folder-missing.yaml', [/^<config>:13: logging\.access: .*folder <root>\/configs\/broken\/no-such-folder does not exist$/]],
  ['unset-environment-variable.yaml', [/^<config>:6: certificates\[0\]\.password: environment variable CASGATE_FIXTURE_UNSET_PASSWORD is not set$/]],
  [
    'duration-too-long.yaml',
    [/^<config>:9: pools\.cas\.health\.interval: at most 24d .*"30d"$/, /^<config>:15: exchange\.timeouts\.activesync\.firstByte: at most 24d .*"25d"$/],
  ],
  [
    'listeners-clash.yaml',
    [/^<config>:4: listen\.http\.address: expected an IP address/, /^<config>:5: admin\.port: port 18443 is already taken by listen\.https$/],
  ],
  ['yaml-syntax.yaml', [/^<config>:9: YAML syntax: /]],
  [
    'many-problems.yaml',
    [
      /^<config>:6: certificates\[0\]\.pfx: .*wrong PFX password$/,
      /^<config>:8: certificates\[1\]\.key: .*private key does not match certificate/,
      /^<config>:12: pools\.cas\.tls\.ca: .*file not found$/,
    ],
  ],
];

let root: string;
let broken: string;
let configFile: string;
let cas1: MockCas;
let child: ChildProcess;
let output = '';
let httpsPort: number;
let adminPort: number;
const agent = new Agent({ connect: { rejectUnauthorized: false } });

/** Paths differ between the fixture file and the running casgate's file, and between machines. */
function normalize(problem: string, file: string): string {
  return problem.split(file).join('<config>').split(root).join('<root>');
}

/** The `  - ` lines under `casgate: FILE: invalid configuration`. */
function refusal(stderr: string, file: string): string[] {
  const lines = stderr.trimEnd().split('\n');
  expect(lines[0]).toBe(`casgate: ${file}: invalid configuration`);
  return lines.slice(1).map((l) => normalize(l.replace(/^ {2}- /, ''), file));
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

function goodConfig(): string {
  return `workers: 1
listen:
  https: { address: 127.0.0.1, port: 0 }
admin: { address: 127.0.0.1, port: 0, token: ${TOKEN} }
certificates:
  - { pfx: ../../tls/legacy-rc2-3des.pfx, password: legacy-pass }
pools:
  cas:
    health: { enabled: false }
    servers:
      - { name: cas1, host: 127.0.0.1, port: ${cas1.httpPort} }
exchange: { pool: cas, hostnames: [mail.contoso.com] }
logging: { access: off }
`;
}

async function servedBy(): Promise<{ status: number; server: string }> {
  const res = await request(`https://127.0.0.1:${httpsPort}/owa/`, { dispatcher: agent, headers: { host: 'mail.contoso.com' } });
  await res.body.dump();
  return { status: res.statusCode, server: String(res.headers['x-feserver']) };
}

/** The problems the running casgate logged for its latest refused reload (the lines after "reload refused"). */
async function loggedRefusal(before: number): Promise<string[]> {
  return eventually(
    () => {
      const lines = output.split('\n');
      const starts = lines.flatMap((l, i) => (l.includes('reload refused; the running configuration stays') ? [i] : []));
      if (starts.length <= before) return undefined;
      const start = starts[starts.length - 1]!;
      const count = Number(/problems=(\d+)/.exec(lines[start]!)?.[1]);
      const problems = lines.slice(start + 1, start + 1 + count);
      if (problems.length < count || problems.some((l) => !/ ERROR /.test(l))) return undefined;
      return problems.map((l) => normalize(l.replace(/^\S+ ERROR {1,2}/, ''), configFile));
    },
    { what: 'the refused reload to be logged' },
  );
}

beforeAll(async () => {
  // A copy of the fixtures, so that the running casgate's own config file can sit next to them (same relative paths).
  root = realpathSync(mkdtempSync(join(tmpdir(), 'casgate-lifecycle-')));
  cpSync(join(FIXTURES, 'tls'), join(root, 'tls'), { recursive: true });
  cpSync(join(FIXTURES, 'configs', 'broken'), join(root, 'configs', 'broken'), { recursive: true });
  broken = join(root, 'configs', 'broken');
  configFile = join(broken, 'casgate.yaml');
  cas1 = await startMockCas({ name: 'cas1' });
  writeFileSync(configFile, goodConfig());
  child = spawn(process.execPath, [CLI, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const listening = await eventually(() => /casgate listening https=127\.0\.0\.1:(\d+) .*admin=127\.0\.0\.1:(\d+)/.exec(output), { what: 'casgate to listen' });
  httpsPort = Number(listening[1]);
  adminPort = Number(listening[2]);
  expect(await servedBy()).toEqual({ status: 302, server: 'cas1' });
});

afterAll(async () => {
  child?.kill('SIGTERM');
  await cas1?.close();
  await agent.close();
});

describe('a broken config gets one verdict from check, run and reload', () => {
  test.each(CASES)('%s', async (name, expected) => {
    const file = join(broken, name);

    const check = await cli(['check', '--config', file]);
    expect(check.code).toBe(1);
    const fromCheck = refusal(check.stderr, file);
    expect(fromCheck).toHaveLength(expected.length);
    fromCheck.forEach((p, i) => expect(p).toMatch(expected[i]!));

    const run = await cli(['run', '--config', file]);
    expect(run.code).toBe(1);
    expect(run.stderr + run.stdout).not.toContain('casgate listening');
    expect(refusal(run.stderr, file)).toEqual(fromCheck);

    writeFileSync(configFile, readFileSync(file));
    const before = output.split('reload refused; the running configuration stays').length - 1;
    child.kill('SIGHUP');
    expect(await loggedRefusal(before)).toEqual(fromCheck);
    expect(await servedBy()).toEqual({ status: 302, server: 'cas1' });

    const res = await request(`http://127.0.0.1:${adminPort}/api/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await res.body.json()) as { ok: boolean; problems: string[] };
    expect(res.statusCode).toBe(422);
    expect(body.ok).toBe(false);
    expect(body.problems.map((p) => normalize(p, configFile))).toEqual(fromCheck);
    expect(await servedBy()).toEqual({ status: 302, server: 'cas1' });
    expect(child.exitCode).toBeNull();
  });

  test('every refusal is counted; the good file reloads again', async () => {
    const metrics = await request(`http://127.0.0.1:${adminPort}/metrics`);
    const text = await metrics.body.text();
    expect(text).toContain(`casgate_config_reloads_total{result="refused"} ${2 * CASES.length}`);
    writeFileSync(configFile, goodConfig());
    const res = await request(`http://127.0.0.1:${adminPort}/api/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await res.body.json()).toEqual({ ok: true });
  });
});
