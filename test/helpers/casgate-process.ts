// A real `casgate run` child process (dist/cli.js) in front of mock CAS servers, for tests that look at the process
// itself: its descriptors (/proc/<pid>/fd), its sockets' TCP states (/proc/net/tcp), its descriptor limit (ulimit).
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { startCasgate } from './casgate-run.js';
import { baseConfig, deepMerge, type TestServer } from './gateway-harness.js';

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
  /** listen.trustForwardedFrom. */
  trustForwardedFrom?: string[];
}

export async function startCasgateProcess(servers: TestServer[], opts: CasgateProcessOptions = {}): Promise<CasgateProcess> {
  const config = deepMerge(baseConfig(servers), {
    // One process: these tests look at the process's own descriptors and sockets (workers would hold them instead).
    workers: 1,
    listen: { https: parse(`{ ${opts.https ?? ''} }`) as Record<string, unknown>, ...(opts.trustForwardedFrom ? { trustForwardedFrom: opts.trustForwardedFrom } : {}) },
    admin: { token: ADMIN_TOKEN },
    pools: { cas: { health: { enabled: false } } },
    exchange: { hostnames: ['mail.contoso.lab'] },
  });
  const run = await startCasgate(config, {}, { ulimit: opts.ulimit });
  const { child } = run;
  const pid = child.pid!;
  return {
    pid,
    httpsPort: run.httpsPort,
    adminPort: run.adminPort,
    file: run.file,
    output: run.output,
    signal: (name) => void child.kill(name),
    exitCode: () => child.exitCode,
    descriptors: () => readdirSync(`/proc/${pid}/fd`).length,
    stop: async () => void (await run.stop()),
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
