// Spawn a mock CAS as a real child process (dist/lab/mock-cas-main.js, so build first: `npm test` does) and wait for
// its listening line. For tests that must kill a server for real (failover) or keep it out of the test's event loop.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface SpawnedMockCas {
  name: string;
  httpPort: number;
  httpsPort: number;
  controlPort: number;
  fingerprint256: string;
  pid: number;
  /** Send a signal (default SIGTERM); resolves like `exited`. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Exit code, or null when the process ended by a signal. */
  exited: Promise<number | null>;
}

const MAIN = fileURLToPath(new URL('../../dist/lab/mock-cas-main.js', import.meta.url));

export function spawnMockCas(name: string, { timeoutMs = 15_000 }: { timeoutMs?: number } = {}): Promise<SpawnedMockCas> {
  // stdin stays a pipe: with --exit-with-stdin the child exits when this process dies without killing it.
  const child = spawn(process.execPath, [MAIN, '--name', name, '--http-port', '0', '--https-port', '0', '--exit-with-stdin'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
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
    createInterface({ input: child.stdout }).on('line', (line) => {
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
        kill,
        exited,
      });
    });
  });
}
