// The command an admin types: `casgate` on the PATH after the README's install step (`npm install -g .`, which
// links the clone as `npm link` does), the shebang and executable bit that make it run, and what `npm pack` ships.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { eventually } from '../helpers/eventually.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const prefix = mkdtempSync(join(tmpdir(), 'casgate-install-'));
afterAll(() => rmSync(prefix, { recursive: true, force: true }));

describe('casgate on the PATH', () => {
  test('npm install -g . puts a casgate command on the PATH that answers --version and -v', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    // --ignore-scripts: dist/ is already built by `pretest`; a real install runs `prepare`, which builds it.
    await run('npm', ['install', '-g', '.', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: ROOT });
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
    // Run through the shell's PATH lookup, as the admin does: this needs the shebang and the executable bit.
    const { stdout } = await run('sh', ['-c', 'casgate --version'], { env });
    expect(stdout.trim()).toBe(`casgate ${pkg.version} (node ${process.versions.node})`);
    const short = await run('sh', ['-c', 'casgate -v'], { env });
    expect(short.stdout).toBe(stdout);
    const help = await run('sh', ['-c', 'casgate --help'], { env });
    expect(help.stdout).toMatch(/Usage: casgate <verb>/);
  }, 60_000);

  test('npm pack ships the built command and the configs the README points at', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string; mode: number }> }>)[0]!.files;
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect(byPath.get('dist/cli.js')).toBeDefined();
    expect(byPath.get('dist/cli.js')!.mode & 0o111).not.toBe(0);
    for (const f of ['package.json', 'README.md', 'config/casgate.example.yaml', 'config/lab.yaml', 'bench/load/exchange-mix.yaml']) {
      expect(byPath.has(f), f).toBe(true);
    }
    expect([...byPath.keys()].filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  }, 60_000);

  // Issue 12's "done when": what `npm pack` makes, installed on a machine without the clone, runs the lab and both
  // shipped bench verbs. A file those verbs read that package.json `files` leaves out (config/lab.yaml,
  // config/lab-users.yaml, the mock CAS entry point, bench/load/exchange-mix.yaml) fails one of the steps below.
  test('the packed tarball, installed globally, runs casgate lab, bench load and bench failover outside the clone', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'casgate-tarball-'));
    const lab: { child?: ReturnType<typeof spawn> } = {};
    try {
      // --ignore-scripts: `prepare` would rebuild dist/ (emptying it first) under the other test files that run it;
      // `pretest` has just built it from these sources, which is what `prepare` would pack.
      const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: ROOT });
      const tarball = join(tmp, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
      const prefix = join(tmp, 'prefix');
      // From the tarball alone (no clone to link to); runtime dependencies from the npm cache when it has them.
      await run('npm', ['install', '-g', tarball, '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: tmp });
      const installed = join(prefix, 'lib', 'node_modules', 'casgate');
      expect(existsSync(join(installed, 'dist', 'cli.js'))).toBe(true);
      expect(existsSync(join(installed, '.git'))).toBe(false);

      const home = join(tmp, 'home');
      const state = join(tmp, 'state');
      const cwd = join(tmp, 'work');
      for (const d of [home, cwd]) mkdirSync(d);
      const env = { ...process.env, HOME: home, XDG_STATE_HOME: state, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
      const casgate = (args: string) => run('sh', ['-c', `casgate ${args}`], { cwd, env, timeout: 40_000, maxBuffer: 16 << 20 });

      // The lab, through the PATH, on free ports; its certificates in the user's state directory.
      const child = spawn('sh', ['-c', 'exec casgate lab --https-port 0 --http-port 0 --admin-port 0'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      lab.child = child;
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (err += d));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await eventually(() => out.includes('Ctrl-C stops') || child.exitCode !== null, { timeoutMs: 30_000, what: 'the lab to print its instructions' });
      expect(child.exitCode, err).toBeNull();
      const caFile = join(state, 'casgate', 'lab', 'ca.crt');
      expect(out).toContain(`Lab CA: ${caFile}`);
      expect(existsSync(join(installed, 'certs'))).toBe(false);
      const port = Number(/https:\/\/127\.0\.0\.1:(\d+)\/owa\//.exec(out)![1]);
      const ca = readFileSync(caFile, 'utf8');

      // One request, its TLS verified against the printed CA: the OWA logon redirect from a mock CAS behind it.
      const owa = await eventually(
        () =>
          new Promise<{ status: number; feServer: string }>((resolve, reject) => {
            const req = request({ host: '127.0.0.1', port, path: '/owa/', servername: 'mail.contoso.lab', ca }, (res) => {
              res.resume();
              resolve({ status: res.statusCode!, feServer: String(res.headers['x-feserver'] ?? '') });
            });
            req.on('error', reject);
            req.end();
          }).then((r) => (r.status === 302 ? r : undefined)),
        { timeoutMs: 20_000, what: 'a 302 from /owa/ through the lab' },
      );
      expect(owa.feServer).toMatch(/^cas\d$/i);

      // bench load with the Exchange mix the package ships, verified TLS, a few seconds.
      const mix = join(installed, 'bench', 'load', 'exchange-mix.yaml');
      const resultFile = join(tmp, 'load.json');
      const load = await casgate(
        `bench load --mix ${mix} --url https://127.0.0.1:${port} --servername mail.contoso.lab --ca ${caFile} ` +
          `--connections 4 --warmup 500ms --duration 2s --json ${resultFile}`,
      );
      expect(load.stdout).toMatch(/casgate bench load/);
      const result = JSON.parse(readFileSync(resultFile, 'utf8')) as { workload: string; requests: { ok: number; errors: number } };
      expect(result.workload).toBe('exchange-mix');
      expect(result.requests.ok).toBeGreaterThan(0);

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      lab.child = undefined;

      // bench failover builds its own lab (mock CAS child processes from the installed package); shortest schedule.
      const outDir = join(tmp, 'failover');
      const failover = await casgate(`bench failover --phase 1s --interval 200ms --concurrency 4 --pings 4 --tunnels 2 --out ${outDir}`);
      expect(failover.stdout).toMatch(/### casgate bench failover/);
      for (const f of ['result.json', 'summary.md', 'timeline.svg']) expect(existsSync(join(outDir, f)), f).toBe(true);
    } finally {
      lab.child?.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);
});
