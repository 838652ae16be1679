// Runs a mock CAS as a child process of its own, so that the lab, the failover tests and the benchmarks can
// kill a real server. The child prints one JSON line when it listens (its ports may be ephemeral), and exits when
// our end of its stdin closes, so a parent that dies without killing it leaves no orphan.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MockCasProcess {
  name: string;
  httpPort: number;
  httpsPort: number;
  controlPort: number;
  fingerprint256: string;
  pid: number;
  child: ChildProcess;
  /** Exit code, or null when the process ended by a signal. */
  exited: Promise<number | null>;
  /** Send a signal (default SIGTERM); resolves like `exited`. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

// Compiled, this file sits beside mock-cas-main.js; loaded from src/ by the test runner, the child still runs the build.
const HERE = fileURLToPath(import.meta.url);
const MAIN = HERE.endsWith('.ts') ? join(dirname(HERE), '../../dist/lab/mock-cas-main.js') : join(dirname(HERE), 'mock-cas-main.js');

export function spawnMockCasProcess(
  name: string,
  {
    httpPort = 0,
    httpsPort = 0,
    timeoutMs = 15_000,
    script = MAIN,
  }: {
    httpPort?: number;
    httpsPort?: number;
    timeoutMs?: number;
    /** The built mock-cas-main.js to run; harnesses compiled elsewhere (bench/dist) pass the package's own. */
    script?: string;
  } = {},
): Promise<MockCasProcess> {
  const child = spawn(
    process.execPath,
    [script, '--name', name, '--http-port', String(httpPort), '--https-port', String(httpsPort), '--exit-with-stdin'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill('SIGKILL');
      reject(new Error(`mock CAS ${name} did not report listening within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mock CAS ${name} exited with ${code} before listening; stderr: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (event.event !== 'listening') return;
      clearTimeout(timer);
      resolve({
        name,
        httpPort: Number(event.httpPort),
        httpsPort: Number(event.httpsPort),
        controlPort: Number(event.controlPort),
        fingerprint256: String(event.fingerprint256),
        pid: child.pid ?? -1,
        child,
        kill,
        exited,
      });
    });
  });
}
