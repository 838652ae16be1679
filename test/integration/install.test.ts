// The command an admin types: `casgate` on the PATH after the README's install step (`npm install -g .`, which
// links the clone as `npm link` does), the shebang and executable bit that make it run, and what `npm pack` ships.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';

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
});
