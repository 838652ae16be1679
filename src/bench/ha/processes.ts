// The processes of an HA run, each started inside its namespace with `ip netns exec` (which execs, so the pid is the
// process's own: kill -9 kills casgate itself). Output goes to a log file per process in the run's folder, read when
// something fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';

export class NsProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    namespace: string,
    argv: string[],
    readonly logFile: string,
    { stdin = 'ignore' as 'ignore' | 'pipe', stdout = 'file' as 'file' | 'pipe' } = {},
  ) {
    const fd = openSync(logFile, 'a');
    this.child = spawn('ip', ['netns', 'exec', namespace, ...argv], {
      stdio: [stdin, stdout === 'pipe' ? 'pipe' : fd, fd],
      // Its own process group: a Ctrl-C on the run reaches the run, which stops this child in order.
      detached: true,
    });
    closeSync(fd);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal`; after `graceMs` a SIGKILL. Resolves when the process has ended. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.running && this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

export async function waitFor(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
