// Runs a mock CAS as a child process of its own, so that the lab, the failover tests and the benchmarks can
// kill a real server. The child prints one JSON line when it listens; its ports may be ephemeral.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface MockCasProcess {
  name: string;
  httpPort: number;
  httpsPort: number;
  controlPort?: number;
  fingerprint256: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

export function spawnMockCasProcess(
  name: string,
  { httpPort = 0, httpsPort = 0, timeoutMs = 15_000 }: { httpPort?: number; httpsPort?: number; timeoutMs?: number } = {},
): Promise<MockCasProcess> {
  const child = spawn(process.execPath, [CLI, 'mock-cas', '--name', name, '--http-port', String(httpPort), '--https-port', String(httpsPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mock CAS ${name} did not report listening within ${timeoutMs} ms`));
    }, timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mock CAS ${name} exited with code ${code} before listening`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let event: { event?: string; httpPort?: number; httpsPort?: number; controlPort?: number; fingerprint256?: string };
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      if (event.event !== 'listening') return;
      clearTimeout(timer);
      resolve({
        name,
        httpPort: event.httpPort!,
        httpsPort: event.httpsPort!,
        controlPort: event.controlPort,
        fingerprint256: event.fingerprint256!,
        pid: child.pid!,
        child,
        exited,
        kill: (signal: NodeJS.Signals = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}
