// Setting up a peers run: the tools (installed from Debian's packages when missing), the certificates (openssl CLI),
// the static files the backend serves, and the configs filled in from bench/peers/.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, startPinned, waitForPorts, type Started } from '../../src/bench/procs.js';
import { LOADGEN_CPU } from './measure.js';

export const TOOLS = { nginx: 'nginx-light', haproxy: 'haproxy', wrk: 'wrk', h2load: 'nghttp2-client' } as const;
export type Tool = keyof typeof TOOLS;

export async function which(cmd: string): Promise<string | undefined> {
  const r = await runCommand('sh', ['-c', `command -v ${cmd}`], 5000);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Installs missing tools with apt-get (as root only). Returns which tools are there afterwards, and what went wrong. */
export async function ensureTools(install: boolean, log: (s: string) => void): Promise<{ have: Set<Tool>; notes: string[] }> {
  const have = new Set<Tool>();
  const notes: string[] = [];
  const missing: Tool[] = [];
  for (const t of Object.keys(TOOLS) as Tool[]) ((await which(t)) ? have.add(t) : missing.push(t));
  if (missing.length > 0 && install) {
    if (process.getuid?.() !== 0) notes.push(`not root: cannot install ${missing.join(', ')}`);
    else {
      const pkgs = missing.map((t) => TOOLS[t]);
      log(`installing ${pkgs.join(' ')} with apt-get`);
      const env = 'DEBIAN_FRONTEND=noninteractive';
      const r = await runCommand('sh', ['-c', `apt-get update -qq && ${env} apt-get install -y -qq ${pkgs.join(' ')}`], 300_000);
      if (r.code !== 0) notes.push(`apt-get install ${pkgs.join(' ')} failed: ${r.stderr.trim().slice(-300)}`);
      for (const t of missing) if (await which(t)) have.add(t);
    }
  }
  for (const t of Object.keys(TOOLS) as Tool[]) if (!have.has(t)) notes.push(`${t} not available`);
  return { have, notes };
}

/** RSA-2048 and ECDSA P-256 self-signed leaves for 127.0.0.1/localhost, plus the cert+key PEMs HAProxy wants. */
export async function ensureCerts(out: string): Promise<void> {
  const subj = ['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '30', '-nodes'];
  const make = async (name: string, keyArgs: string[]): Promise<void> => {
    if (existsSync(path.join(out, `${name}.crt`)) && existsSync(path.join(out, `${name}.key`))) return;
    const r = await runCommand(
      'openssl',
      ['req', '-x509', ...keyArgs, '-keyout', path.join(out, `${name}.key`), '-out', path.join(out, `${name}.crt`), ...subj],
      60_000,
    );
    if (r.code !== 0) throw new Error(`openssl req for ${name} failed: ${r.stderr}`);
  };
  await make('rsa', ['-newkey', 'rsa:2048']);
  await make('ecdsa', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']);
  for (const name of ['rsa', 'ecdsa']) {
    const pem = readFileSync(path.join(out, `${name}.crt`), 'utf8') + readFileSync(path.join(out, `${name}.key`), 'utf8');
    writeFileSync(path.join(out, `${name}.pem`), pem);
  }
}

export function ensureFiles(out: string): void {
  for (const d of ['www', 'tmp', 'logs']) mkdirSync(path.join(out, d), { recursive: true });
  writeFileSync(path.join(out, 'www', 'static.bin'), Buffer.alloc(300, 'x'));
  writeFileSync(path.join(out, 'www', '1mib.bin'), Buffer.alloc(1 << 20, 'y'));
}

/** Copies a config from bench/peers to bench/out with its @NAME@ placeholders filled in. */
export function fillConfig(peersDir: string, out: string, template: string, target: string, vars: Record<string, string>): string {
  let text = readFileSync(path.join(peersDir, template), 'utf8');
  for (const [k, v] of Object.entries({ OUT: out, PEERS: peersDir, ...vars })) text = text.replaceAll(`@${k}@`, v);
  const file = path.join(out, target);
  writeFileSync(file, text);
  return file;
}

/** The backend every target forwards to: nginx if there is one (fast enough not to be the bottleneck), else node:http. */
export async function startBackend(have: Set<Tool>, peersDir: string, out: string): Promise<{ backend: Started; description: string }> {
  let backend: Started;
  let description: string;
  if (have.has('nginx')) {
    const conf = fillConfig(peersDir, out, 'nginx-backend.conf', 'nginx-backend.conf', {});
    backend = startPinned('backend', LOADGEN_CPU, 'nginx', ['-c', conf, '-p', out], path.join(out, 'logs', 'nginx-backend.log'));
    description = 'nginx (1 worker, static files, access log off) on CPU 1: bench/peers/nginx-backend.conf';
  } else {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node-backend.js');
    backend = startPinned('backend', LOADGEN_CPU, process.execPath, [script, out], path.join(out, 'logs', 'node-backend.log'));
    description = 'node:http (nginx not installed): expect it to bound the faster proxies';
  }
  await waitForPorts(backend, [18080, 18081, 18082]);
  return { backend, description };
}
