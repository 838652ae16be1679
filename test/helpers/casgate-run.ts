// Runs the real `casgate run` as a child process (dist/cli.js), as an admin does, with a config object written to a
// temporary YAML file. Reads the ports from its "casgate listening" line; stop() sends SIGTERM and waits.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { stringify } from 'yaml';
import { eventually } from './eventually.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CasgateProcess {
  child: ChildProcess;
  file: string;
  httpsPort: number;
  adminPort: number;
  output(): string;
  /** Admin API call with the token; JSON body back. */
  admin(method: 'GET' | 'POST', path: string): Promise<{ status: number; json: unknown; text: string }>;
  /** Rewrites the config file (for reloads and restarts). */
  rewrite(config: Record<string, unknown>): void;
  stop(): Promise<number | null>;
}

/** `ulimit`: the child's descriptor limit (`ulimit -n`, soft and hard), for tests of running out of descriptors. */
export async function startCasgate(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, { ulimit }: { ulimit?: number } = {}): Promise<CasgateProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'casgate-run-'));
  const file = join(dir, 'casgate.yaml');
  writeFileSync(file, stringify(config));
  const argv = [CLI, 'run', '--config', file];
  const options = { stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } };
  const child =
    ulimit === undefined
      ? spawn(process.execPath, argv, options)
      : spawn('bash', ['-c', `ulimit -n ${ulimit} && exec "$0" "$@"`, process.execPath, ...argv], options);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const token = (config.admin as { token?: string } | undefined)?.token;
  try {
    const m = await eventually(() => /casgate listening https=127\.0\.0\.1:(\d+) .*admin=127\.0\.0\.1:(\d+)/.exec(out) ?? (child.exitCode !== null ? Promise.reject(new Error(out)) : null), {
      timeoutMs: 40_000,
      what: `casgate to listen: ${out}`,
    });
    const adminPort = Number(m[2]);
    return {
      child,
      file,
      httpsPort: Number(m[1]),
      adminPort,
      output: () => out,
      async admin(method, path) {
        const res = await request(`http://127.0.0.1:${adminPort}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
        const text = await res.body.text();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        return { status: res.statusCode, json, text };
      },
      rewrite: (next) => writeFileSync(file, stringify(next)),
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}
