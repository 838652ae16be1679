// Child processes and /proc readings for the bench verbs and harnesses: spawn with logs kept, CPU seconds and RSS of a
// process tree, wait for ports. Shipped (bench spray uses it); bench/peers and bench/pings import it from here.
// Processes under test: started pinned to a CPU with taskset, in the foreground, stopped by their PID; their CPU time
// and resident memory read from /proc for the whole process tree (nginx's master and worker, Node's threads).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, createWriteStream } from 'node:fs';
import net from 'node:net';

const CLK_TCK = 100; // USER_HZ on Linux; /proc/<pid>/stat counts in these ticks

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Last lines of stdout and stderr, for the report when something fails. */
  output(): string;
}

/** Starts `command args` pinned to `cpu` (taskset execs the command, so the PID is the command's own). */
export function startPinned(name: string, cpu: number | undefined, command: string, args: string[], logFile?: string): Started {
  const argv = cpu === undefined ? [command, ...args] : ['taskset', '-c', String(cpu), command, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const log = logFile ? createWriteStream(logFile) : undefined;
  const keep = (d: Buffer): void => {
    tail = (tail + d.toString()).slice(-4000);
    log?.write(d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
  return { name, child, pid: child.pid ?? -1, output: () => tail };
}

/** PID and all its descendants. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(parents.get(p) ?? []));
  }
  return out;
}

/** utime + stime of the tree, in seconds (all threads of each process are in its own stat line). */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of stat(5)
    } catch {
      // exited
    }
  }
  return ticks / CLK_TCK;
}

/** A loopback port that is free now, for a child process to listen on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** VmRSS of the tree in bytes. */
export function rssBytes(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // exited
    }
  }
  return kb * 1024;
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Polls until every port accepts connections; fails early if the process exits. */
export async function waitForPorts(p: Started, ports: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before listening: ${p.output().trim().slice(-600)}`);
    }
    const open = await Promise.all(ports.map((port) => portOpen(port)));
    if (open.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`${p.name} did not listen on ${ports.join(', ')} within ${timeoutMs} ms: ${p.output().trim().slice(-600)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM by PID, SIGKILL after a grace period; resolves when it has exited. */
export async function stop(p: Started, graceMs = 3000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Runs a command to completion (bounded in time), returning its exit code and output. */
export function runCommand(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
