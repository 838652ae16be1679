// A real `casgate run` child process (dist/cli.js) in front of mock CAS servers, for tests that look at the process
// itself: its descriptors (/proc/<pid>/fd), its sockets' TCP states (/proc/net/tcp), its descriptor limit (ulimit).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';
import { testCertificates, type TestServer } from './gateway-harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const ADMIN_TOKEN = 'process-test-token-0123456789';

export interface CasgateProcess {
  pid: number;
  httpsPort: number;
  adminPort: number;
  /** The config file it runs with (a test may replace it, then reload). */
  file: string;
  output(): string;
  /** Sends a signal (SIGHUP: reload). */
  signal(name: NodeJS.Signals): void;
  /** null while the process runs. */
  exitCode(): number | null;
  /** Open descriptors of the process. */
  descriptors(): number;
  stop(): Promise<void>;
}

export interface CasgateProcessOptions {
  /** Extra keys under listen.https, as YAML flow entries (`handshakeTimeout: 2s`). */
  https?: string;
  /** `ulimit -n` for the child (soft and hard). */
  ulimit?: number;
}

export async function startCasgateProcess(servers: TestServer[], opts: CasgateProcessOptions = {}): Promise<CasgateProcess> {
  const certs = testCertificates();
  const file = join(mkdtempSync(join(tmpdir(), 'casgate-proc-')), 'casgate.yaml');
  writeFileSync(
    file,
    // One process: these tests look at the process's own descriptors and sockets (workers would hold them instead).
    `workers: 1
listen:
  https: { address: 127.0.0.1, port: 0${opts.https ? `, ${opts.https}` : ''} }
admin: { address: 127.0.0.1, port: 0, token: ${ADMIN_TOKEN} }
certificates:
  - { cert: ${certs.certFile}, key: ${certs.keyFile} }
pools:
  cas:
    health: { enabled: false }
    servers:
${servers.map((s) => `      - { name: ${s.name}, host: 127.0.0.1, port: ${s.httpPort}, httpsPort: ${s.httpsPort} }`).join('\n')}
exchange: { pool: cas, hostnames: [mail.contoso.lab] }
logging: { access: off }
`,
  );
  const child: ChildProcess =
    opts.ulimit === undefined
      ? spawn(process.execPath, [CLI, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('bash', ['-c', `ulimit -n ${opts.ulimit} && exec "$0" "$@"`, process.execPath, CLI, 'run', '--config', file], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = await eventually(() => /casgate listening https=127\.0\.0\.1:(\d+) .*admin=127\.0\.0\.1:(\d+)/.exec(out), {
    what: `casgate to listen (output so far: ${out})`,
    timeoutMs: 15_000,
  });
  const pid = child.pid!;
  return {
    pid,
    httpsPort: Number(listening[1]),
    adminPort: Number(listening[2]),
    file,
    output: () => out,
    signal: (name) => void child.kill(name),
    exitCode: () => child.exitCode,
    descriptors: () => readdirSync(`/proc/${pid}/fd`).length,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** TCP sockets in CLOSE-WAIT whose local port is `port` (the server's end of connections the client closed). */
export function closeWaitOn(port: number): number {
  const CLOSE_WAIT = '08';
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4) continue;
      const localPort = parseInt(fields[1]!.split(':')[1]!, 16);
      if (localPort === port && fields[3] === CLOSE_WAIT) n++;
    }
  }
  return n;
}
